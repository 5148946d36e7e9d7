"""Period surgery shared by the DASH edits (ISO/IEC 23009-1 §5.3.2, §5.3.9; SPEC_RULES 75-83).

An edit describes its output as a list of ``Piece``s, each a Period element for the new
document (``content_pieces`` gives those of an MPD over a time span, whole or cut), and
``assemble`` writes them back; ``split`` is the plain case: one Period split at a segment
boundary common to its video and audio Representations (``snapped``).

* ``cut`` copies a Period reduced to a span of its own time. A span that starts inside the
  Period advances ``presentationTimeOffset`` by the start, in the timescale of every
  SegmentTemplate/SegmentList/SegmentBase in effect (SPEC_RULES 79), continues ``startNumber``
  (SPEC_RULES 80), splits SegmentTimelines (an ``S@r`` run split where needed, the first kept
  ``S`` with an explicit ``@t``) and SegmentLists, and keeps the Events that start in the span,
  rebased (SPEC_RULES 89). A value is written where the original states it, and on the lowest
  addressing element of a Representation wherever inheritance would give a wrong value.
  Segments that straddle a cut are listed on both sides: players trim them at the Period
  boundary (SPEC_RULES 79), which keeps audio, whose segments end on audio frames, exact.
  A ``$Number$`` template with ``@duration`` is cut at its own segment start when that lies
  within one audio frame of the cut, so numbers and media times stay paired (SPEC_RULES 80).
* ``assemble`` replaces the Period list: in a static MPD starts are contiguous from 0 and
  ``mediaPresentationDuration`` is the total; new and cut Periods get ``@start`` and
  ``@duration``, untouched ones keep their attributes (an explicit ``@start`` moved). A Period
  cut from the same origin Period right where the Period just before it ended declares
  ``urn:mpeg:dash:period-continuity:2015`` with that Period's ``@id`` on its AdaptationSets
  (ISO/IEC 23009-1 §5.3.2.4, DASH-IF IOP 4.3.3.3.2). SPEC_RULES 83: continuity is signalled
  for content→content only, never across a real ad, so content resumed after an inserted
  Period declares none; continuity and connectivity properties that no longer name an
  earlier Period are removed.

New Period ids are derived from the edit and a time on the origin's presentation timeline
(``derived_id``), never from a counter, so a live MPD gets the same ids on every update.
"""

import copy
import math
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from lxml import etree
from lxml.etree import _Element

from edge_assembler.core.dash.addressing import SegmentInfo, addressing_of, effective
from edge_assembler.core.dash.elements import children, local_name, namespace_of
from edge_assembler.core.dash.model import Mpd, PeriodView
from edge_assembler.core.dash.parse import PREFIX_NAMESPACES
from edge_assembler.core.dash.timeline import (
    TimelineEntry,
    audio_frame_duration,
    segment_boundaries,
    timeline_entries,
)
from edge_assembler.core.dash.values import duration_attr
from edge_assembler.core.edits.seams import TOLERANCE, EditError, Snap
from edge_assembler.core.errors import ManifestError

PERIOD_CONTINUITY: Final = "urn:mpeg:dash:period-continuity:2015"
PERIOD_CONNECTIVITY: Final = "urn:mpeg:dash:period-connectivity:2015"
DASHIF_ASSET_ID: Final = "urn:org:dashif:asset-id:2013"
SCTE35_NAMESPACE: Final = PREFIX_NAMESPACES["scte35"]
SAME_INSTANT: Final = 0.001  # seconds: MPD times are written in milliseconds or finer
_TEXT_TIMESCALE: Final = 1000  # SegmentBase added to a single-file Representation
# Attributes of the 5th edition that describe an uncut Period's first and last segment.
_EDGE_ATTRIBUTES: Final = ("eptDelta", "pdDelta", "presentationDuration")

# DASH-MPD.xsd child order (ISO/IEC 23009-1 Annex B): new children go in their place.
_PERIOD_ORDER: Final = (
    "BaseURL", "SegmentBase", "SegmentList", "SegmentTemplate", "AssetIdentifier",
    "EventStream", "ServiceDescription", "ContentProtection", "AdaptationSet", "Subset",
    "SupplementalProperty", "EmptyAdaptationSet", "GroupLabel", "Preselection",
)  # fmt: skip
_BASE_ORDER: Final = (
    "FramePacking", "AudioChannelConfiguration", "ContentProtection", "OutputProtection",
    "EssentialProperty", "SupplementalProperty", "InbandEventStream", "Switching",
    "RandomAccess", "GroupLabel", "Label", "ProducerReferenceTime", "ContentPopularityRate",
    "Resync",
)  # fmt: skip
_ORDERS: Final = {
    "Period": _PERIOD_ORDER,
    "AdaptationSet": (
        *_BASE_ORDER, "Accessibility", "Role", "Rating", "Viewpoint", "ContentComponent",
        "BaseURL", "SegmentBase", "SegmentList", "SegmentTemplate", "Representation",
    ),
    "Representation": (
        *_BASE_ORDER, "BaseURL", "ExtendedBandwidth", "SubRepresentation", "SegmentBase",
        "SegmentList", "SegmentTemplate",
    ),
}  # fmt: skip


def xs_duration(seconds: float) -> str:
    """``seconds`` as an xs:duration in seconds, to the microsecond: ``PT10S``, ``PT2.5S``."""
    text = f"{round(seconds, 6):.6f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


def derived_id(base: str, time: float) -> str:
    """A Period id from a name and a time on the origin's presentation timeline."""
    return f"{base}_{xs_duration(time)}"


def event_number(name: str) -> int:
    """An ``Event@id`` (xs:unsignedInt) for a name: the name itself when it is one."""
    if name.isascii() and name.isdigit() and int(name) < 1 << 32:
        return int(name)
    return zlib.crc32(name.encode())


# --- positions -----------------------------------------------------------------------------


def period_at(mpd: Mpd, time: float) -> PeriodView:
    """The Period that ``time`` (MPD time) falls in; a time at a Period end belongs to the
    next Period, the presentation end to the last."""
    found = None
    for period in mpd.periods:
        if period.start is not None and period.start <= time + SAME_INSTANT:
            found = period
    if found is None:
        raise EditError(f"no Period at {time:g} s")
    return found


def snap_offset(period: PeriodView, offset: float, mode: Snap, *, length: float) -> float:
    """``offset`` (seconds from the Period start) moved to a segment boundary common to the
    Period's video and audio Representations, or to the Period's start or end; a boundary
    less than ``TOLERANCE`` past ``offset`` counts as at it. A Period whose media is one
    segment per Representation (SegmentBase: the subsegments are in the index, not the MPD)
    is cut where asked."""
    if _single_segment_media(period):
        return min(max(offset, 0.0), length)
    until = length if period.duration is None else None
    found = segment_boundaries(period, until=until)
    candidates = sorted({0.0, length, *(b for b in found if 0 < b < length)})
    match mode:
        case "before":
            return max(b for b in candidates if b <= offset + TOLERANCE)
        case "after":
            return min((b for b in candidates if b >= offset - TOLERANCE), default=length)
        case "nearest":
            return min(candidates, key=lambda b: (abs(b - offset), b))


def snapped(mpd: Mpd, time: float, mode: Snap) -> tuple[float, PeriodView]:
    """``time`` (MPD time) moved to a segment boundary of the Period it falls in."""
    period = period_at(mpd, time)
    assert period.start is not None
    if period.duration is None:
        raise EditError(f"Period {period.index + 1} has no known duration")
    offset = snap_offset(period, time - period.start, mode, length=period.duration)
    return period.start + offset, period


def split(mpd: Mpd, time: float, mode: Snap = "nearest") -> Mpd:
    """``mpd`` with the Period that ``time`` falls in split at a segment boundary there
    (``snap_offset``): the first part keeps the Period's ``@id``, the second continues it
    (``content_pieces``, ``assemble``). At a Period boundary nothing is split."""
    root = mpd.copy_root()
    work = Mpd.of(root)
    at, _ = snapped(work, time, mode)
    return assemble(work, root, [*content_pieces(work, 0.0, at), *content_pieces(work, at, None)])


def exact_cuts(period: PeriodView) -> bool:
    """Whether every Representation can be cut off a segment boundary: SegmentTimelines
    list straddling segments explicitly, SegmentBase has no segment numbers; ``@duration``
    templates need cuts at their own boundaries (SPEC_RULES 80)."""
    return all(
        r.segment_info.timeline is not None or r.segment_info.kind == "base"
        for r in period.representations()
    )


def _single_segment_media(period: PeriodView) -> bool:
    media = [r for r in period.representations() if r.content_type in {"video", "audio"}]
    return bool(media) and all(r.segment_info.kind == "base" for r in media)


# --- cutting a Period ----------------------------------------------------------------------


class Cut(NamedTuple):
    element: _Element
    empty: bool  # a SegmentTimeline or SegmentList of the span lists no segment


def cut(
    period: PeriodView, start: float, end: float | None, *, drop: Collection[_Element] = ()
) -> Cut:
    """A copy of ``period`` reduced to seconds [start, end) of it (``end`` None: to its
    end), without the Events in ``drop``. ``@id``, ``@start`` and ``@duration`` are the
    caller's."""
    element = copy.deepcopy(period.element)
    twins = dict(zip(period.element.iter(), element.iter(), strict=True))
    empty = False
    if start > 0 or end is not None:
        empty = _cut_addressing(period, start, end, twins)
    _cut_events(period, start, end, twins, drop)
    return Cut(element, empty)


class _Change(NamedTuple):
    presentation_time_offset: int | None
    start_number: int | None
    entries: list[tuple[TimelineEntry, int, int | None, int | None]] | None  # S, t, r, n
    urls: tuple[int, int | None] | None  # SegmentURL index range


def _cut_addressing(
    period: PeriodView, start: float, end: float | None, twins: dict[_Element, _Element]
) -> bool:
    ancestors: dict[_Element, tuple[_Element, ...]] = {}
    # The addressing seen from each element: a Representation's own for its lowest one.
    infos: dict[_Element, SegmentInfo] = {}
    for representation in period.representations():
        info = representation.segment_info
        if not info.chain:
            if start > 0:
                _add_segment_base(twins[representation.element], start)
            continue
        infos.setdefault(info.chain[0], info)
        for i, owner in enumerate(info.chain):
            ancestors.setdefault(owner, info.chain[i + 1 :])
    lowest = set(infos)
    for owner in ancestors:
        if owner not in infos:
            infos[owner] = _effective_at(owner, period)
    tolerance = audio_frame_duration(period)
    written: dict[_Element, dict[str, int]] = {}
    empty = False
    # Highest levels first, so a lower level sees what its ancestors now inherit.
    for owner in sorted(ancestors, key=lambda e: len(ancestors[e])):
        info = infos[owner]
        change = _change(info, period, start, end, tolerance)
        values = {"presentationTimeOffset": change.presentation_time_offset}
        numbered = "$Number" in (info.media or "") or info.kind == "list"
        if numbered or owner.get("startNumber") is not None:
            values["startNumber"] = change.start_number
        twin = twins[owner]
        for name, value in values.items():
            if value is None:
                continue
            inherited = _inherited(name, ancestors[owner], written)
            if owner.get(name) is not None or (owner in lowest and inherited != value):
                twin.set(name, str(value))
                written.setdefault(owner, {})[name] = value
        for name in _EDGE_ATTRIBUTES:
            twin.attrib.pop(name, "")
        _rewrite_lists(owner, twin, info, change, infos)
        empty |= owner in lowest and _lists_nothing(info, change)
    return empty


def _effective_at(owner: _Element, period: PeriodView) -> SegmentInfo:
    """The addressing as seen from ``owner``'s level up to the Period."""
    levels = []
    level = owner.getparent()
    while level is not None:
        levels.append(addressing_of(level))
        if level is period.element:
            break
        level = level.getparent()
    return effective(tuple(levels))


def _inherited(
    name: str, above: tuple[_Element, ...], written: dict[_Element, dict[str, int]]
) -> int:
    for element in above:
        if name in written.get(element, {}):
            return written[element][name]
        if element.get(name) is not None:
            return int(element.get(name, "0"))
    return 1 if name == "startNumber" else 0


def _change(
    info: SegmentInfo, period: PeriodView, start: float, end: float | None, tolerance: float
) -> _Change:
    scale, pto = info.timescale, info.presentation_time_offset
    low = pto + round(start * scale) if start > 0 else None
    high = pto + round(end * scale) if end is not None else None
    if info.timeline is not None:
        stop = None if period.duration is None else pto + round(period.duration * scale)
        kept, first, urls = _cut_timeline(
            timeline_entries(info.timeline), info.start_number, low, high, stop
        )
        return _Change(low, first, kept, urls)
    if info.duration is not None:
        d = info.duration
        skipped, offset = 0, low
        if low is not None:
            skipped = round((low - pto) / d)
            if abs(low - pto - skipped * d) <= max(1, round(tolerance * scale)):
                offset = pto + skipped * d
            else:
                skipped = (low - pto) // d
        last = None if high is None else -((pto - high) // d)
        return _Change(offset, info.start_number + skipped, None, (skipped, last))
    return _Change(low, None, None, None)


def _cut_timeline(
    entries: list[TimelineEntry], number: int, low: int | None, high: int | None, stop: int | None
) -> tuple[list[tuple[TimelineEntry, int, int | None, int | None]], int | None, tuple[int, int]]:
    """The S entries of the segments that overlap [low, high) ticks, as (S, t, r, n) with
    r None for an open run kept open; the number of the first kept segment; the index range
    of the kept segments (for SegmentURLs)."""
    kept: list[tuple[TimelineEntry, int, int | None, int | None]] = []
    first: int | None = None
    index, time = 0, 0
    range_start, range_end = 0, 0
    for i, s in enumerate(entries):
        time = s.t if s.t is not None else time
        number = s.n if s.n is not None else number
        count = _count(entries, i, time, high if high is not None else stop)
        skip = 0 if low is None or low <= time else (low - time) // s.d
        upto = count if high is None else min(_or(count), -((time - high) // s.d))
        if upto is None or skip < upto:
            if first is None:
                first, range_start = number + skip, index + skip
            repeats = None if upto is None else upto - skip - 1
            n = None if s.n is None else s.n + skip
            kept.append((s, time + skip * s.d, repeats, n))
            range_end = index + (upto if upto is not None else skip + 1)
        if count is None:
            break
        index, time, number = index + count, time + count * s.d, number + count
    return kept, first, (range_start, range_end)


def _or(count: int | None) -> int:
    return count if count is not None else 1 << 62


def _count(entries: list[TimelineEntry], i: int, time: int, stop: int | None) -> int | None:
    """Segments of S ``i``: @r + 1, or for @r = -1 up to the next S@t or ``stop``."""
    s = entries[i]
    if s.r >= 0:
        return s.r + 1
    following = entries[i + 1].t if i + 1 < len(entries) else None
    limit = following if following is not None else stop
    return None if limit is None else max(-((time - limit) // s.d), 0)


def _rewrite_lists(
    owner: _Element,
    twin: _Element,
    info: SegmentInfo,
    change: _Change,
    infos: dict[_Element, SegmentInfo],
) -> None:
    """Rewrite the SegmentTimeline and SegmentURLs that ``owner`` holds."""
    if change.entries is not None:
        if children(owner, "SegmentTimeline"):
            _rewrite_timeline(children(twin, "SegmentTimeline")[0], change.entries)
        elif info.timeline is not None:
            # Inherited: the owner's rewrite serves this level only if its ticks are alike.
            holder = info.timeline.getparent()
            mine = (info.timescale, info.presentation_time_offset)
            if holder in infos and _ticks(infos[holder]) != mine:
                raise EditError("a SegmentTimeline inherited across timescales cannot be cut")
    urls = children(twin, "SegmentURL")
    if urls and change.urls is not None:
        first, last = change.urls
        for url in urls[:first] + (urls[last:] if last is not None else []):
            remove(url)


def _ticks(info: SegmentInfo) -> tuple[int, int]:
    return info.timescale, info.presentation_time_offset


def _lists_nothing(info: SegmentInfo, change: _Change) -> bool:
    """A SegmentTimeline or SegmentList of the span without any segment."""
    if change.entries is not None and not change.entries:
        return True
    if info.kind != "list" or change.urls is None:
        return False
    first, last = change.urls
    return (last is not None and last <= first) or len(info.segment_urls) <= first


def _rewrite_timeline(
    timeline: _Element, kept: list[tuple[TimelineEntry, int, int | None, int | None]]
) -> None:
    old = children(timeline, "S")
    tails = [s.tail for s in old]
    for s in old:
        timeline.remove(s)
    for position, (entry, t, repeats, n) in enumerate(kept):
        s = copy.deepcopy(entry.element)
        s.tail = tails[min(position, len(tails) - 1)] if position < len(kept) - 1 else tails[-1]
        if position == 0 or entry.t is not None:
            rest = [(k, v) for k, v in s.attrib.items() if k != "t"]
            s.attrib.clear()
            s.set("t", str(t))  # first, as packagers write it
            for key, value in rest:
                s.set(key, value)
        if repeats is None:
            s.set("r", "-1")
        elif repeats > 0:
            s.set("r", str(repeats))
        else:
            s.attrib.pop("r", "")
        if n is not None:
            s.set("n", str(n))
        timeline.append(s)


def _add_segment_base(representation: _Element, start: float) -> None:
    """A single-file Representation (a sidecar subtitle) starts ``start`` into its file."""
    base = representation.makeelement(namespace_of(representation) + "SegmentBase", {})
    base.set("timescale", str(_TEXT_TIMESCALE))
    base.set("presentationTimeOffset", str(round(start * _TEXT_TIMESCALE)))
    insert_child(representation, base)


def _cut_events(
    period: PeriodView,
    start: float,
    end: float | None,
    twins: dict[_Element, _Element],
    drop: Collection[_Element],
) -> None:
    """SPEC_RULES 89: Events stay in the span their time falls in, rebased to its start."""
    for stream in period.event_streams:
        try:
            scale, offset = stream.timescale, stream.presentation_time_offset
            events = [(e, e.presentation_time) for e in stream.events]
        except ManifestError:
            continue  # an unreadable stream stays as it is
        shift = round(start * scale)
        for event, time in events:
            at = (time - offset) / scale
            inside = at >= start - SAME_INSTANT and (end is None or at < end - SAME_INSTANT)
            twin = twins[event.element]
            if not inside or event.element in drop:
                remove(twin)
            elif shift:
                twin.set("presentationTime", str(max(time - shift, offset)))


# --- assembling ----------------------------------------------------------------------------


@dataclass
class Piece:
    """A Period of the output."""

    element: _Element
    duration: float | None
    fresh: bool  # cut or inserted: @start and @duration are written
    start: float | None = None  # the output start; None: after the previous piece (static)
    origin: tuple[str, int] | None = None  # (source key, Period index) it was cut from
    span: tuple[float, float | None] = (0.0, None)  # seconds of that Period
    max_segment: float = 0.0  # longest inserted segment (MPD@maxSegmentDuration)
    empty: bool = False  # a timeline or list of the piece lists no segment
    foreign: bool = False  # from another document: indented anew


class _Placed(NamedTuple):
    piece: Piece
    start: float


def content_pieces(
    mpd: Mpd,
    start: float,
    end: float | None,
    *,
    key: str = "self",
    drop: Collection[_Element] = (),
    own: bool = True,
) -> list[Piece]:
    """The Periods of ``mpd`` over MPD time [start, end): whole Periods as they are (copies
    unless ``own``: the tree being edited), the Periods at either edge cut there (the caller
    puts ``start`` and ``end`` on segment boundaries). A Period cut after its start gets
    ``derived_id(its id, the cut time)``."""
    pieces = []
    for period in mpd.periods:
        if period.start is None:
            raise EditError(f"Period {period.index + 1} has no resolvable start")
        length = period.duration
        begin = max(start - period.start, 0.0)
        stop = None if end is None else end - period.start
        if stop is not None and length is not None and stop >= length - SAME_INSTANT:
            stop = None
        if (length is not None and begin >= length - SAME_INSTANT) or (
            stop is not None and stop <= begin + SAME_INSTANT
        ):
            continue
        pieces.append(_content_piece(period, begin, stop, key, drop, own))
    return pieces


def _content_piece(
    period: PeriodView,
    begin: float,
    stop: float | None,
    key: str,
    drop: Collection[_Element],
    own: bool,
) -> Piece:
    assert period.start is not None
    begin = 0.0 if begin <= SAME_INSTANT else begin
    end = stop if stop is not None else period.duration
    size = None if end is None else end - begin
    origin = (key, period.index)
    fresh = begin > 0 or stop is not None
    if not fresh and own and not _holds(period, drop):
        return Piece(period.element, size, False, period.start, origin, (0.0, end))
    result = cut(period, begin, stop, drop=drop)
    if begin > 0 and period.id is not None:
        result.element.set("id", derived_id(period.id, period.start + begin))
    return Piece(
        result.element, size, fresh, period.start + begin, origin, (begin, end), empty=result.empty
    )


def _holds(period: PeriodView, drop: Collection[_Element]) -> bool:
    return any(e.element in drop for s in period.event_streams for e in s.events)


def assemble(mpd: Mpd, root: _Element, pieces: Sequence[Piece]) -> Mpd:
    """Replace the Periods of ``root`` (a copy of ``mpd``'s tree) with ``pieces``."""
    old = children(root, "Period")
    if not old:
        raise EditError("the MPD has no Period")
    space, closing = space_before(old[0]), old[-1].tail
    unit = _indent_unit(old[0], space)
    at = root.index(old[0])
    for element in old:
        root.remove(element)
    for offset, piece in enumerate(pieces):
        root.insert(at + offset, piece.element)
        piece.element.tail = space
        if piece.foreign and space is not None and unit is not None:
            _reindent(piece.element, space, unit)
    if pieces:
        pieces[-1].element.tail = closing
    placed = _place(mpd, pieces)
    _unique_period_ids(placed)
    for item in placed:
        _write_times(item)
    _link(placed)
    if not mpd.dynamic:
        _write_total(root, placed)
    _raise_max_segment(root, max((p.max_segment for p in pieces), default=0.0))
    return Mpd.of(root)


def _place(mpd: Mpd, pieces: Sequence[Piece]) -> list[_Placed]:
    """Output starts: contiguous from 0 in a static MPD (SPEC_RULES 75), as given in a
    dynamic one (Period@start never moves across updates, SPEC_RULES 77)."""
    placed = []
    cursor = 0.0
    for piece in pieces:
        start = piece.start if mpd.dynamic and piece.start is not None else cursor
        placed.append(_Placed(piece, start))
        cursor = start + (piece.duration or 0.0)
    return placed


def _write_times(item: _Placed) -> None:
    element, piece = item.piece.element, item.piece
    if piece.fresh or element.get("start") is not None:
        current = duration_attr(element, "start")
        if current is None or abs(current - item.start) > SAME_INSTANT / 10:
            element.set("start", xs_duration(item.start))
    if piece.fresh and piece.duration is not None:
        element.set("duration", xs_duration(piece.duration))


def _unique_period_ids(placed: list[_Placed]) -> None:
    """ISO/IEC 23009-1 §5.3.2.2: Period@id is unique; a repeat gets ``-2``, ``-3``, ..."""
    seen: set[str] = set()
    for item in placed:
        ident = item.piece.element.get("id")
        if ident is None:
            continue
        base, n = ident, 1
        while ident in seen:
            n += 1
            ident = f"{base}-{n}"
        if ident != base:
            item.piece.element.set("id", ident)
        seen.add(ident)


def _link(placed: list[_Placed]) -> None:
    """Period continuity where the media continues; stale links removed (SPEC_RULES 83)."""
    earlier: set[str] = set()
    for i, item in enumerate(placed):
        piece = item.piece
        previous = placed[i - 1].piece if i else None
        before = previous if previous is not None and _continues(previous, piece) else None
        name = None if before is None else before.element.get("id")
        for adaptation_set in children(piece.element, "AdaptationSet"):
            for prop in children(adaptation_set, "SupplementalProperty"):
                linked = prop.get("schemeIdUri") in {PERIOD_CONTINUITY, PERIOD_CONNECTIVITY}
                if linked and prop.get("value") not in earlier:
                    remove(prop)
            if name is not None and adaptation_set.get("id") is not None:
                _declare_continuity(adaptation_set, name)
        ident = piece.element.get("id")
        if ident is not None:
            earlier.add(ident)


def _continues(before: Piece, after: Piece) -> bool:
    """``after`` is cut from the Period ``before`` is cut from, right where it ends."""
    end = before.span[1]
    return (
        after.origin is not None
        and before.origin == after.origin
        and end is not None
        and abs(end - after.span[0]) <= SAME_INSTANT
    )


def _declare_continuity(adaptation_set: _Element, name: str) -> None:
    for prop in children(adaptation_set, "SupplementalProperty"):
        if prop.get("schemeIdUri") == PERIOD_CONTINUITY and prop.get("value") == name:
            return
    prop = adaptation_set.makeelement(
        namespace_of(adaptation_set) + "SupplementalProperty",
        {"schemeIdUri": PERIOD_CONTINUITY, "value": name},
    )
    insert_child(adaptation_set, prop)


def _write_total(root: _Element, placed: list[_Placed]) -> None:
    last = placed[-1]
    if last.piece.duration is None:
        return
    total = last.start + last.piece.duration
    stated = duration_attr(root, "mediaPresentationDuration")
    if stated is not None and abs(stated - total) <= SAME_INSTANT / 10:
        return  # unchanged: the origin's text stays
    if stated is not None or last.piece.element.get("duration") is None:
        root.set("mediaPresentationDuration", xs_duration(total))


def _raise_max_segment(root: _Element, longest: float) -> None:
    """ISO/IEC 23009-1 §5.3.1.2: MPD@maxSegmentDuration bounds every segment."""
    stated = duration_attr(root, "maxSegmentDuration")
    if stated is not None and longest > stated + SAME_INSTANT:
        root.set("maxSegmentDuration", xs_duration(math.ceil(longest * 1000) / 1000))


# --- tree helpers --------------------------------------------------------------------------


def remove(element: _Element) -> None:
    """Remove ``element``, keeping the indentation of what follows it."""
    parent = element.getparent()
    if parent is None:
        return
    previous = element.getprevious()
    if element.getnext() is None:
        if previous is not None:
            previous.tail = element.tail
        else:
            parent.text = element.tail
    parent.remove(element)


def insert_child(parent: _Element, child: _Element, *, first: bool = False) -> None:
    """Insert ``child`` where DASH-MPD.xsd puts it among ``parent``'s children (before the
    first child that comes later; ``first``: before the first of its own name as well),
    indented like its siblings."""
    order = _ORDERS.get(local_name(parent), ())
    name = local_name(child)
    rank = order.index(name) if name in order else len(order)
    later = (
        c
        for c in parent.iterchildren(etree.Element)
        if local_name(c) in order
        and (order.index(local_name(c)) > rank or (first and order.index(local_name(c)) == rank))
    )
    following = next(later, None)
    if following is not None:
        previous = following.getprevious()
        space = parent.text if previous is None else previous.tail
        following.addprevious(child)
        child.tail = space if _blank(space) else None
        return
    _append(parent, child)


def _append(parent: _Element, child: _Element) -> None:
    items = list(parent)
    if items:
        last = items[-1]
        before = items[-2].tail if len(items) > 1 else parent.text
        child.tail = last.tail
        if _blank(before):
            last.tail = before
    parent.append(child)


def new_child(parent: _Element, name: str) -> _Element:
    element = parent.makeelement(namespace_of(parent) + name, {})
    insert_child(parent, element)
    return element


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def space_before(element: _Element) -> str | None:
    """The text between ``element`` and the node before it."""
    previous = element.getprevious()
    parent = element.getparent()
    return previous.tail if previous is not None else None if parent is None else parent.text


def _indent_unit(period: _Element, space: str | None) -> str | None:
    """One level of the document's indentation, read off a Period and its first child."""
    inner = period.text
    if space is None or inner is None or "\n" not in space or not inner.startswith(space):
        return None
    unit = inner[len(space) :]
    return unit if unit and not unit.strip() else None


def _reindent(element: _Element, space: str, unit: str) -> None:
    """Whitespace between elements set by depth (text content left alone)."""
    items = list(element)
    if not _blank(element.text):
        return
    if not items:
        if element.text is not None and "\n" in element.text:
            element.text = space  # an empty element written over two lines
        return
    inner = space + unit
    element.text = inner
    for item in items:
        if _blank(item.tail):
            item.tail = inner
        _reindent(item, inner, unit)
    if _blank(items[-1].tail):
        items[-1].tail = space


def indent(element: _Element) -> None:
    """Indent a new subtree like the document around it (tabs or spaces, one level more
    per depth), when the whitespace before ``element`` is an indentation."""
    space = space_before(element)
    if space is None or "\n" not in space or space.strip():
        return
    _reindent(element, space, "\t" if space.endswith("\t") else "  ")
