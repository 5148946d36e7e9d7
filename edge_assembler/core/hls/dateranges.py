"""Ad breaks signalled with ``EXT-X-DATERANGE`` (SPEC_RULES 40-41, BIS §4.4.5.1.1).

The tags carry ``SCTE35-OUT`` / ``-IN`` / ``-CMD``; tags of one ID are merged (BIS
§4.4.5.1: later tags may add attributes) and the Date Range is placed by its dates when
the playlist has PROGRAM-DATE-TIME, else by where its tags stand. ``cues`` reads the
in-segment markers and merges both families.
"""

from collections.abc import Sequence
from typing import Final, NamedTuple

from edge_assembler.core.hls.dates import epoch, parse_seconds
from edge_assembler.core.hls.signals import Kind, avail_kinds, lenient_attributes, splice_info
from edge_assembler.core.hls.window import SAME_INSTANT, Window
from edge_assembler.core.scte35 import TIME_SIGNAL, SpliceInfo


class RangeBreak(NamedTuple):
    """A break one Date Range signals, placed in the window (``cues`` makes it a ``Break``
    of dialect "daterange")."""

    ident: str  # the ID
    start: int  # first segment of the break (0 when the window starts inside it)
    end: int  # first segment after it (len(segments) while it is still open)
    elapsed: float  # break time before the window
    closed: bool
    signalled: float | None
    scte35: SpliceInfo | None
    start_date: str | None  # the START-DATE as written


class _Range(NamedTuple):
    """The tags of one DATERANGE ID, merged (BIS §4.4.5.1: later tags may add attributes)."""

    ident: str
    attributes: dict[str, str]
    out_at: int | None
    in_at: int | None
    out_cue: SpliceInfo | None
    in_cue: SpliceInfo | None


def daterange_breaks(window: Window, tags: Sequence[tuple[int, str]]) -> list[RangeBreak]:
    """The breaks the DATERANGE tags signal (``tags``: each with the segment it precedes and
    its attribute list)."""
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for index, value in tags:
        attributes = lenient_attributes(value)[1]
        ident = attributes.get("ID")
        if ident:
            groups.setdefault(ident, []).append((index, attributes))
    found = (_daterange_break(window, _merge(k, v)) for k, v in groups.items())
    return [brk for brk in found if brk is not None]


def _merge(ident: str, tags: Sequence[tuple[int, dict[str, str]]]) -> _Range:
    merged: dict[str, str] = {}
    out_at = in_at = None
    out_cue = in_cue = None
    for index, attributes in tags:
        for name, value in attributes.items():
            merged.setdefault(name, value)
        signals = [(name, splice_info(attributes.get(name))) for name in _SCTE35_ATTRIBUTES]
        for name, info in signals:
            if name not in attributes:
                continue
            kinds = _DATERANGE_KINDS.get(name) or avail_kinds(info)
            if Kind.OUT in kinds and out_at is None:
                out_at, out_cue = index, info
            if Kind.IN in kinds and in_at is None:
                in_at, in_cue = index, info
    return _Range(ident, merged, out_at, in_at, out_cue, in_cue)


_SCTE35_ATTRIBUTES: Final = ("SCTE35-OUT", "SCTE35-IN", "SCTE35-CMD")
_DATERANGE_KINDS: Final = {"SCTE35-OUT": (Kind.OUT,), "SCTE35-IN": (Kind.IN,)}


def _is_avail(info: SpliceInfo | None, kind: Kind) -> bool:
    """A payload that cannot be read is taken at its attribute's word (SPEC_RULES 40); a
    readable one must be an avail, not a program or chapter boundary."""
    if info is None or (info.command_type == TIME_SIGNAL and not info.descriptors):
        return True
    return kind in avail_kinds(info)


def _daterange_break(window: Window, rng: _Range) -> RangeBreak | None:
    if rng.out_at is not None:
        if not _is_avail(rng.out_cue, Kind.OUT):
            return None
    elif rng.in_at is None or not _is_avail(rng.in_cue, Kind.IN):
        return None
    attributes = rng.attributes
    start_s = epoch(attributes.get("START-DATE"))
    end_s = epoch(attributes.get("END-DATE"))
    duration = parse_seconds(attributes.get("DURATION"))
    if end_s is None and start_s is not None and duration is not None:
        end_s = start_s + duration
    if duration is None and start_s is not None and end_s is not None:
        duration = end_s - start_s
    tag_duration = (
        duration if duration is not None else parse_seconds(attributes.get("PLANNED-DURATION"))
    )
    info = rng.out_cue or rng.in_cue
    signalled = info.duration if info is not None and info.duration is not None else tag_duration
    if window.times is not None and start_s is not None:
        placed = _by_date(window, rng, start_s, end_s, signalled)
    else:
        placed = _by_position(window, rng, signalled)
    if placed is None:
        return None
    start, end, elapsed, closed = placed
    return RangeBreak(
        ident=rng.ident,
        start=start,
        end=end,
        elapsed=elapsed,
        closed=closed,
        signalled=signalled,
        scte35=info,
        start_date=attributes.get("START-DATE"),
    )


_Placed = tuple[int, int, float, bool]  # start, end, elapsed before the window, closed


def _by_date(
    window: Window, rng: _Range, start_s: float, end_s: float | None, signalled: float | None
) -> _Placed | None:
    """BIS §4.4.5.1: a Date Range is placed by its dates, wherever the tag stands. A segment
    belongs to the break when its middle falls inside it (SPEC_RULES 44)."""
    first = window.time_at(0)
    start = window.first_at(start_s)
    elapsed = first - start_s if start == 0 and first - start_s > SAME_INSTANT else 0.0
    ends_known = end_s is not None
    if end_s is None and rng.in_at is None and signalled is not None:
        end_s = start_s + signalled
    if end_s is None:
        end = max(rng.in_at, start) if rng.in_at is not None else window.count
        return start, end, elapsed, rng.in_at is not None
    if elapsed and end_s <= first + SAME_INSTANT:
        return None  # over before the window opens
    end = window.first_at(end_s, start)
    reached = end < window.count or window.time_at(end) >= end_s - SAME_INSTANT
    return start, end, elapsed, ends_known or rng.in_at is not None or reached


def _by_position(window: Window, rng: _Range, signalled: float | None) -> _Placed:
    """Without dates to go by, the tags' positions mark the splice points."""
    start = rng.out_at if rng.out_at is not None else 0
    if rng.in_at is not None and rng.in_at >= start:
        return start, rng.in_at, 0.0, True
    if signalled is not None:
        covered = window.covered_end(start, window.count, 0.0, signalled)
        if covered is not None:
            return start, covered, 0.0, True
    return start, window.count, 0.0, False
