"""Runs: consecutive segments of one playlist, cut to be joined with runs of others.

Every edit that puts segments of one playlist next to segments of another (ads, recaps,
bumpers, break replacement, composition) cuts ``Run``s with ``take`` (``content`` for the
edited playlist), joins them with ``join.join`` and fixes the playlist-wide tags with
``assemble.assemble``; ``join`` says what a seam writes. This module holds the run model,
the timing edits place their seams by (``boundaries``, ``snap``), cutting runs, and the
form the segments of a foreign run take in the output (``foreign``).
"""

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from math import floor
from typing import Annotated, Literal, NamedTuple
from urllib.parse import urljoin

import msgspec

from edge_assembler.core.edits.scopes import (
    has_dates,
    keys_in,
    line_body,
    resolve_uri,
    scope_before,
    with_ending,
)
from edge_assembler.core.hls.dates import program_dates
from edge_assembler.core.hls.lines import tag_name
from edge_assembler.core.hls.model import MediaPlaylist, Segment, tagged_segments

# Seconds two times may differ and still count as one instant: a few video frames, more
# than the drift of EXTINF values rounded to milliseconds and less than the sub-second
# date overlap BIS §6.2.1 allows.
TOLERANCE = 0.1

Snap = Literal["nearest", "before", "after"]

# Tags a foreign run keeps (the rest describes its own playlist, not its media).
_MEDIA_TAGS = frozenset(
    {
        "EXTINF",
        "EXT-X-BYTERANGE",
        "EXT-X-DISCONTINUITY",
        "EXT-X-KEY",
        "EXT-X-MAP",
        "EXT-X-GAP",
        "EXT-X-BITRATE",
    }
)
_PDT = "EXT-X-PROGRAM-DATE-TIME"

Seconds = Annotated[float, msgspec.Meta(ge=0)]
# Text written inside a quoted-string attribute (RFC 8216 §4.2: no '"', CR or LF).
QuotedText = Annotated[str, msgspec.Meta(min_length=1, pattern='^[^"\r\n]+$')]
# The key of the edited playlist among the sources of an edit.
SELF = "self"


class EditError(ValueError):
    """An edit that cannot apply to this playlist; the message says why."""


class CueSpan(NamedTuple):
    """The signalled break a run belongs to."""

    duration: float | None  # planned duration of the whole break (None: unknown)
    elapsed: float  # break time before the run's first segment


class AdMark(NamedTuple):
    """The ad creative a run shows, announced with an EXT-X-DATERANGE."""

    id: str
    creative_id: str | None
    start: float  # seconds from the run's first segment to the creative's start (<= 0)
    duration: float


class Run(NamedTuple):
    """Consecutive segments of one playlist and what a seam needs to know about them."""

    source: str  # runs of one source with consecutive numbers continue each other
    segments: tuple[Segment, ...]
    first_msn: int  # media sequence number of ``segments[0]`` in its playlist
    context: tuple[str, ...] = ()  # KEY and MAP lines in effect before ``segments[0]``
    date: datetime | None = None  # date of ``segments[0]``
    end_date: datetime | None = None  # date at the end of the last segment
    own_clock: bool = False  # keep ``date`` (content) rather than continue the clock
    base_url: str | None = None  # resolve URIs against it (a foreign run)
    keep_tags: bool = True  # False: keep only media tags (a foreign run, see ``foreign``)
    cue: CueSpan | None = None
    mark: AdMark | None = None
    lead: tuple[str, ...] = ()  # extra lines for the first segment (kept cue tags)
    # What ``take`` found out, so that ``join`` copies what needs no change (see
    # ``join._Joiner``): the playlist the segments come from (None: not known) and the
    # index of the first there; the indices there of the segments with more lines than
    # EXTINF and URI (None: not known); whether a KEY is in effect or stated among them (an
    # IV may be implicit).
    tagged: tuple[int, ...] | None = None
    keyed: bool = True
    origin: MediaPlaylist | None = None
    offset: int = 0

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)

    def evolve(self, **changes: object) -> "Run":
        if "segments" in changes:  # what take found out no longer holds
            changes.setdefault("tagged", None)
            changes.setdefault("keyed", True)
            changes.setdefault("origin", None)
        return self._replace(**changes)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- timing


def boundaries(playlist: MediaPlaylist) -> list[float]:
    """Times of the segment boundaries: 0, the end of each segment."""
    return list(playlist.fact(_edges))


def _edges(playlist: MediaPlaylist) -> tuple[float, ...]:
    out, t = [0.0], 0.0
    for segment in playlist.segments:
        t += segment.duration
        out.append(t)
    return tuple(out)


def snap(playlist: MediaPlaylist, at: float, how: Snap = "nearest") -> int:
    """The index of the segment boundary for time ``at`` (0: before the first segment).

    Only the durations decide, so every rendition of a presentation snaps the same way:
    renditions cut at the same media times (aligned segmentation, AAC segments drifting
    by less than a frame) get seams within ``TOLERANCE`` of each other. A tie between two
    boundaries goes to the earlier one.
    """
    edges = playlist.fact(_edges)  # sorted: durations are never negative
    if at > edges[-1] + TOLERANCE:
        raise EditError(f"offset {at:g} s is beyond the end ({edges[-1]:g} s)")
    if how == "before":
        index = bisect_right(edges, at + TOLERANCE) - 1
        if index < 0:
            raise EditError(f"offset {at:g} s is before the start")
        return index
    if how == "after":  # the end when ``at`` is within the tolerance past it
        return min(bisect_left(edges, at - TOLERANCE), len(edges) - 1)
    after = bisect_left(edges, at)
    if after == len(edges):
        return bisect_left(edges, edges[-1])
    if after == 0:
        return 0
    before = bisect_left(edges, edges[after - 1])  # the first boundary at that time
    return before if at - edges[before] <= edges[after] - at else after


def round_duration(seconds: float) -> int:
    """BIS §4.4.3.1: the EXTINF duration rounded to the nearest integer (half up)."""
    return floor(seconds + 0.5)


def seconds(value: float) -> str:
    """A duration as written in tags: milliseconds, no trailing zeros."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------------- runs


def take(
    playlist: MediaPlaylist,
    start: int,
    end: int,
    *,
    source: str,
    base_url: str | None = None,
    keep_tags: bool = True,
    own_clock: bool = False,
    dates: Sequence[datetime | None] | None = None,
    first: Segment | None = None,
) -> Run:
    """Segments ``start:end`` of ``playlist`` as a run, with the state a seam before them
    needs (keys, map, byte-range offset) and, for a run keeping its own clock, its dates
    (``dates``: the playlist's ``segment_dates``, None when it has none). ``first``: the
    first segment as the edit changed it (its markers only: not its media tags)."""
    if not 0 <= start < end <= len(playlist.segments):
        raise EditError(f"no segments {start}:{end} in {source!r}")
    segments = playlist.segments[start:end]
    first = _explicit_byterange(playlist.segments, start, segments[0] if first is None else first)
    if first is not segments[0]:
        segments = (first, *segments[1:])
    context = scope_before(playlist, start)
    keyed = bool(context) and any(body.startswith("#EXT-X-KEY:") for body in context)
    keyed = keyed or keys_in(playlist, start, end)
    if base_url is not None:
        context = tuple(resolve_uri(body, base_url) for body in context)
    tagged = playlist.fact(tagged_segments)
    date = end_date = None
    if own_clock and dates is not None and dates[start] is not None:
        date, last = dates[start], dates[end - 1]
        assert last is not None
        end_date = last + timedelta(seconds=segments[-1].duration)
    return Run(
        source=source,
        segments=segments,
        first_msn=playlist.msn(start),
        context=context,
        date=date,
        end_date=end_date,
        own_clock=own_clock,
        base_url=base_url,
        keep_tags=keep_tags,
        tagged=tagged[bisect_left(tagged, start) : bisect_left(tagged, end)],
        keyed=keyed,
        origin=playlist,
        offset=start,
    )


def _explicit_byterange(segments: Sequence[Segment], index: int, segment: Segment) -> Segment:
    """``segment`` (at ``index``) with the offset of a BYTERANGE that relied on the segment
    before it written out (BIS §4.4.4.2), since a seam puts another segment there."""
    if index == 0 or len(segment.raw) < 3:
        return segment
    found = segment.tag("EXT-X-BYTERANGE")
    if found is None or "@" in found.value:
        return segment
    # Back to the last segment that states its offset, or to one without BYTERANGE (the
    # offset starts again from 0 after it).
    offset = 0
    for earlier in range(index - 1, -1, -1):
        byterange = segments[earlier].tag("EXT-X-BYTERANGE")
        if byterange is None:
            break
        length, _, start = byterange.value.strip().partition("@")
        offset += int(length) + (int(start) if start else 0)
        if start:
            break
    raw = tuple(
        f"{line_body(line)}@{offset}" + ("\r" if line.endswith("\r") else "")
        if tag_name(line) == "EXT-X-BYTERANGE"
        else line
        for line in segment.raw
    )
    return segment._replace(raw=raw)


def source_playlist(
    fetched: Mapping[str, MediaPlaylist], key: str, *, complete: bool = True
) -> MediaPlaylist:
    """The fetched playlist ``key``, checked to be something a run can be cut from."""
    playlist = fetched.get(key)
    if playlist is None:
        raise EditError(f"source {key!r} was not fetched")
    if playlist.i_frames_only:
        raise EditError(f"source {key!r} is an I-frame playlist")
    if not playlist.segments:
        raise EditError(f"source {key!r} has no segments")
    if complete and not playlist.endlist:
        raise EditError(f"source {key!r} is not complete (no EXT-X-ENDLIST)")
    return playlist


def dates_of(playlist: MediaPlaylist) -> Sequence[datetime | None] | None:
    """The playlist's ``segment_dates``, None when it has no PROGRAM-DATE-TIME."""
    return playlist.fact(program_dates) if has_dates(playlist) else None


def content(
    playlist: MediaPlaylist,
    start: int,
    end: int,
    dates: Sequence[datetime | None] | None,
    *,
    first: Segment | None = None,
) -> list[Run]:
    """Segments ``start:end`` of the edited playlist as a content run ([] when empty)."""
    if start >= end:
        return []
    return [take(playlist, start, end, source=SELF, own_clock=True, dates=dates, first=first)]


def continues(before: Run, after: Run) -> bool:
    """Whether ``after`` goes on where ``before`` ends (no seam between them)."""
    return (
        before.source == after.source
        and after.first_msn == before.first_msn + len(before.segments)
        and before.base_url == after.base_url
    )


# ---------------------------------------------------------------------------- foreign


@lru_cache(maxsize=4096)
def foreign(segment: Segment, base_url: str | None, own_clock: bool, crlf: bool) -> Segment:
    """A segment of a foreign run as the output states it, before its place adds anything:
    only its media tags (and its date when it keeps its clock), URIs made absolute against
    ``base_url``, lines ending like the output's. Cached: an ad is inserted for many
    requests, and Segment is immutable."""
    keep = _MEDIA_TAGS | {_PDT} if own_clock else _MEDIA_TAGS
    out = []
    for raw in segment.raw[:-1]:
        name = tag_name(raw)
        if name in keep:
            body = line_body(raw)
            if base_url is not None and name in ("EXT-X-KEY", "EXT-X-MAP"):
                body = resolve_uri(body, base_url)
            out.append(with_ending(body, crlf))
    uri = segment.uri if base_url is None else urljoin(base_url, segment.uri)
    out.append(with_ending(uri, crlf))
    return with_lines(segment, out)


def with_lines(original: Segment, lines: list[str]) -> Segment:
    """``original`` stated with ``lines`` (itself when they are its own)."""
    if tuple(lines) == original.raw:
        return original
    discontinuity = any(line_body(raw).rstrip() == "#EXT-X-DISCONTINUITY" for raw in lines)
    return Segment(
        tuple(lines), lines[-1].strip(), original.duration, original.title, discontinuity, 0
    )
