"""ReplaceBreak: replace the segments of a signalled ad break with an ad pod.

The fill is planned on the break's own timeline, from its planned duration ``D``: the
SCTE-35/cue duration when signalled (the same in every rendition and on every reload),
else the EXTINF sum of a closed break (SPEC_RULES 44), else unbounded (an open break
nobody announced the length of). Pod segments go in order while they fit in ``D``
(within ``TOLERANCE``); the first that does not fit ends the pod, so the pod is trimmed
at a segment boundary; a creative's last segment shorter than ``TOLERANCE`` (an
encoder's last audio frame) is left out. The rest is filled with the slate, repeated, in
whole segments while they fit; the remainder, shorter than the next slate segment, is
filled by that segment with a shorter EXTINF. That is the only EXTINF we shorten: the
slate is a still picture, the segment's extra media is cut at the discontinuity that
follows, and the break keeps its exact duration, so the content after it keeps its own
dates. Without a slate, the pod ends early and the content resumes early.

Only the listed part of the break is replaced: a live window may start inside the break
(``elapsed_before_window``) or end inside it (an open break). A planned segment is listed
when it starts at or after the window's first break segment and ends before the break's
listed content does; the same segments are therefore listed on every reload (SPEC_RULES
13), and every rendition, planned from the same ``D``, gets the same seams. A live playlist
never gets a longer TARGETDURATION: a pod or slate segment longer than it is refused
(SPEC_RULES 18).

Markers (SPEC_RULES 45): ``keep`` moves the origin's cue tags of the first replaced segment
onto the first pod segment and leaves the CUE-IN; ``translate`` drops the origin's markers
of the break (its tags, the CUE-IN and the date range with the break's ID) and writes ours:
CUE-OUT/CONT/IN and, when the playlist has dates, one EXT-X-DATERANGE per creative
(``<marker_id>-<n>``, n counting from 1); ``remove`` drops them and writes none.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from math import inf
from typing import Literal, NamedTuple

from edge_assembler.core.edits.assemble import assemble, lines_version
from edge_assembler.core.edits.base import Edit
from edge_assembler.core.edits.join import join
from edge_assembler.core.edits.scopes import date_ranged
from edge_assembler.core.edits.seams import (
    TOLERANCE,
    AdMark,
    CueSpan,
    EditError,
    QuotedText,
    Run,
    content,
    dates_of,
    foreign,
    seconds,
    source_playlist,
    take,
)
from edge_assembler.core.hls.attributes import parse_attributes
from edge_assembler.core.hls.cues import Break, covered_duration, detect_breaks
from edge_assembler.core.hls.layout import Piece, pieces_of, record
from edge_assembler.core.hls.lines import classify, tag, tag_name
from edge_assembler.core.hls.model import MediaPlaylist, Segment, parse_extinf, tagged_segments
from edge_assembler.core.hls.parse import SEGMENT_TAGS

# Tail lines about the segment being produced: inside an open break they are the break's.
_IN_PROGRESS = frozenset({"EXT-X-PART", "EXT-X-PRELOAD-HINT"})


class ReplaceBreak(Edit, tag="replace_break", frozen=True):
    """Fill break ``break_id`` with ``pod`` (fetched keys; URLs in ``pod_urls``)."""

    break_id: str
    pod: tuple[str, ...]
    pod_urls: tuple[str, ...]
    slate: str | None = None
    slate_url: str | None = None
    markers: Literal["keep", "translate", "remove"] = "translate"
    marker_id: QuotedText | None = None
    creative_ids: tuple[QuotedText, ...] = ()


class _Source(NamedTuple):
    key: str
    url: str
    playlist: MediaPlaylist


class _Planned(NamedTuple):
    """One segment of the fill, on the break's timeline."""

    source: _Source
    position: int  # in its playlist
    start: float
    duration: float
    creative: int | None  # index in the pod; None for the slate
    lap: int  # how many times the slate went round before it


def apply_replace_break(
    playlist: MediaPlaylist,
    edit: ReplaceBreak,
    fetched: Mapping[str, MediaPlaylist],
    found: Break | None = None,
) -> MediaPlaylist:
    """``found``: the break, as detected in the playlist ``playlist`` was edited from by
    replacing only later breaks (they leave it where it was); else it is detected here."""
    pod, slate = _sources(edit, fetched)
    if found is None:
        found = find_break(playlist, edit.break_id)
    quick = _live_fill(playlist, edit, pod, slate, found)
    return quick if quick is not None else _replace(playlist, edit, pod, slate, found)


def _replace(
    playlist: MediaPlaylist,
    edit: ReplaceBreak,
    pod: Sequence[_Source],
    slate: _Source | None,
    found: Break,
) -> MediaPlaylist:
    """The general path: any break, any playlist."""
    listed = covered_duration(playlist, found)
    planned = _planned_duration(found, listed)
    horizon = planned if planned < inf else found.elapsed_before_window + listed + TOLERANCE
    plan = _plan(pod, slate, planned, horizon)
    window = _listed(plan, found.elapsed_before_window, found.elapsed_before_window + listed)
    dates = dates_of(playlist)
    fill = _runs(window, plan, edit, planned, _break_date(playlist, found, dates))
    if fill and edit.markers == "keep" and found.start_index < found.end_index:
        fill[0] = fill[0].evolve(lead=marker_lines(playlist.segments[found.start_index]))
    if edit.markers == "keep":
        cut = Cut(playlist, None, playlist.tail)
    else:
        cut = without_markers(playlist, found.id, found.end_index)
    count = len(playlist.segments)
    runs = [
        *content(cut.playlist, 0, found.start_index, dates),
        *fill,
        *content(cut.playlist, found.end_index, count, dates, first=cut.resumed),
    ]
    joined = join(
        runs,
        first_msn=playlist.msn(0),
        live=playlist.live,
        ended=playlist.endlist,
        crlf=playlist.crlf,
    )
    tail = cut.tail
    if found.end_index == count and not playlist.endlist:
        tail = tuple(raw for raw in tail if tag_name(raw) not in _IN_PROGRESS)
    inserted = [segment for run in fill for segment in run.segments]
    return assemble(playlist, joined, inserted=inserted, tail=tail)


def pod_keys(edit: ReplaceBreak) -> tuple[list[tuple[str, str]], tuple[str, str] | None]:
    """The pod's (key, url) pairs and the slate's, once the edit's lists agree (shared by
    the HLS and DASH replacements)."""
    if not edit.pod:
        raise EditError("the pod is empty")
    if len(edit.pod_urls) != len(edit.pod):
        raise EditError("pod and pod_urls differ in length")
    if edit.creative_ids and len(edit.creative_ids) != len(edit.pod):
        raise EditError("creative_ids and pod differ in length")
    if (edit.slate is None) != (edit.slate_url is None):
        raise EditError("slate and slate_url go together")
    pod = list(zip(edit.pod, edit.pod_urls, strict=True))
    if edit.slate is None or edit.slate_url is None:
        return pod, None
    return pod, (edit.slate, edit.slate_url)


def _sources(
    edit: ReplaceBreak, fetched: Mapping[str, MediaPlaylist]
) -> tuple[list[_Source], _Source | None]:
    pairs, slate_key = pod_keys(edit)
    pod = [_Source(key, url, source_playlist(fetched, key)) for key, url in pairs]
    if slate_key is None:
        return pod, None
    slate = _Source(*slate_key, source_playlist(fetched, slate_key[0]))
    if slate.playlist.duration <= 0:
        raise EditError(f"slate {edit.slate!r} has no duration")
    return pod, slate


def find_break(playlist: MediaPlaylist, break_id: str) -> Break:
    """The detected break ``break_id`` of a playlist whose breaks can be replaced."""
    if playlist.i_frames_only:
        raise EditError("breaks are not replaced in I-frame playlists")
    for found in detect_breaks(playlist):
        if found.id == break_id:
            return found
    raise EditError(f"no break {break_id!r} in the playlist")


def _planned_duration(found: Break, listed: float) -> float:
    if found.signalled_duration is not None:
        return found.signalled_duration
    if found.closed:
        return found.elapsed_before_window + listed
    return inf


def _plan(
    pod: Sequence[_Source], slate: _Source | None, planned: float, horizon: float
) -> list[_Planned]:
    """The fill of the whole break (up to ``horizon`` when its end is unknown)."""
    out: list[_Planned] = []
    t = 0.0
    for n, source in enumerate(pod):
        segments = _without_remnant(source.playlist.segments)
        for i, segment in enumerate(segments):
            if t + segment.duration > planned + TOLERANCE:
                return out + _slate(slate, t, planned, horizon)
            out.append(_Planned(source, i, t, segment.duration, n, 0))
            t += segment.duration
    return out + _slate(slate, t, planned, horizon)


def _without_remnant(segments: Sequence[Segment]) -> Sequence[Segment]:
    """A creative's segments without a last one shorter than ``TOLERANCE``: an encoder's
    last audio frame in a segment of its own. Every rendition of the creative then has
    the same segment count, so a pod has the same seams in every rendition."""
    if len(segments) > 1 and segments[-1].duration < TOLERANCE:
        return segments[:-1]
    return segments


def _slate(slate: _Source | None, t: float, planned: float, horizon: float) -> list[_Planned]:
    out: list[_Planned] = []
    lap = 0
    # Only a gap shorter than TOLERANCE is left unfilled; rounding keeps float noise in the
    # running sum (2.1 - 2.0 = 0.10000000000000009) from deciding it.
    while slate is not None and round(horizon - t, 9) >= TOLERANCE:
        for i, segment in enumerate(slate.playlist.segments):
            if round(horizon - t, 9) < TOLERANCE:
                break
            duration = min(segment.duration, planned - t)
            out.append(_Planned(slate, i, t, duration, None, lap))
            t += duration
        lap += 1
    return out


class Fill(NamedTuple):
    """The whole fill of a break of ``planned`` seconds, as ``ReplaceBreak`` plans it: what
    a live stream inserts in place of the break's run, whatever part a window lists."""

    edit: ReplaceBreak
    planned: float
    plan: tuple[_Planned, ...]

    @property
    def inserted(self) -> int:
        """The number of segments the break inserts."""
        return len(self.plan)

    def seams(self) -> tuple[int, ...]:
        """The indexes (after the first) of the fill segments that open with a
        discontinuity: a new creative or slate pass (a seam of ``join``), or the pod's own."""
        plan = self.plan
        return tuple(
            j
            for j in range(1, len(plan))
            if not _follows(plan[j - 1], plan[j])
            or plan[j].source.playlist.segments[plan[j].position].discontinuity
        )

    def runs(self, indexes: range, start: datetime | None) -> list[Run]:
        """Fill segments ``indexes`` as runs, dated from the break's ``start``."""
        listed = [self.plan[j] for j in indexes]
        return _runs(listed, self.plan, self.edit, self.planned, start)


def plan_fill(edit: ReplaceBreak, fetched: Mapping[str, MediaPlaylist], planned: float) -> Fill:
    """The fill of a break of ``planned`` seconds (its signalled duration) with the edit's
    pod and slate: the same on every reload, in every rendition (see the module docstring)."""
    if not 0 <= planned < inf:
        raise EditError(f"a live break needs a known duration, not {planned}")
    pod, slate = _sources(edit, fetched)
    return Fill(edit, planned, tuple(_plan(pod, slate, planned, planned)))


def _listed(plan: Sequence[_Planned], first: float, last: float) -> list[_Planned]:
    """The planned segments the window shows: inside the listed part of the break."""
    return [
        p for p in plan if p.start >= first - TOLERANCE and p.start + p.duration <= last + TOLERANCE
    ]


def _runs(
    window: Sequence[_Planned],
    plan: Sequence[_Planned],
    edit: ReplaceBreak,
    planned: float,
    start: datetime | None,
) -> list[Run]:
    """The listed fill as runs, one per stretch of consecutive segments of one playlist."""
    runs: list[Run] = []
    for chunk in _chunks(window):
        first = chunk[0]
        playlist = first.source.playlist
        run = take(
            playlist,
            first.position,
            first.position + len(chunk),
            source=first.source.key,
            base_url=first.source.url,
            keep_tags=False,
        )
        if chunk[-1].duration < playlist.segments[chunk[-1].position].duration:
            run = run.evolve(segments=(*run.segments[:-1], _shortened(run.segments[-1], chunk[-1])))
        date = start + timedelta(seconds=first.start) if start is not None else None
        if edit.markers == "translate":
            cue = CueSpan(planned if planned < inf else None, first.start)
            run = run.evolve(date=date, cue=cue, mark=_mark(edit, plan, first))
        else:
            run = run.evolve(date=date)
        runs.append(run)
    return runs


def _chunks(window: Sequence[_Planned]) -> list[list[_Planned]]:
    chunks: list[list[_Planned]] = []
    for planned in window:
        if chunks and _follows(chunks[-1][-1], planned):
            chunks[-1].append(planned)
        else:
            chunks.append([planned])
    return chunks


def _follows(before: _Planned, after: _Planned) -> bool:
    """Whether ``after`` is the next segment of the same pass over the same playlist."""
    same = (before.source.key, before.creative, before.lap) == (
        after.source.key,
        after.creative,
        after.lap,
    )
    return same and after.position == before.position + 1


def _shortened(segment: Segment, planned: _Planned) -> Segment:
    """The last slate segment with the EXTINF of the remainder it fills."""
    lines = []
    for raw in segment.raw:
        if raw.startswith("#EXTINF:"):
            _, title = parse_extinf(raw, 0)
            raw = f"#EXTINF:{planned.duration:.3f},{title}" + ("\r" if raw.endswith("\r") else "")
        lines.append(raw)
    return segment._replace(raw=tuple(lines), duration=round(planned.duration, 3), number=0)


def _mark(edit: ReplaceBreak, plan: Sequence[_Planned], first: _Planned) -> AdMark | None:
    if edit.marker_id is None or first.creative is None:
        return None
    n = first.creative
    parts = [p for p in plan if p.creative == n]
    creative_id = edit.creative_ids[n] if edit.creative_ids else None
    return AdMark(
        f"{edit.marker_id}-{n + 1}",
        creative_id,
        parts[0].start - first.start,
        sum(p.duration for p in parts),
    )


def _break_date(
    playlist: MediaPlaylist, found: Break, dates: Sequence[datetime | None] | None
) -> datetime | None:
    """The date of the break's start (before the window when it started earlier)."""
    if dates is None:
        return None
    index = found.start_index
    if index < len(dates):
        at = dates[index]
    else:
        last = dates[-1]
        at = None if last is None else last + timedelta(seconds=playlist.segments[-1].duration)
    return at - timedelta(seconds=found.elapsed_before_window) if at is not None else None


def marker_lines(segment: Segment) -> tuple[str, ...]:
    """The marker lines (cue tags, date ranges, comments) of a replaced segment."""
    return tuple(
        raw for raw in segment.raw[:-1] if tag_name(raw) not in SEGMENT_TAGS and raw.strip()
    )


class Cut(NamedTuple):
    """The playlist around a replaced break without the break's markers."""

    playlist: MediaPlaylist  # without the break's date range, wherever it was
    resumed: Segment | None  # the segment after the break, without the closing CUE-IN
    tail: tuple[str, ...]


def without_markers(playlist: MediaPlaylist, break_id: str, end: int) -> Cut:
    """SPEC_RULES 38: the closing CUE-IN of break ``break_id`` (on ``segments[end]``, the
    first segment after it, or in the tail) and its date range are removed consistently;
    date ranges are rare, so a playlist without one of the break's is left as it is."""
    others = [i for i in date_ranged(playlist) if i != end]
    edited = _without_date_range(playlist, break_id, others)
    resumed = None
    if end < len(edited.segments):
        segment = edited.segments[end]
        raw = tuple(line for line in segment.raw if not _marks(line, break_id, True))
        resumed = Segment.of(raw) if raw != segment.raw else None
    at_end = end == len(edited.segments)
    tail = tuple(line for line in edited.tail if not _marks(line, break_id, at_end))
    return Cut(edited, resumed, tail)


def _without_date_range(
    playlist: MediaPlaylist, break_id: str, indices: Sequence[int]
) -> MediaPlaylist:
    """``playlist`` without the date range ``break_id`` on ``segments[i]`` for ``indices``."""
    if not indices:
        return playlist
    segments = list(playlist.segments)
    changed = []
    for index in indices:
        segment = segments[index]
        raw = tuple(line for line in segment.raw if not _marks(line, break_id, False))
        if raw != segment.raw:
            segments[index] = Segment.of(raw)
            changed.append(index)
    if not changed:
        return playlist
    edited = playlist.evolve(segments=tuple(segments))
    tagged = playlist.fact(tagged_segments)
    edited.remember(tagged_segments, tuple(i for i in tagged if len(segments[i].raw) > 2))
    pieces: list[Piece] = []
    done = 0
    for index in changed:
        pieces += [*pieces_of(playlist, done, index), segments[index]]
        done = index + 1
    pieces += pieces_of(playlist, done, len(segments))
    record(edited, pieces)
    return edited


def _marks(raw: str, break_id: str, closing: bool) -> bool:
    match tag_name(raw):
        case "EXT-X-CUE-IN":
            return closing
        case "EXT-X-DATERANGE":
            line = classify(raw)
            return parse_attributes(line.value, line.number).get("ID") == break_id
        case _:
            return False


# ------------------------------------------------------------------- the live fast path

# The lines a segment may have for the fast path: its EXTINF and URI, and cue tags.
_CUE_PREFIXES = ("#EXTINF:", "#EXT-X-CUE-OUT", "#EXT-X-CUE-IN")
_DSN = "EXT-X-DISCONTINUITY-SEQUENCE"
# Tail lines the general path would look at (the break's date range, dates, cues).
_TAIL_SEEN = ("#EXT-X-DATERANGE", "#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-CUE")
# The lines before the segment the content resumes with, by ``crlf``.
_RESUME_LINES = {
    crlf: (tag("EXT-X-DISCONTINUITY", crlf=crlf), tag("EXT-X-CUE-IN", crlf=crlf))
    for crlf in (False, True)
}
# Up to this many segments, writing each segment's lines costs less than keeping a layout.
_SMALL_WINDOW = 16


def _live_fill(
    playlist: MediaPlaylist,
    edit: ReplaceBreak,
    pod: Sequence[_Source],
    slate: _Source | None,
    found: Break,
) -> MediaPlaylist | None:
    """The common live case, written directly; None for any other case.

    DESIGN §6 gives a live window 50 µs cold, and the general path (runs, a clock, scopes,
    seams) costs about twice that on 6 segments. In a live window with one cue-tag break
    (no keys, maps, byte ranges, dates or date ranges; only the break's segments and the
    one after it carry tags; a pod of plain segments that fit the target duration and the
    version) every seam is known: a discontinuity and CUE-OUT before the pod, CUE-OUT-CONT
    on its other segments, a discontinuity and CUE-IN before the content resumes. The
    output is byte for byte the general path's (a property test compares them)."""
    count = len(playlist.segments)
    start, end = found.start_index, found.end_index
    planned = found.signalled_duration
    if not (
        playlist.live
        and edit.markers == "translate"
        and edit.marker_id is None
        and slate is None
        and found.closed
        and planned is not None
        and found.elapsed_before_window == 0
        and 0 < start < end < count
    ):
        return None
    resumed = _plain_resumed(playlist, start, end)
    if resumed is None or not _plain_sources(playlist, pod):
        return None
    listed = covered_duration(playlist, found)
    fill, needed, longest = _pod_fill(
        tuple(pod), planned, listed, playlist.crlf, playlist.i_frames_only
    )
    if not fill:
        return None
    if needed > (playlist.version or 1) or longest > playlist.target_duration:
        return None  # the general path changes the head, or refuses (SPEC_RULES 5, 18)
    crlf = playlist.crlf
    source = playlist.segments[end]
    lines = (*_RESUME_LINES[crlf], *resumed)
    after = Segment(lines, source.uri, source.duration, source.title, True, 0)
    segments = (*playlist.segments[:start], *fill, after, *playlist.segments[end + 1 :])
    head = playlist.head
    for raw in head:
        if raw.startswith(_DSN, 1) and tag_name(raw) == _DSN:
            break
    else:
        # SPEC_RULES 11: a live playlist with a discontinuity states its sequence.
        value = str(playlist.discontinuity_sequence)
        head = (*head, tag("EXT-X-DISCONTINUITY-SEQUENCE", value, crlf=crlf))
    edited = playlist.evolve(head=head, segments=segments)
    edited.remember(tagged_segments, tuple(range(start, start + len(fill) + 1)))
    if count > _SMALL_WINDOW:
        pieces: list[Piece] = [*pieces_of(playlist, 0, start), *fill, after]
        record(edited, [*pieces, *pieces_of(playlist, end + 1, count)])
    return edited


def _plain_resumed(playlist: MediaPlaylist, start: int, end: int) -> tuple[str, ...] | None:
    """The lines of the segment after the break without its CUE-IN, when that leaves them
    plain (EXTINF and URI), every other segment outside the break is plain, and the break's
    segments hold only cue tags (so the playlist has no keys, maps, byte ranges, dates or
    date ranges); and the tail has nothing the general path would change."""
    tagged = playlist.fact(tagged_segments)  # ascending
    if tagged and not (start <= tagged[0] and tagged[-1] <= end):
        return None
    if playlist.tail and any(raw.startswith(_TAIL_SEEN) for raw in playlist.tail):
        return None
    segments = playlist.segments
    for i in tagged:
        if i == end:
            break
        for line in segments[i].raw[:-1]:
            if not line.startswith(_CUE_PREFIXES):
                return None
    raw = tuple([line for line in segments[end].raw if not _is_tag(line, "EXT-X-CUE-IN")])
    if len(raw) != 2 or not raw[0].startswith("#EXTINF:"):
        return None
    return raw


def _is_tag(raw: str, name: str) -> bool:
    """``tag_name(raw) == name``, the prefix test first (it settles most lines)."""
    return raw.startswith(name, 1) and tag_name(raw) == name


def _plain_sources(playlist: MediaPlaylist, pod: Sequence[_Source]) -> bool:
    """Pod playlists of plain segments (no keys, maps, byte ranges or dates to carry)."""
    return all(not source.playlist.fact(tagged_segments) for source in pod)


class _Fill(NamedTuple):
    segments: tuple[Segment, ...]
    version: int  # the compatibility version their lines need
    longest: float  # the longest EXTINF among them


@lru_cache(maxsize=256)
def _pod_fill(
    pod: tuple[_Source, ...], planned: float, listed: float, crlf: bool, i_frames_only: bool
) -> _Fill:
    """The segments filling the listed ``listed`` seconds of a break of ``planned`` seconds
    with ``pod`` (no slate), seams included, in a playlist that is or is not I-frames only.
    Cached: every reload of a live window, in every rendition, fills its break from the
    same pod (the sources and Segment are immutable)."""
    fill: list[Segment] = []
    previous_cued = False
    for chunk in _chunks(_listed(_plan(pod, None, planned, planned), 0.0, listed)):
        fill += _fill_chunk(chunk, planned, previous_cued, crlf)
        previous_cued = True
    version = lines_version(fill, i_frames_only)
    return _Fill(tuple(fill), version, max((s.duration for s in fill), default=0.0))


def _fill_chunk(
    chunk: Sequence[_Planned], planned: float, continued: bool, crlf: bool
) -> list[Segment]:
    """A stretch of one pod playlist as the general path's seams write it: a discontinuity
    and the cue on its first segment, CUE-OUT-CONT with the elapsed time on the others.
    ``continued``: a stretch of the pod comes before it."""
    start = chunk[0].start
    out: list[Segment] = []
    elapsed = 0.0
    for planned_segment in chunk:
        source = planned_segment.source
        segment = source.playlist.segments[planned_segment.position]
        own = foreign(segment, source.url, False, crlf)
        opening = not out
        if opening:
            top = [tag("EXT-X-DISCONTINUITY", crlf=crlf), *_cue(start, planned, continued, crlf)]
        else:
            top = [_cont(start + elapsed, planned, crlf)]
        discontinuity = opening or own.discontinuity
        out.append(Segment((*top, *own.raw), own.uri, own.duration, own.title, discontinuity, 0))
        elapsed += segment.duration
    return out


def _cue(elapsed: float, planned: float, continued: bool, crlf: bool) -> list[str]:
    """The cue lines of a stretch's first segment (a live break with a known duration)."""
    if continued and elapsed > TOLERANCE:
        return [_cont(elapsed, planned, crlf)]
    closing = [tag("EXT-X-CUE-IN", crlf=crlf)] if continued else []
    if elapsed > TOLERANCE:
        return [*closing, _cont(elapsed, planned, crlf)]
    return [*closing, tag("EXT-X-CUE-OUT", f"DURATION={seconds(planned)}", crlf=crlf)]


def _cont(elapsed: float, planned: float, crlf: bool) -> str:
    value = f"ElapsedTime={seconds(elapsed)},Duration={seconds(planned)}"
    return tag("EXT-X-CUE-OUT-CONT", value, crlf=crlf)
