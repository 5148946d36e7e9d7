"""ReplaceBreak on an MPD: the span of a signalled break filled with an ad pod.

The break is one of ``events.detect_breaks``: a SCTE-35 cue in an EventStream, or a run of
ad Periods already in the MPD. Its span is [start, start + duration): ad Periods are
replaced whole; around a cue, a static MPD is cut at the segment boundaries nearest to both
ends, and a live one exactly at the signalled times (SPEC_RULES 92: the splice point) when
every Representation has a SegmentTimeline or SegmentBase, so that every update, whatever
segments it lists, cuts at the same times; ``$Number$`` templates with ``@duration`` are cut
at their own boundaries, which every update computes alike. The content before the break
keeps its Period ``@id``; the content after it gets ``derived_id(id, end of the break)``
(SPEC_RULES 76-78: close the content Period, append ad Periods, append a content Period).

The fill is planned on the span's length ``D``. Pod sources go in order while they fit
(within ``TOLERANCE``); the first that does not is cut at its last segment boundary that
fits, and ends the pod. The rest is filled with slate Periods, repeated while they fit
whole, the last one cut to the exact remainder (its Period end trims the still picture):
the break keeps its duration and the content after it its times. Without a slate a static
presentation resumes early (later Periods move up); a live one cannot, since content would
be announced before it is available, so such a replacement is refused.

Fill Periods are ``derived_id(marker_id or break id, start)`` with ``_<n>`` (n from 1), the
same on every update of a live MPD; each carries an ``AssetIdentifier`` with its creative
id (``creative_ids``, else its source key). Markers (SPEC_RULES 45 as in HLS): ``translate``
drops the origin's cues of the break (its out and in Events) and opens the break with our
SCTE-35 splice_insert on the first fill Period (``splice.mark_ads``; event id from
``marker_id``, else the break id); ``keep`` moves the origin's out Event onto the first fill
Period and leaves the in Event; ``remove`` drops the origin's cues and writes none.
"""

from collections.abc import Mapping
from typing import NamedTuple

from lxml.etree import _Element

from edge_assembler.core.dash.edits.periods import (
    SAME_INSTANT,
    Piece,
    assemble,
    content_pieces,
    derived_id,
    event_number,
    exact_cuts,
    period_at,
    snap_offset,
    snapped,
)
from edge_assembler.core.dash.edits.splice import (
    mark_ads,
    move_event,
    source_mpd,
    source_pieces,
)
from edge_assembler.core.dash.elements import namespace_of
from edge_assembler.core.dash.events import DashBreak, detect_breaks
from edge_assembler.core.dash.model import Mpd, PeriodView
from edge_assembler.core.edits.replace_break import ReplaceBreak, pod_keys
from edge_assembler.core.edits.seams import TOLERANCE, EditError

# Seconds of an open live Period over which boundaries are looked for past a cut point.
_LOOKAHEAD = 60.0


class _Source(NamedTuple):
    key: str
    url: str
    mpd: Mpd


def apply_replace_break(mpd: Mpd, edit: ReplaceBreak, fetched: Mapping[str, Mpd]) -> Mpd:
    pod, slate = _sources(edit, fetched)
    root = mpd.copy_root()
    work = Mpd.of(root)
    found = _find(work, edit.break_id)
    start, end = _span(work, found)
    fill = _fill(work, pod, slate, start, end - start, namespace_of(root))
    if not fill:
        raise EditError(f"nothing of the pod fits in break {found.id!r}")
    used = sum(p.duration or 0.0 for p in fill)
    if work.dynamic and used < end - start - TOLERANCE:
        raise EditError("the pod is shorter than the live break and there is no slate")
    cursor = start
    for piece in fill:  # live Periods keep these starts on every update (SPEC_RULES 77)
        piece.start, cursor = cursor, cursor + (piece.duration or 0.0)
    _name_and_mark(fill, edit, found, start, end - start)
    drop = [e for e in (found.event, found.end_event) if e is not None]
    if edit.markers == "keep" and found.event is not None:
        _keep(work, fill[0], found.event, start)
        drop = [found.event]
    before = content_pieces(work, 0.0, start, drop=drop)
    after = content_pieces(work, end, None, drop=drop)
    if work.dynamic:
        before = [p for p in before if not p.empty]  # expired from the window
        after = [p for p in after if not p.empty]  # not published yet
    return assemble(work, root, [*before, *fill, *after])


def _sources(
    edit: ReplaceBreak, fetched: Mapping[str, Mpd]
) -> tuple[list[_Source], _Source | None]:
    pairs, slate = pod_keys(edit)
    pod = [_Source(key, url, source_mpd(fetched, key)) for key, url in pairs]
    if slate is None:
        return pod, None
    return pod, _Source(*slate, source_mpd(fetched, slate[0]))


def _find(mpd: Mpd, break_id: str) -> DashBreak:
    for found in detect_breaks(mpd):
        if found.id == break_id:
            if found.duration is None:
                raise EditError(f"break {break_id!r} has no known duration")
            if found.duration <= SAME_INSTANT:
                raise EditError(f"break {break_id!r} lasts 0 s (an insertion point: use its cue)")
            return found
    raise EditError(f"no break {break_id!r} in the MPD")


def _span(mpd: Mpd, found: DashBreak) -> tuple[float, float]:
    """[start, end) of the content the fill replaces, in MPD time."""
    assert found.duration is not None
    start, end = found.start, found.start + found.duration
    if found.kind == "ad-periods":
        return start, end
    if not mpd.dynamic:
        last = mpd.periods[-1].end
        end = end if last is None else min(end, last)
        return snapped(mpd, start, "nearest")[0], snapped(mpd, end, "nearest")[0]
    return _live_point(mpd, start), _live_point(mpd, end)


def _live_point(mpd: Mpd, time: float) -> float:
    period = period_at(mpd, time)
    assert period.start is not None
    if exact_cuts(period):
        return time
    offset = time - period.start
    length = period.duration if period.duration is not None else offset + _LOOKAHEAD
    return period.start + snap_offset(period, offset, "nearest", length=length)


def _fill(
    mpd: Mpd,
    pod: list[_Source],
    slate: _Source | None,
    start: float,
    length: float,
    namespace: str,
) -> list[Piece]:
    """The pod while it fits, then the slate; ``Piece.origin`` holds (key, creative)."""
    near = _content_near(mpd, start, length)
    fill: list[Piece] = []
    used = 0.0
    for index, source in enumerate(pod):
        room = length - used
        if room <= TOLERANCE:
            break
        run = source_pieces(source.mpd, source.url, namespace, near, limit=room)
        _label(run, source.key, index)
        fill += run
        used += sum(p.duration or 0.0 for p in run)
        if sum(p.duration or 0.0 for p in run) < _total(source.mpd) - SAME_INSTANT:
            break  # cut short: the pod ends here
    if slate is not None:
        fill += _slate(slate, length - used, namespace, near)
    return fill


def _content_near(mpd: Mpd, start: float, length: float) -> PeriodView:
    """The content Period next to the break, whose tracks the fill mirrors."""
    first = mpd.periods[0].start or 0.0
    if start > first + 2 * SAME_INSTANT:
        return period_at(mpd, start - 2 * SAME_INSTANT)
    return period_at(mpd, start + length)


def _slate(slate: _Source, room: float, namespace: str, near: PeriodView) -> list[Piece]:
    total = _total(slate.mpd)
    if total <= SAME_INSTANT:
        raise EditError(f"slate {slate.key!r} has no duration")
    pieces: list[Piece] = []
    while room > SAME_INSTANT:
        run = source_pieces(slate.mpd, slate.url, namespace, near, limit=room, exact=True)
        _label(run, slate.key, -1)
        pieces += run
        room -= sum(p.duration or 0.0 for p in run)
    return pieces


def _total(mpd: Mpd) -> float:
    return sum(p.duration or 0.0 for p in mpd.periods)


def _label(run: list[Piece], key: str, creative: int) -> None:
    for piece in run:
        piece.origin = (key, creative)


def _name_and_mark(
    fill: list[Piece], edit: ReplaceBreak, found: DashBreak, start: float, length: float
) -> None:
    base = derived_id(edit.marker_id or found.id, start)
    for n, piece in enumerate(fill, start=1):
        piece.element.set("id", f"{base}_{n}")
    creatives = []
    for piece in fill:
        key, index = piece.origin or ("", -1)
        chosen = edit.creative_ids[index] if edit.creative_ids and index >= 0 else None
        creatives.append(chosen or key)
        piece.origin = None  # fill Periods continue nothing
    marker = event_number(edit.marker_id or found.id) if edit.markers == "translate" else None
    mark_ads(fill, creatives, marker, duration=length)


def _keep(mpd: Mpd, first: Piece, event: _Element, start: float) -> None:
    """The origin's out Event, moved onto the first fill Period."""
    stream = event.getparent()
    period = next((p for p in mpd.periods if stream in [s.element for s in p.event_streams]), None)
    if stream is None or period is None or period.start is None:
        return
    move_event(first.element, event, stream, start - period.start)
