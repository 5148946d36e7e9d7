"""The MPD model: the lxml tree is the source of truth, with typed views over it for edits.

Everything the views do not name (unknown elements, attributes, namespaces, comments) stays
in the tree and is rendered as it was. The views are built lazily: ``Mpd`` resolves the MPD
attributes and Period timing when it is made, and the views below a Period read their
element only when asked (``functools.cached_property``).

A parsed ``Mpd`` keeps its tree read-only, so that ``render`` can return the origin bytes. An
edit works on ``mpd.copy_root()`` and wraps the result with ``Mpd.of(root)``.
"""

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from lxml.etree import _Element

from edge_assembler.core.dash.elements import (
    XLINK,
    Descriptor,
    base_urls,
    children,
    descriptors,
)
from edge_assembler.core.dash.values import datetime_attr, duration_attr, line_of
from edge_assembler.core.dash.views import (
    AdaptationSetView,
    EventStreamView,
    Level,
    RepresentationView,
)
from edge_assembler.core.errors import ManifestError


@dataclass(frozen=True, eq=False)
class PeriodView(Level):
    """A Period with its start and duration resolved (ISO/IEC 23009-1 §5.3.2.1), in seconds
    of MPD time; ``None`` when the MPD does not say (an open live Period)."""

    element: _Element
    index: int
    start: float | None
    duration: float | None

    @property
    def id(self) -> str | None:
        return self.element.get("id")

    @property
    def end(self) -> float | None:
        if self.start is None or self.duration is None:
            return None
        return self.start + self.duration

    @property
    def xlink_href(self) -> str | None:
        """A remote Period (ISO/IEC 23009-1 §5.5) not resolved in this document."""
        return self.element.get(XLINK + "href")

    @cached_property
    def adaptation_sets(self) -> tuple[AdaptationSetView, ...]:
        return tuple(AdaptationSetView(a, self) for a in children(self.element, "AdaptationSet"))

    @cached_property
    def event_streams(self) -> tuple[EventStreamView, ...]:
        return tuple(EventStreamView(e) for e in children(self.element, "EventStream"))

    @cached_property
    def asset_identifier(self) -> Descriptor | None:
        found = descriptors(self.element, "AssetIdentifier")
        return found[0] if found else None

    def representations(self) -> Iterator[RepresentationView]:
        for adaptation_set in self.adaptation_sets:
            yield from adaptation_set.representations


@dataclass(frozen=True, eq=False)
class Mpd:
    """An MPD. ``source_bytes`` is what ``render`` returns while the tree is the parsed one
    (``None`` once an edit built a new tree)."""

    root: _Element
    dynamic: bool
    periods: tuple[PeriodView, ...]
    media_presentation_duration: float | None
    availability_start_time: datetime | None
    publish_time: datetime | None
    minimum_update_period: float | None
    time_shift_buffer_depth: float | None
    base_urls: tuple[str, ...]
    profiles: tuple[str, ...]
    source_bytes: bytes | None
    repaired_prefixes: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        root: _Element,
        source_bytes: bytes | None = None,
        repaired_prefixes: tuple[str, ...] = (),
    ) -> "Mpd":
        """The views over the document whose root element is ``root``."""
        dynamic = _is_dynamic(root)
        total = duration_attr(root, "mediaPresentationDuration")
        elements = children(root, "Period")
        times = resolve_period_times(
            [(duration_attr(p, "start"), duration_attr(p, "duration")) for p in elements],
            dynamic=dynamic,
            total=total,
        )
        for period, pair in zip(elements, times, strict=True):
            if not all(math.isfinite(t) for t in pair if t is not None):
                raise ManifestError(line_of(period), "Period start or end out of range")
        return cls(
            root=root,
            dynamic=dynamic,
            periods=tuple(
                PeriodView(p, i, start, duration)
                for i, (p, (start, duration)) in enumerate(zip(elements, times, strict=True))
            ),
            media_presentation_duration=total,
            availability_start_time=datetime_attr(root, "availabilityStartTime"),
            publish_time=datetime_attr(root, "publishTime"),
            minimum_update_period=duration_attr(root, "minimumUpdatePeriod"),
            time_shift_buffer_depth=duration_attr(root, "timeShiftBufferDepth"),
            base_urls=base_urls(root),
            profiles=tuple(p.strip() for p in root.get("profiles", "").split(",") if p.strip()),
            source_bytes=source_bytes,
            repaired_prefixes=repaired_prefixes,
        )

    def copy_root(self) -> _Element:
        """A deep copy of the document (with the comments around the root) for an edit."""
        return copy.deepcopy(self.root.getroottree()).getroot()


def _is_dynamic(root: _Element) -> bool:
    kind = root.get("type", "static").strip()
    if kind not in {"static", "dynamic"}:
        raise ManifestError(line_of(root), f"MPD@type={kind[:40]!r} is not static or dynamic")
    return kind == "dynamic"


Times = tuple[float | None, float | None]


def resolve_period_times(
    explicit: list[Times], *, dynamic: bool, total: float | None
) -> list[Times]:
    """(start, duration) of every Period from their @start/@duration (ISO/IEC 23009-1
    §5.3.2.1, SPEC_RULES 75): a missing start is the previous start + previous duration
    (0 for the first Period of a static MPD); a missing duration is the next start - start,
    for the last Period mediaPresentationDuration - start. A start that only the following
    Periods determine (an unresolved xlink Period before a Period with only @duration) is
    worked back from them, so each Period gets every time the document implies."""
    starts = [start for start, _ in explicit]
    durations = [duration for _, duration in explicit]
    if starts and starts[0] is None and not dynamic:
        starts[0] = 0.0
    changed = True
    while changed:
        changed = _forward(starts, durations, total) | _backward(starts, durations, total)
    return list(zip(starts, durations, strict=True))


def _forward(
    starts: list[float | None], durations: list[float | None], total: float | None
) -> bool:
    changed = False
    last = len(starts) - 1
    for i, start in enumerate(starts):
        if start is None and i > 0:
            before, length = starts[i - 1], durations[i - 1]
            if before is not None and length is not None:
                starts[i] = start = before + length
                changed = True
        if durations[i] is None and start is not None:
            end = total if i == last else starts[i + 1]
            if end is not None:
                durations[i] = end - start
                changed = True
    return changed


def _backward(
    starts: list[float | None], durations: list[float | None], total: float | None
) -> bool:
    changed = False
    for i in reversed(range(len(starts))):
        end = total if i == len(starts) - 1 else starts[i + 1]
        length = durations[i]
        if starts[i] is None and end is not None and length is not None:
            starts[i] = end - length
            changed = True
    return changed
