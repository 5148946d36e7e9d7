"""Invariants an MPD keeps before it is served (DESIGN §4; SPEC_RULES J/K, ISO/IEC 23009-1).

``check`` returns messages, empty when all is well, each naming the rule and the place::

    SPEC_RULES 75: Period 2 (id 'ad', line 14): starts at 30.5 s, the previous Period ends at 30 s

Many origin MPDs break some of these already (see the corpus table in the tests), so a
caller that fails open should compare with ``check(origin)``: only what an edit added is its
fault. A value the check needs but cannot read is reported, never raised.

Decisions:

* Times are compared within ``TOLERANCE`` (1 ms): MPD durations are written in milliseconds
  or finer, so anything larger is a real gap or overlap.
* SPEC_RULES 79: a first segment that starts before the Period and straddles its start is
  legal (it is trimmed), so the check is that the first segment of a SegmentTimeline reaches
  past presentationTimeOffset; one that ends at or before it means a wrong offset. In a
  static MPD a first segment that starts after the Period start is a gap (SPEC_RULES 82).
* SPEC_RULES 80: only Periods tied as one asset (the same AssetIdentifier, SPEC_RULES 84, or
  period-continuity/connectivity, SPEC_RULES 83) share a media timeline; elsewhere media time
  may start again. Across tied Periods, a ``$Number$`` Representation (same media template,
  @id and BaseURLs) must pair segment numbers and media times one to one. Periods without an
  end are skipped (their segment count is not in the document).
"""

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from edge_assembler.core.dash.addressing import SegmentInfo
from edge_assembler.core.dash.elements import children, local_name
from edge_assembler.core.dash.model import Mpd, PeriodView
from edge_assembler.core.dash.timeline import (
    TimedSegment,
    TimelineEntry,
    segment_info,
    timed_segments,
    timeline_entries,
)
from edge_assembler.core.dash.values import duration_attr, line_of
from edge_assembler.core.errors import ManifestError

TOLERANCE = 0.001  # seconds
_CONNECTIVITY = frozenset(
    {"urn:mpeg:dash:period-connectivity:2015", "urn:mpeg:dash:period-continuity:2015"}
)

_Rule = Callable[[Mpd], Iterator[str]]


def check(mpd: Mpd) -> list[str]:
    """Every broken invariant of ``mpd``, as ``"<rule>: <place>: <what>"``."""
    problems: list[str] = []
    for label, rule in RULES:
        try:
            problems.extend(f"{label}: {text}" for text in rule(mpd))
        except ManifestError as exc:
            problems.append(f"{label}: cannot check: {exc}")
    return problems


def where(period: PeriodView) -> str:
    name = "" if period.id is None else f"id {period.id!r}, "
    return f"Period {period.index + 1} ({name}line {line_of(period.element)})"


def _presentation_type(mpd: Mpd) -> Iterator[str]:
    """ISO/IEC 23009-1 §5.3.1.2, IOP timing: what a static or dynamic MPD must state."""
    if not mpd.dynamic:
        last = mpd.periods[-1] if mpd.periods else None
        if mpd.media_presentation_duration is None and (last is None or last.duration is None):
            yield "static MPD without mediaPresentationDuration or a last Period@duration"
        return
    if mpd.availability_start_time is None:
        yield "dynamic MPD without availabilityStartTime"
    if mpd.publish_time is None:
        yield "dynamic MPD without publishTime (mandatory per DASH-IF IOP)"
    open_end = not mpd.periods or mpd.periods[-1].end is None
    if mpd.minimum_update_period is None and open_end:
        yield "dynamic MPD with an open end but no minimumUpdatePeriod (it would never update)"


def _period_order(mpd: Mpd) -> Iterator[str]:
    """ISO/IEC 23009-1 §5.3.2.1: Periods in order; in a static MPD contiguous from 0."""
    previous: PeriodView | None = None
    for period in mpd.periods:
        if period.start is None:
            if not mpd.dynamic:
                yield f"{where(period)}: its start cannot be resolved"
        elif previous is None:
            if not mpd.dynamic and abs(period.start) > TOLERANCE:
                yield f"{where(period)}: first Period of a static MPD, starts at {period.start:g} s"
        elif previous.start is not None:
            yield from _after(previous, previous.start, period, period.start, not mpd.dynamic)
        previous = period


def _after(
    previous: PeriodView, before: float, period: PeriodView, start: float, static: bool
) -> Iterator[str]:
    if start < before - TOLERANCE:
        yield f"{where(period)}: starts at {start:g} s, before {where(previous)} ({before:g} s)"
        return
    stated = duration_attr(previous.element, "duration")
    if static and stated is not None and abs(before + stated - start) > TOLERANCE:
        end = before + stated
        yield f"{where(period)}: starts at {start:g} s, the previous Period ends at {end:g} s"


def _total_duration(mpd: Mpd) -> Iterator[str]:
    """SPEC_RULES 75: in a static MPD, mediaPresentationDuration is the last Period's end."""
    total = mpd.media_presentation_duration
    if mpd.dynamic or total is None or not mpd.periods:
        return
    last = mpd.periods[-1]
    stated = duration_attr(last.element, "duration")
    if last.start is not None and last.start > total + TOLERANCE:
        yield f"{where(last)}: starts at {last.start:g} s, after the presentation end {total:g} s"
    elif last.start is not None and stated is not None:
        end = last.start + stated
        if abs(end - total) > TOLERANCE:
            yield f"mediaPresentationDuration {total:g} s, but {where(last)} ends at {end:g} s"


def _period_ids(mpd: Mpd) -> Iterator[str]:
    """ISO/IEC 23009-1 §5.3.2.2: Period@id is unique; required in a dynamic MPD."""
    counts = Counter(p.id for p in mpd.periods if p.id is not None)
    yield from (f"Period@id {pid!r} is used {n} times" for pid, n in counts.items() if n > 1)
    if mpd.dynamic:
        yield from (f"{where(p)}: no @id in a dynamic MPD" for p in mpd.periods if p.id is None)


def _set_ids(mpd: Mpd) -> Iterator[str]:
    """ISO/IEC 23009-1 §5.3.3.2 and §5.3.5.2: AdaptationSet@id and Representation@id are
    unique within a Period."""
    for period in mpd.periods:
        sets = Counter(a.id for a in period.adaptation_sets if a.id is not None)
        reps = Counter(r.id for r in period.representations() if r.id is not None)
        for kind, counts in (("AdaptationSet", sets), ("Representation", reps)):
            for ident, n in counts.items():
                if n > 1:
                    yield f"{where(period)}: {kind}@id {ident!r} is used {n} times"


def _templates(mpd: Mpd) -> Iterator[str]:
    """SPEC_RULES 81 (ISO/IEC 23009-1 §5.3.9.4-5.3.9.6): a template has a timing source,
    $Time$ only with a SegmentTimeline, never with $Number$; S elements do not overlap."""
    for place, info, entries in _addressings(mpd):
        media = info.media or ""
        if info.kind == "template" and info.duration is None and info.timeline is None:
            yield f"{place}: SegmentTemplate without @duration or SegmentTimeline"
        if info.kind == "template" and "$Time$" in media and info.timeline is None:
            yield f"{place}: $Time$ without SegmentTimeline"
        if "$Time$" in media and "$Number" in media:
            yield f"{place}: $Number$ and $Time$ in one template"
        yield from (f"{place}: {text}" for text in _overlaps(entries))


def _overlaps(entries: list[TimelineEntry]) -> Iterator[str]:
    end = 0
    for i, s in enumerate(entries):
        start = s.t if s.t is not None else end
        if i and start < end:
            yield f"S (line {line_of(s.element)}) starts at {start}, before the last S ends ({end})"
        end = start + (s.r + 1 if s.r >= 0 else 1) * s.d


def _offsets(mpd: Mpd) -> Iterator[str]:
    """SPEC_RULES 79: the first segment reaches past presentationTimeOffset (it may straddle
    the Period start; one that ends before it means a wrong offset)."""
    for place, info, entries in _addressings(mpd):
        first = entries[0] if entries else None
        if first is not None and (first.t or 0) + first.d <= info.presentation_time_offset:
            yield (
                f"{place}: the first segment ends at {(first.t or 0) + first.d}, "
                f"not after presentationTimeOffset {info.presentation_time_offset}"
            )


def _start_gaps(mpd: Mpd) -> Iterator[str]:
    """SPEC_RULES 82: in a static MPD a Representation covers its Period from the start."""
    if mpd.dynamic:
        return
    for place, info, entries in _addressings(mpd):
        first = entries[0] if entries else None
        if first is not None:
            gap = ((first.t or 0) - info.presentation_time_offset) / info.timescale
            if gap > TOLERANCE:
                yield f"{place}: the first segment starts {gap:g} s after the Period start"


def _addressings(mpd: Mpd) -> Iterator[tuple[str, SegmentInfo, list[TimelineEntry]]]:
    """The effective addressing of every Representation, once per lowest-level element, with
    its SegmentTimeline entries."""
    seen: set[int] = set()
    for period in mpd.periods:
        for representation in period.representations():
            info = segment_info(representation)
            if info.chain and id(info.chain[0]) not in seen:
                seen.add(id(info.chain[0]))
                element = info.chain[0]
                place = f"{where(period)}, {local_name(element)} line {line_of(element)}"
                timeline = info.timeline
                yield place, info, [] if timeline is None else timeline_entries(timeline)


def _numbering(mpd: Mpd) -> Iterator[str]:
    """SPEC_RULES 80: where Periods carry one asset (the same AssetIdentifier, or
    period-continuity/connectivity, SPEC_RULES 83/84), so that its media time runs on
    across them, a Representation's $Number$ and media time match one to one in all of them."""
    seen: dict[tuple[object, ...], _Numbers] = {}
    for period, asset in zip(mpd.periods, _assets(mpd), strict=True):
        if asset is None or period.duration is None:
            continue
        for representation in period.representations():
            media = segment_info(representation).media or ""
            if "$Number" not in media or "$Time$" in media:
                continue
            key = (asset, media, representation.id, period.base_urls, representation.base_urls)
            numbers = seen.setdefault(key, _Numbers())
            if not numbers.reported:
                yield from numbers.add(
                    period, representation.id, timed_segments(period, representation)
                )


@dataclass
class _Numbers:
    """The segments of one Representation across Periods, by media time and by number."""

    by_time: dict[int, tuple[int, PeriodView]] = field(default_factory=dict)
    by_number: dict[int, tuple[int, PeriodView]] = field(default_factory=dict)
    reported: bool = False

    def add(
        self, period: PeriodView, name: str | None, listed: list[TimedSegment]
    ) -> Iterator[str]:
        for seg in listed:
            number, there = self.by_time.setdefault(seg.time, (seg.number, period))
            time, other = self.by_number.setdefault(seg.number, (seg.time, period))
            if number != seg.number:
                clash = f"{where(there)} has segment {number} there"
            elif time != seg.time:
                clash = f"{where(other)} has it at {time}"
            else:
                continue
            self.reported = True
            yield (
                f"{where(period)}: Representation {name!r} has segment {seg.number} "
                f"at {seg.time}, {clash}"
            )
            return


def _assets(mpd: Mpd) -> list[object | None]:
    """The asset of each Period: its AssetIdentifier, else that of the Period it declares
    continuity or connectivity with, else ``None``."""
    assets: list[object | None] = []
    by_id: dict[str, object | None] = {}
    for period in mpd.periods:
        linked = (by_id.get(value or "") for _, value in _links(period))
        asset = period.asset_identifier or next((a for a in linked if a is not None), None)
        assets.append(asset)
        if period.id is not None:
            by_id[period.id] = asset
    return assets


def _links(period: PeriodView) -> Iterator[tuple[str, str | None]]:
    """(scheme, value) of the period-connectivity/continuity properties of ``period``."""
    for adaptation_set in period.adaptation_sets:
        for prop in children(adaptation_set.element, "SupplementalProperty"):
            scheme = prop.get("schemeIdUri", "")
            if scheme in _CONNECTIVITY:
                yield scheme, prop.get("value")


def _event_ids(mpd: Mpd) -> Iterator[str]:
    """SPEC_RULES 91 (ISO/IEC 23009-1 §5.10.2): Event@id is unique within an EventStream."""
    for period in mpd.periods:
        for stream in period.event_streams:
            counts = Counter(e.id for e in stream.events if e.id is not None)
            for ident, n in counts.items():
                if n > 1:
                    yield (
                        f"{where(period)}: EventStream {stream.scheme_id_uri!r} "
                        f"(line {line_of(stream.element)}) uses Event@id {ident!r} {n} times"
                    )


def _connectivity(mpd: Mpd) -> Iterator[str]:
    """SPEC_RULES 83: a period-connectivity/continuity value names an earlier Period@id."""
    earlier: set[str] = set()
    for period in mpd.periods:
        for scheme, value in _links(period):
            if value not in earlier:
                yield f"{where(period)}: {scheme} names {value!r}, not an earlier Period@id"
        if period.id is not None:
            earlier.add(period.id)


RULES: tuple[tuple[str, _Rule], ...] = (
    ("SPEC_RULES 74", _presentation_type),
    ("SPEC_RULES 75", _period_order),
    ("SPEC_RULES 75", _total_duration),
    ("SPEC_RULES 76", _period_ids),
    ("ISO 23009-1 5.3.3.2/5.3.5.2", _set_ids),
    ("SPEC_RULES 81", _templates),
    ("SPEC_RULES 79", _offsets),
    ("SPEC_RULES 82", _start_gaps),
    ("SPEC_RULES 80", _numbering),
    ("SPEC_RULES 91", _event_ids),
    ("SPEC_RULES 83", _connectivity),
)
