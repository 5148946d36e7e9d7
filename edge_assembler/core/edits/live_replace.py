"""Live break replacement numbered from the stream's break history (DESIGN §4 "Live in-stream
ad replacement needs the break history"; SPEC_RULES 9-13, 44-45).

Every break of the history that a live window shows is replaced by the session's fill
(``replace_break.plan_fill``: the pod, trimmed at a segment boundary, and the slate, planned
from the break's duration). Which fill segments a window lists does not follow from time
(``ReplaceBreak`` on its own lists those inside the listed part of the break) but from the
anchors of ``live``: pod segment ``j`` is listed while the origin segment it is anchored at
is (``live.pod_window``). So a pod slides in and out of the window with the run it replaces,
each output MSN names the same segment on every reload, and ``live.numbering`` gives the
window's MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE from the history alone.

Seams are those ``live`` counts: ``EXT-X-DISCONTINUITY`` on the first pod segment, on each
new creative or slate pass of the pod, and on the first kept segment after the run; the
first segment of a window carries the one it has in the stream (BIS §6.2.2: the DSN of a
segment never changes). Markers are written as ``ReplaceBreak`` writes them (SPEC_RULES
45). The origin's discontinuities must lie outside the runs and their closing seams (the
assumption of ``live.numbering``): a window with one there is refused (the edge fails open).
"""

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, NamedTuple

import msgspec

from edge_assembler.core.edits.assemble import assemble
from edge_assembler.core.edits.base import Edit
from edge_assembler.core.edits.join import join
from edge_assembler.core.edits.replace_break import (
    Fill,
    ReplaceBreak,
    marker_lines,
    plan_fill,
    without_markers,
)
from edge_assembler.core.edits.seams import EditError, Run, content, dates_of
from edge_assembler.core.hls.attributes import parse_attributes
from edge_assembler.core.hls.cues import detect_breaks
from edge_assembler.core.hls.lines import classify, tag, tag_name
from edge_assembler.core.hls.live import (
    BreakRecord,
    anchor,
    apply_numbering,
    numbering,
    pod_window,
)
from edge_assembler.core.hls.model import MediaPlaylist, Segment
from edge_assembler.core.hls.parse import HEADER_TAGS

# Tail lines about the segment being produced (dropped when a break replaces it).
_IN_PROGRESS = frozenset({"EXT-X-PART", "EXT-X-PRELOAD-HINT"})


class StreamBreak(NamedTuple):
    """A break as the stream's history keeps it (per stream, never per session): its id,
    the origin MSN of its first segment and the number of origin segments it spans."""

    id: str
    start_msn: int
    replaced: int


Count = Annotated[int, msgspec.Meta(ge=0)]


class LiveBreak(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """A break of the stream's history (``StreamBreak``) with the session's fill of
    ``planned`` seconds (``fill.break_id`` is the break's id); a frozen value, out of the
    cyclic collector as edits are (``Edit``)."""

    start_msn: Count
    replaced: Count
    planned: Annotated[float, msgspec.Meta(ge=0)]
    fill: ReplaceBreak


class LiveReplace(Edit, tag="live_replace", frozen=True):
    """Replace the breaks of a live window that ``breaks`` fills, and number the window
    from them: every break of the session's history that changes its numbering."""

    breaks: tuple[LiveBreak, ...]


def apply_live_replace(
    playlist: MediaPlaylist, edit: LiveReplace, fetched: Mapping[str, MediaPlaylist]
) -> MediaPlaylist:
    """The window with ``edit``'s breaks replaced, for players (``_for_players``)."""
    fills, breaks = _planned(edit, fetched)
    return _for_players(replace_live_breaks(playlist, breaks, fills))


def live_records(
    edit: LiveReplace, fetched: Mapping[str, MediaPlaylist]
) -> tuple[BreakRecord, ...]:
    """The history ``edit`` numbers windows from: what blocking requests and rendition
    reports of the session translate with (``live.translate_blocking_request``)."""
    fills, breaks = _planned(edit, fetched)
    return session_history(breaks, fills)


def _planned(
    edit: LiveReplace, fetched: Mapping[str, MediaPlaylist]
) -> tuple[dict[str, Fill], list[StreamBreak]]:
    fills = {b.fill.break_id: plan_fill(b.fill, fetched, b.planned) for b in edit.breaks}
    breaks = [StreamBreak(b.fill.break_id, b.start_msn, b.replaced) for b in edit.breaks]
    return fills, breaks


def _for_players(playlist: MediaPlaylist) -> MediaPlaylist:
    """Delta updates withdrawn (BIS §4.4.3.8: a server without CAN-SKIP-UNTIL is never
    asked for one): the edge asks the origin for whole windows, and numbers them whole.
    A window whose parts all belonged to replaced segments (it ends in a pod) lists none:
    it drops EXT-X-PART-INF and PART-HOLD-BACK too (SPEC_RULES 52), as a window of a
    stream without parts, until the content's parts return."""
    parted = any(
        tag_name(raw) == "EXT-X-PART"
        for raw in (*playlist.tail, *(r for s in playlist.segments for r in s.raw))
    )
    gone = {"CAN-SKIP-UNTIL", "CAN-SKIP-DATERANGES"} | (set() if parted else {"PART-HOLD-BACK"})
    head = []
    for raw in playlist.head:
        name = tag_name(raw)
        if name == "EXT-X-PART-INF" and not parted:
            continue
        if name == "EXT-X-SERVER-CONTROL":
            line = classify(raw)
            attributes = parse_attributes(line.value, line.number)
            if any(name in attributes for name in gone):
                kept = attributes.replace(dict.fromkeys(gone))
                raw = tag("EXT-X-SERVER-CONTROL", kept.format(), crlf=playlist.crlf)
        head.append(raw)
    if head == list(playlist.head):
        return playlist
    return playlist.evolve(head=tuple(head), part_target=playlist.part_target if parted else None)


def session_history(
    breaks: Sequence[StreamBreak], fills: Mapping[str, Fill]
) -> tuple[BreakRecord, ...]:
    """The stream's breaks with the session's fills: the history ``live`` numbers from. A
    break without a fill is left as the origin has it."""
    out = []
    for brk in sorted(breaks, key=lambda b: (b.start_msn, b.id)):
        fill = fills.get(brk.id)
        if fill is None:
            continue
        try:
            record = BreakRecord(brk.id, brk.start_msn, brk.replaced, fill.inserted, fill.seams())
        except ValueError as error:
            raise EditError(str(error)) from None
        out.append(record)
    return tuple(out)


def replace_live_breaks(
    origin: MediaPlaylist, breaks: Sequence[StreamBreak], fills: Mapping[str, Fill]
) -> MediaPlaylist:
    """The output window for the origin live window ``origin``: each break of ``breaks``
    with a fill in ``fills`` (by break id) replaced, and the whole window numbered."""
    if origin.i_frames_only:
        raise EditError("breaks are not replaced in I-frame playlists")
    history = session_history(breaks, fills)
    try:
        numbers = numbering(origin, history)
    except ValueError as error:
        raise EditError(str(error)) from None
    count = len(origin.segments)
    first = origin.msn(0)
    last = first + count - 1
    shown = [
        r
        for r in history
        if (r.replaced or r.inserted) and anchor(r, 0) <= last and r.start_msn + r.replaced >= first
    ]
    if not shown:
        return apply_numbering(origin, numbers, history)
    _require_continuous(origin, shown)
    return apply_numbering(_replaced(origin, shown, fills), numbers, history)


def _require_continuous(origin: MediaPlaylist, shown: Sequence[BreakRecord]) -> None:
    first = origin.msn(0)
    for record in shown:
        for msn in range(record.start_msn, record.start_msn + record.replaced + 1):
            index = msn - first
            if 0 <= index < len(origin.segments) and origin.segments[index].discontinuity:
                raise EditError(f"a discontinuity of the origin in break {record.id!r}")


def _replaced(
    origin: MediaPlaylist, shown: Sequence[BreakRecord], fills: Mapping[str, Fill]
) -> MediaPlaylist:
    """``origin`` with the breaks ``shown`` replaced, still in origin numbering."""
    count = len(origin.segments)
    first = origin.msn(0)
    last = first + count - 1

    def index(msn: int) -> int:
        return min(max(msn - first, 0), count)

    playlist, resumed = _without_markers(origin, shown, fills, index)
    dates = dates_of(playlist)
    runs: list[Run] = []
    inserted: list[Segment] = []
    position = 0
    opening: bool | None = None  # whether the window's first segment opens a seam
    for record in shown:
        start, end = index(record.start_msn), index(record.start_msn + record.replaced)
        runs += content(playlist, position, start, dates, first=resumed.get(position))
        if opening is None and runs:
            opening = _closes(shown, first + position)
        fill = fills[record.id]
        listed = pod_window(record, first, last)
        if listed:
            pod = fill.runs(listed, _break_date(origin, record, dates))
            # ``keep``: the origin's cue tags of the first replaced segment, listed with
            # the pod's first segment (they share the anchor).
            if fill.edit.markers == "keep" and listed.start == 0 and record.replaced:
                pod[0] = pod[0].evolve(lead=marker_lines(playlist.segments[start]))
            if opening is None:
                opening = listed.start == 0 or listed.start in record.seams
            runs += pod
            inserted += [segment for run in pod for segment in run.segments]
        position = max(position, end)
    runs += content(playlist, position, count, dates, first=resumed.get(position))
    if opening is None:
        opening = _closes(shown, first + position)
    joined = join(runs, first_msn=first, live=origin.live, ended=origin.endlist, crlf=origin.crlf)
    tail = playlist.tail
    if not origin.endlist and any(
        r.start_msn <= last + 1 < r.start_msn + r.replaced for r in shown
    ):
        tail = tuple(raw for raw in tail if tag_name(raw) not in _IN_PROGRESS)
    out = assemble(playlist, joined, inserted=inserted, tail=tail)
    return _opened(_hoisted(out, origin, shown), opening)


def _closes(shown: Sequence[BreakRecord], msn: int) -> bool:
    """Whether origin segment ``msn`` is the closing seam of a break."""
    return any(r.start_msn + r.replaced == msn for r in shown)


def _without_markers(
    origin: MediaPlaylist,
    shown: Sequence[BreakRecord],
    fills: Mapping[str, Fill],
    index: Callable[[int], int],
) -> tuple[MediaPlaylist, dict[int, Segment]]:
    """The origin without the markers of the breaks that translate or remove them, and the
    segments the content resumes with after them (without their CUE-IN)."""
    playlist = origin
    resumed: dict[int, Segment] = {}
    for record in shown:
        if fills[record.id].edit.markers == "keep":
            continue
        end = index(record.start_msn + record.replaced)
        cut = without_markers(playlist, record.id, end)
        playlist = cut.playlist
        if cut.tail != playlist.tail:
            playlist = playlist.evolve(tail=cut.tail)
        if cut.resumed is not None:
            resumed[end] = cut.resumed
    return playlist, resumed


def _break_date(
    origin: MediaPlaylist, record: BreakRecord, dates: Sequence[datetime | None] | None
) -> datetime | None:
    """The date of the break's start: of its first segment, or, when that slid out of the
    window, the date of the window's first break segment less the break's elapsed time."""
    if dates is None or not origin.segments:
        return None
    at = record.start_msn - origin.msn(0)
    if 0 <= at < len(dates):
        return dates[at]
    if at >= len(dates):
        end = dates[-1]
        return None if end is None else end + timedelta(seconds=origin.segments[-1].duration)
    found = next((b for b in detect_breaks(origin) if b.id == record.id), None)
    if found is None or found.start_index >= len(dates):
        return None
    start = dates[found.start_index]
    return None if start is None else start - timedelta(seconds=found.elapsed_before_window)


def _hoisted(
    out: MediaPlaylist, origin: MediaPlaylist, shown: Sequence[BreakRecord]
) -> MediaPlaylist:
    """Playlist tags written among the lines of a first segment that a break replaced stay
    in the head (BIS §4.4.3.2-3)."""
    if not origin.segments:
        return out
    first = origin.msn(0)
    if not any(r.start_msn <= first < r.start_msn + r.replaced for r in shown):
        return out
    stray = [raw for raw in origin.segments[0].raw if tag_name(raw) in HEADER_TAGS]
    return out.evolve(head=(*out.head, *stray)) if stray else out


def _opened(out: MediaPlaylist, opening: bool) -> MediaPlaylist:
    """The window's first segment with the discontinuity it has in the stream (``join``
    writes none before the first segment of its output)."""
    if not opening or not out.segments or out.segments[0].discontinuity:
        return out
    segment = out.segments[0]
    raw = list(segment.raw)
    # Before EXTINF: playlist tags among the lines (SPEC_RULES 8) stay before it.
    at = next(i for i, line in enumerate(raw) if line.startswith("#EXTINF:"))
    raw.insert(at, tag("EXT-X-DISCONTINUITY", crlf=out.crlf))
    first = segment._replace(raw=tuple(raw), discontinuity=True, number=0)
    return out.evolve(segments=(first, *out.segments[1:]))
