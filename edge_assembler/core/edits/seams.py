"""Seams: joining runs of segments from different playlists into one media playlist.

Every edit that puts segments of one playlist next to segments of another (ads, recaps,
bumpers, break replacement, composition) cuts ``Run``s with ``take``, joins them with
``join`` and fixes the playlist-wide tags with ``assemble``. At a seam (two runs that do
not continue each other) the first segment of the later run gets:

* ``EXT-X-DISCONTINUITY`` (SPEC_RULES 22; RFC 8216 §4.3.2.3, BIS §4.4.4.3: the timestamp
  sequence changes);
* ``EXT-X-KEY:METHOD=NONE`` when keys in effect do not apply to it, then every key of its
  own playlist in effect there, re-stated even if unchanged (SPEC_RULES 24; BIS §4.4.4.4:
  NONE carries no other attribute, so one tag ends the scope of every KEYFORMAT);
* the ``EXT-X-MAP`` in effect in its own playlist, re-stated even if unchanged (SPEC_RULES
  23; BIS §4.4.4.5). HLS cannot end a MAP's scope, so a run without MAP (TS, packed
  audio) cannot follow one with a MAP (fMP4): such a seam is refused with ``EditError``
  (the edge then fails open). A run without MAP may open the output before the first MAP
  (a TS pre-roll into fMP4 content), and a run with a MAP may follow runs without one (an
  fMP4 post-roll after TS content);
* ``EXT-X-PROGRAM-DATE-TIME`` when the output has a clock (SPEC_RULES 31-32, below).

Every segment whose media sequence number moved and whose AES-128 or SAMPLE-AES key of the
identity format has no IV gets an explicit ``IV`` equal to its original number (SPEC_RULES
26; BIS §5.2).

Runs of other playlists are *foreign*: they keep only EXTINF, BYTERANGE, KEY, MAP, GAP,
BITRATE and DISCONTINUITY (their cue tags, date ranges, comments and parts mean nothing
here), their URIs are made absolute against their playlist's URL (SPEC_RULES 7) and their
lines end like the output's. Runs of the edited playlist keep their lines byte for byte,
apart from the tags a seam needs.

Clock: if any run has a date, the output has one. A run that keeps its own clock (content)
keeps its dates unless they would overlap the previous run by more than ``TOLERANCE``;
then it and the date ranges after its start move later by the overlap (SPEC_RULES 32). A
run without its own clock (an ad) starts at the date it was given (a replaced break keeps
the dates of the content it replaces), else continues the previous run's clock or, before
the first dated run, ends where that run starts. Its dates go on its first segment and on
every segment after a discontinuity inside it (SPEC_RULES 31).

Markers: a run with a ``cue`` belongs to a signalled break. The first run of a break gets
``EXT-X-CUE-OUT:DURATION=<d>`` (``EXT-X-CUE-OUT-CONT`` when the listed part starts inside
the break), the first run after it ``EXT-X-CUE-IN`` (written before ``EXT-X-ENDLIST`` when
the output ends with the break), and in live playlists every other segment of the break
carries ``EXT-X-CUE-OUT-CONT:ElapsedTime=<e>,Duration=<d>`` (SPEC_RULES 43, 45). A run with
a ``mark`` gets an ``EXT-X-DATERANGE`` for its creative when the output has a clock
(SPEC_RULES 34: a date range needs a program date).
"""

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from math import ceil, floor
from typing import Annotated, Literal, NamedTuple
from urllib.parse import urljoin

import msgspec

from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls.attributes import Attributes, parse_attributes
from edge_assembler.core.hls.layout import Piece, pieces_of, record
from edge_assembler.core.hls.lines import classify, tag, tag_name
from edge_assembler.core.hls.model import MediaPlaylist, Segment, tagged_segments
from edge_assembler.core.hls.parse import HEADER_TAGS

# Seconds two times may differ and still count as one instant: a few video frames, more
# than the drift of EXTINF values rounded to milliseconds and less than the sub-second
# date overlap BIS §6.2.1 allows.
TOLERANCE = 0.1
# CLASS of the date ranges written for inserted ad creatives.
AD_CLASS = "com.edge-assembler.ad"

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
_HEADER_PREFIXES = tuple(f"#{name}" for name in HEADER_TAGS)
# BIS §5.2: without IV, keys of the identity format use the media sequence number.
_IMPLICIT_IV_METHODS = frozenset({"AES-128", "SAMPLE-AES"})


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
    keep_tags: bool = True  # False: keep only media tags (see the module docstring)
    cue: CueSpan | None = None
    mark: AdMark | None = None
    lead: tuple[str, ...] = ()  # extra lines for the first segment (kept cue tags)
    # What ``take`` found out, so that ``join`` copies what needs no change (see
    # ``_Joiner``): the playlist the segments come from (None: not known) and the index of
    # the first there; the indices there of the segments with more lines than EXTINF and
    # URI (None: not known); whether a KEY is in effect or stated among them (an IV may be
    # implicit).
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


class Joined(NamedTuple):
    segments: tuple[Segment, ...]
    trailing: tuple[str, ...]  # lines for the tail, before EXT-X-ENDLIST
    shifts: tuple[tuple[datetime, timedelta], ...]  # dates from then on moved by delta
    ivs: bool  # explicit IVs were written (BIS §8: version 2)
    # The segments with more lines than EXTINF and URI, in order: the others are plain,
    # from the edited playlist or a source, and no playlist tag is on them.
    tagged: tuple[int, ...]
    pieces: tuple[Piece, ...]  # the layout of ``segments``


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


def _ceil(seconds: float) -> int:
    return ceil(seconds - 1e-6)


def round_duration(seconds: float) -> int:
    """BIS §4.4.3.1: the EXTINF duration rounded to the nearest integer (half up)."""
    return floor(seconds + 0.5)


def seconds(value: float) -> str:
    """A duration as written in tags: milliseconds, no trailing zeros."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------------- dates


def parse_date(text: str, line: int = 0) -> datetime:
    """An ISO 8601 date; UTC when it names no zone (BIS §4.4.4.6)."""
    try:
        date = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ManifestError(line, f"not an ISO 8601 date: {text.strip()!r}") from None
    return date if date.tzinfo else date.replace(tzinfo=UTC)


def format_date(date: datetime) -> str:
    """BIS §4.4.4.6: date-time-msec with its time zone (UTC as Z)."""
    text = date.isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def segment_dates(playlist: MediaPlaylist) -> list[datetime | None]:
    """The date of every segment: its own PROGRAM-DATE-TIME, extrapolated forward from
    the last one before it, or backward from the first one (BIS §6.3.3)."""
    return list(playlist.fact(_dates))


def _dates(playlist: MediaPlaylist) -> tuple[datetime | None, ...]:
    out: list[datetime | None] = []
    current: datetime | None = None
    for segment in playlist.segments:
        pdt = segment.tag(_PDT) if len(segment.raw) > 2 else None
        if pdt is not None:
            current = parse_date(pdt.value, pdt.number)
        out.append(current)
        if current is not None:
            current += timedelta(seconds=segment.duration)
    first = next((i for i, d in enumerate(out) if d is not None), None)
    if first is not None:
        back = out[first]
        assert back is not None
        for i in range(first - 1, -1, -1):
            back -= timedelta(seconds=playlist.segments[i].duration)
            out[i] = back
    return tuple(out)


def has_dates(playlist: MediaPlaylist) -> bool:
    return bool(playlist.fact(_marks).dated)


def date_ranged(playlist: MediaPlaylist) -> list[int]:
    """The segments with an EXT-X-DATERANGE line."""
    return playlist.fact(_marks).ranged


class _Marks(NamedTuple):
    """The segments with lines the seams look for, found in one pass over the tagged ones:
    a new playlist (an edit's result edited again) pays little for them."""

    scoped: list[int]  # KEY or MAP
    dated: list[int]  # PROGRAM-DATE-TIME
    ranged: list[int]  # DATERANGE


_MARK_PREFIXES = ("#EXT-X-KEY:", "#EXT-X-MAP:", "#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-DATERANGE")


def _marks(playlist: MediaPlaylist) -> _Marks:
    marks = _Marks([], [], [])
    segments = playlist.segments
    for index in playlist.fact(tagged_segments):
        for raw in segments[index].raw:
            if raw.startswith(_MARK_PREFIXES):
                if raw.startswith(_SCOPE_PREFIXES):
                    found = marks.scoped
                elif raw.startswith("#EXT-X-PROGRAM-DATE-TIME"):
                    found = marks.dated
                else:
                    found = marks.ranged
                if not found or found[-1] != index:
                    found.append(index)
    return marks


# ---------------------------------------------------------------------------- lines


def _end(body: str, crlf: bool) -> str:
    return body + "\r" if crlf else body


def _body(raw: str) -> str:
    return raw.removesuffix("\r")


@lru_cache(maxsize=1024)
def _resolve(body: str, base: str) -> str:
    """A KEY or MAP line with its URI made absolute (data: and other schemes stay)."""
    line = classify(body)
    attributes = parse_attributes(line.value, line.number)
    uri = attributes.get("URI")
    if uri is None:
        return body
    return f"#{line.name}:{attributes.replace({'URI': urljoin(base, uri)}).format()}"


class _Scope:
    """The MAP and the keys (by KEYFORMAT) in effect at a point of a playlist."""

    __slots__ = ("keys", "map")

    def __init__(self) -> None:
        self.map: str | None = None
        self.keys: dict[str, str] = {}

    def apply(self, body: str) -> None:
        """Take the KEY or MAP line ``body`` into account."""
        if tag_name(body) == "EXT-X-MAP":
            self.map = body
            return
        attributes = _key_attributes(body)
        if attributes.get("METHOD") == "NONE":
            # BIS §4.4.4.4: a key applies until the next one of its KEYFORMAT or a
            # METHOD of NONE.
            self.keys.clear()
        else:
            self.keys[attributes.get("KEYFORMAT") or "identity"] = body

    def lines(self) -> tuple[str, ...]:
        # Keys first: a key applies to the MAP declared after it (BIS §4.4.4.4).
        return (*self.keys.values(), *([self.map] if self.map else []))


@lru_cache(maxsize=512)
def _key_attributes(body: str) -> Attributes:
    """The attributes of a KEY line (cached: one key is stated on many segments)."""
    line = classify(body)
    return parse_attributes(line.value, line.number)


def _scope_of(lines: Iterable[str]) -> _Scope:
    scope = _Scope()
    for body in lines:
        scope.apply(body)
    return scope


def _apply_lines(scope: _Scope, lines: Iterable[str]) -> None:
    for raw in lines:
        if raw.startswith(_SCOPE_PREFIXES):
            scope.apply(_body(raw))


_SCOPE_PREFIXES = ("#EXT-X-KEY:", "#EXT-X-MAP:")
_SCOPE_TAGS = frozenset({"EXT-X-KEY", "EXT-X-MAP"})


class _ScopeIndex(NamedTuple):
    """Where a playlist states KEY and MAP lines, and the scope after each place, so the
    scope before any segment is one lookup, however long the playlist."""

    at: list[int]  # segments with KEY or MAP lines, in order
    after: list[tuple[str, ...]]  # the ``_Scope.lines()`` after each of them
    keyed: list[int]  # segments with KEY lines, in order


def _scope_index(playlist: MediaPlaylist) -> _ScopeIndex:
    index = _ScopeIndex([], [], [])
    scope = _Scope()
    for i in playlist.fact(_marks).scoped:
        raw = playlist.segments[i].raw
        _apply_lines(scope, raw)
        index.at.append(i)
        index.after.append(scope.lines())
        if any(line.startswith("#EXT-X-KEY:") for line in raw):
            index.keyed.append(i)
    return index


def _context(playlist: MediaPlaylist, start: int) -> tuple[str, ...]:
    """The KEY and MAP lines in effect before ``segments[start]``."""
    index = playlist.fact(_scope_index)
    before = bisect_left(index.at, start)
    return index.after[before - 1] if before else ()


def _keys_in(playlist: MediaPlaylist, start: int, end: int) -> bool:
    """Whether ``segments[start:end]`` state a KEY."""
    keyed = playlist.fact(_scope_index).keyed
    return bisect_left(keyed, start) < bisect_left(keyed, end)


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
    context = _context(playlist, start)
    keyed = bool(context) and any(body.startswith("#EXT-X-KEY:") for body in context)
    keyed = keyed or _keys_in(playlist, start, end)
    if base_url is not None:
        context = tuple(_resolve(body, base_url) for body in context)
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
        f"{_body(line)}@{offset}" + ("\r" if line.endswith("\r") else "")
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
    return playlist.fact(_dates) if has_dates(playlist) else None


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


def _continues(before: Run, after: Run) -> bool:
    return (
        before.source == after.source
        and after.first_msn == before.first_msn + len(before.segments)
        and before.base_url == after.base_url
    )


# ---------------------------------------------------------------------------- join


class _Clock(NamedTuple):
    """Start date and shift of every run (None: the output has no clock)."""

    starts: list[datetime | None]
    deltas: list[timedelta]


def _plan_clock(runs: Sequence[Run]) -> _Clock:
    anchor = _clock_start(runs)
    starts: list[datetime | None] = []
    deltas: list[timedelta] = []
    end = anchor
    for run in runs:
        start, delta = end, timedelta(0)
        if run.date is not None and (run.own_clock or end is None):
            start = run.date
            if end is not None and (end - start).total_seconds() > TOLERANCE:
                start, delta = end, end - run.date
        elif run.date is not None:
            start = run.date  # a run placed on the clock explicitly (a replaced break)
        starts.append(start)
        deltas.append(delta)
        if start is None:
            end = None
        elif run.own_clock and run.end_date is not None:
            end = run.end_date + delta
        else:
            end = start + timedelta(seconds=run.duration)
    return _Clock(starts, deltas)


def _clock_start(runs: Sequence[Run]) -> datetime | None:
    """The date of the output's start: the first dated run, minus what comes before it."""
    if all(run.date is None for run in runs):
        return None  # no clock (and no need to add up durations)
    before = 0.0
    for run in runs:
        if run.date is not None:
            return run.date - timedelta(seconds=before)
        before += run.duration
    return None


class _Place(NamedTuple):
    """Where a run lands in the output."""

    seam: bool  # after a run it does not continue
    start: datetime | None  # the date of its first segment (None: no clock)
    delta: timedelta  # how far its own dates moved
    moved: bool  # its media sequence numbers changed


@dataclass
class _Joiner:
    """Adds the runs' segments to ``out``, rewriting what their place needs.

    A segment may need lines only at a seam (the first of a run), where it states tags
    (more lines than EXTINF and URI) or where its run needs something on every segment (a
    live break's CUE-OUT-CONT, IVs of moved numbers, dates). Other segments are copied as
    slices, so joining costs what the runs' seams and tags cost, not their length.
    """

    first_msn: int
    live: bool
    crlf: bool
    clock: _Clock
    shifts: tuple[tuple[datetime, timedelta], ...]
    out: list[Segment] = field(default_factory=list)
    tagged: list[int] = field(default_factory=list)  # indices in ``out`` (see Joined)
    pieces: list[Piece] = field(default_factory=list)  # the layout of ``out``
    scope: _Scope = field(default_factory=_Scope)  # in effect after the last segment
    previous: Run | None = None
    ivs: bool = False

    def add(self, k: int, run: Run) -> None:
        place = _Place(
            seam=self.previous is not None and not _continues(self.previous, run),
            start=self.clock.starts[k],
            delta=self.clock.deltas[k],
            # Segments whose number moved lose an implicit IV (SPEC_RULES 26).
            moved=self.first_msn + len(self.out) != run.first_msn,
        )
        scope = _scope_of(run.context)
        if run.tagged is None or not self._inner_stay(run, place):
            self._add_each(run, scope, place)
        elif run.keep_tags:
            self._add_tagged(run, run.tagged, scope, place)
        elif not place.delta:
            self._add_own_forms(run, scope, place)
        else:
            self._add_each(run, scope, place)
        self.scope = scope
        self.previous = run

    def _inner_stay(self, run: Run, place: _Place) -> bool:
        """Whether the segments of ``run`` after its first keep their own form (their lines
        in the edited playlist, ``foreign`` for another), wherever the run lands, but for
        dates they state: no break marker to add (a live break), no implicit IV to write
        out (numbers moved under a key) and no date to give them (the output has no clock,
        or it is the run's own)."""
        return (
            not (self.live and run.cue is not None)
            and not (place.moved and run.keyed)
            and (place.start is None or (run.own_clock and run.date is not None))
        )

    def _add_tagged(self, run: Run, tagged: tuple[int, ...], scope: _Scope, place: _Place) -> None:
        """Rewrite the first segment and the tagged ones; copy the plain segments between
        them as slices. A long content run costs what its tags cost, not its length."""
        segments, offset = run.segments, run.offset
        self._put(self._rewrite(run, 0, scope, place, None))
        if not self.shifts and not place.delta:
            # No date moves: the tagged segments stay as they are too (see ``_inner``);
            # only the keys and map they state change the scope.
            base = len(self.out) - 1 - offset
            for i in tagged:
                if i > offset:
                    _apply_lines(scope, segments[i - offset].raw)
                    self.tagged.append(base + i)
            self._copy(run, 1, len(segments))
            return
        done = 1
        for i in tagged:
            if i > offset:
                self._copy(run, done, i - offset)
                self._put(self._rewrite(run, i - offset, scope, place, None))
                done = i - offset + 1
        self._copy(run, done, len(segments))

    def _copy(self, run: Run, start: int, stop: int) -> None:
        """Segments ``start:stop`` of ``run``, plain or left as they are."""
        self.out.extend(run.segments[start:stop])
        if run.origin is None:
            self.pieces.extend(run.segments[start:stop])
        else:
            self.pieces.extend(pieces_of(run.origin, run.offset + start, run.offset + stop))

    def _add_own_forms(self, run: Run, scope: _Scope, place: _Place) -> None:
        """A foreign run whose dates do not move: after the first segment, each is its
        ``foreign`` form, whose keys and map move the scope."""
        self._put(self._rewrite(run, 0, scope, place, None))
        for segment in run.segments[1:]:
            own = foreign(segment, run.base_url, run.own_clock, self.crlf)
            if len(own.raw) > 2:
                _apply_lines(scope, own.raw)
            self._put(own)

    def _add_each(self, run: Run, scope: _Scope, place: _Place) -> None:
        elapsed = 0.0
        for j, segment in enumerate(run.segments):
            if j and self._as_is(run, segment, scope, place.moved):
                self.out.append(segment)  # plain
                self.pieces.append(segment)
            else:
                self._put(self._rewrite(run, j, scope, place, elapsed))
            elapsed += segment.duration

    def _put(self, segment: Segment) -> None:
        if len(segment.raw) > 2:
            self.tagged.append(len(self.out))
        self.out.append(segment)
        self.pieces.append(segment)

    def _rewrite(
        self, run: Run, j: int, scope: _Scope, place: _Place, elapsed: float | None
    ) -> Segment:
        """Segment ``j`` of ``run`` with what its place in the output needs."""
        segment = run.segments[j]
        if not run.keep_tags:
            segment = foreign(segment, run.base_url, run.own_clock, self.crlf)
        lines = list(segment.raw)
        if j == 0:
            lines = self._first(run, lines, scope, place.seam, place.start, place.delta)
        else:
            lines = self._inner(run, lines, place.start, elapsed, place.delta)
        if self.shifts and run.keep_tags and len(lines) > 2:
            lines = [_shift_daterange(raw, self.shifts) for raw in lines]
        _apply_lines(scope, lines)
        key = _implicit_iv_key(scope) if place.moved else None
        if key is not None:
            lines = _explicit_iv(lines, key, run.first_msn + j, self.crlf)
            self.ivs = True
        return _segment(segment, lines)

    def _as_is(self, run: Run, segment: Segment, scope: _Scope, moved: bool) -> bool:
        """Whether a segment inside a run of the edited playlist stays as it is: nothing
        but its EXTINF and URI, no break marker to add, no IV to write out."""
        return (
            len(segment.raw) == 2
            and run.keep_tags
            and not (self.live and run.cue is not None)
            and not (moved and _implicit_iv_key(scope) is not None)
        )

    def _first(
        self,
        run: Run,
        lines: list[str],
        scope: _Scope,
        seam: bool,
        date: datetime | None,
        delta: timedelta,
    ) -> list[str]:
        names = {tag_name(raw) for raw in lines[:-1]}
        if seam and scope.map is None and "EXT-X-MAP" not in names:
            self._refuse_leaving_a_map()
        top = []
        if seam and "EXT-X-DISCONTINUITY" not in names:
            top.append(self._tag("EXT-X-DISCONTINUITY"))
        elif self.previous is None and not run.keep_tags:
            # A foreign run opening the output: its own leading discontinuity means nothing.
            lines = [raw for raw in lines if tag_name(raw) != "EXT-X-DISCONTINUITY"]
        top += [_end(_body(raw), self.crlf) for raw in run.lead]
        top += self._cue_lines(run)
        if seam or self.previous is None:
            top += self._scope_lines(scope, lines, names)
        if date is not None and self._dates_first(run, seam, _PDT in names, delta):
            lines = [raw for raw in lines if tag_name(raw) != _PDT]
            top.append(self._tag(_PDT, format_date(date)))
        if date is not None and run.mark is not None:
            top.append(self._daterange(run.mark, date))
        return top + lines

    def _refuse_leaving_a_map(self) -> None:
        """SPEC_RULES 23, BIS §4.4.4.5: a MAP applies to every later segment until the next
        MAP, and nothing ends its scope, so a segment without a MAP (TS, packed audio)
        cannot follow one with a MAP."""
        if self.scope.map is not None:
            raise EditError(
                "segments without EXT-X-MAP cannot follow segments with one (BIS §4.4.4.5: "
                "a MAP applies until the next MAP); package the ad in the content's container"
            )

    def _dates_first(self, run: Run, seam: bool, dated: bool, delta: timedelta) -> bool:
        """Whether the first segment of ``run`` gets a date written by us."""
        if not run.own_clock or delta:
            return True
        if dated:
            return False  # its own date is right: keep the line as it is
        return seam or run.date is None

    def _inner(
        self,
        run: Run,
        lines: list[str],
        start: datetime | None,
        elapsed: float | None,
        delta: timedelta,
    ) -> list[str]:
        """``elapsed``: the run's time before the segment (None when the run does not need
        it, see ``_inner_stay``)."""
        top = []
        if run.cue is not None and self.live:
            assert elapsed is not None
            top.append(self._cont(run.cue.elapsed + elapsed, run.cue.duration))
        if start is None:
            return top + lines
        if run.own_clock and run.date is not None:
            moved = delta and len(lines) > 2
            return top + ([_shift_pdt(raw, delta) for raw in lines] if moved else lines)
        assert elapsed is not None
        if any(tag_name(raw) == "EXT-X-DISCONTINUITY" for raw in lines):
            lines = [raw for raw in lines if tag_name(raw) != _PDT]
            top.append(self._tag(_PDT, format_date(start + timedelta(seconds=elapsed))))
        return top + lines

    def _cue_lines(self, run: Run) -> list[str]:
        before = self.previous.cue if self.previous is not None else None
        if run.cue is None:
            return [self._tag("EXT-X-CUE-IN")] if before is not None else []
        if before is not None and run.cue.elapsed > TOLERANCE:
            # The same break goes on: live players get the elapsed time.
            return [self._cont(run.cue.elapsed, run.cue.duration)] if self.live else []
        closing = [self._tag("EXT-X-CUE-IN")] if before is not None else []
        if run.cue.elapsed > TOLERANCE:
            # The listed part starts inside the break (a live window).
            return [*closing, self._cont(run.cue.elapsed, run.cue.duration)]
        if run.cue.duration is None:
            return [*closing, self._tag("EXT-X-CUE-OUT")]
        return [*closing, self._tag("EXT-X-CUE-OUT", f"DURATION={seconds(run.cue.duration)}")]

    def _scope_lines(self, scope: _Scope, lines: list[str], names: set[str]) -> list[str]:
        """KEY and MAP lines that put the output in the scope ``scope`` (the run's own
        playlist before its first segment), leaving out what the segment states itself
        (``names``: the tag names of its lines)."""
        own = []
        if not names.isdisjoint(_SCOPE_TAGS):
            own = [_body(raw) for raw in lines[:-1] if tag_name(raw) in _SCOPE_TAGS]
        elif not (scope.keys or scope.map or self.scope.keys):
            return []  # no key or map on either side: nothing to state
        own_scope = _scope_of(own)
        top = []
        if not any(tag_name(b) == "EXT-X-KEY" and _is_none(b) for b in own):
            stated = scope.keys.keys() | own_scope.keys.keys()
            if any(kf not in stated for kf in self.scope.keys):
                top.append(self._tag("EXT-X-KEY", "METHOD=NONE"))
            top += [_end(b, self.crlf) for kf, b in scope.keys.items() if kf not in own_scope.keys]
        if scope.map is not None and own_scope.map is None:
            top.append(_end(scope.map, self.crlf))
        return top

    def _daterange(self, mark: AdMark, date: datetime) -> str:
        start = format_date(date + timedelta(seconds=mark.start))
        value = (
            f'ID="{mark.id}",CLASS="{AD_CLASS}",START-DATE="{start}",'
            f"DURATION={seconds(mark.duration)}"
        )
        if mark.creative_id is not None:
            value += f',X-AD-CREATIVE-ID="{mark.creative_id}"'
        return self._tag("EXT-X-DATERANGE", value)

    def _cont(self, elapsed: float, duration: float | None) -> str:
        value = f"ElapsedTime={seconds(elapsed)}"
        if duration is not None:
            value += f",Duration={seconds(duration)}"
        return self._tag("EXT-X-CUE-OUT-CONT", value)

    def _tag(self, name: str, value: str | None = None) -> str:
        return tag(name, value, crlf=self.crlf)


def join(runs: Sequence[Run], *, first_msn: int, live: bool, ended: bool, crlf: bool) -> Joined:
    """The segments of ``runs`` in order, with the tags every seam needs.

    ``first_msn`` is the media sequence number of the output's first segment; ``ended``
    says whether the output ends (EXT-X-ENDLIST), so a break at its end can be closed.
    """
    clock = _plan_clock(runs)
    shifts = tuple(
        (run.date, delta)
        for run, delta in zip(runs, clock.deltas, strict=True)
        if delta and run.date is not None
    )
    joiner = _Joiner(first_msn, live, crlf, clock, shifts)
    for k, run in enumerate(runs):
        joiner.add(k, run)
    closing = joiner.previous is not None and joiner.previous.cue is not None and ended
    trailing = (tag("EXT-X-CUE-IN", crlf=crlf),) if closing else ()
    return Joined(
        tuple(joiner.out),
        trailing,
        shifts,
        joiner.ivs,
        tuple(joiner.tagged),
        tuple(joiner.pieces),
    )


def _is_none(body: str) -> bool:
    return _key_attributes(body).get("METHOD") == "NONE"


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
            body = _body(raw)
            if base_url is not None and name in ("EXT-X-KEY", "EXT-X-MAP"):
                body = _resolve(body, base_url)
            out.append(_end(body, crlf))
    uri = segment.uri if base_url is None else urljoin(base_url, segment.uri)
    out.append(_end(uri, crlf))
    return _segment(segment, out)


def _segment(original: Segment, lines: list[str]) -> Segment:
    if tuple(lines) == original.raw:
        return original
    discontinuity = any(_body(raw).rstrip() == "#EXT-X-DISCONTINUITY" for raw in lines)
    return Segment(
        tuple(lines), lines[-1].strip(), original.duration, original.title, discontinuity, 0
    )


def _implicit_iv_key(scope: _Scope) -> str | None:
    """The key in effect whose IV is the media sequence number (BIS §5.2: a key of the
    identity format without IV), if any."""
    key = scope.keys.get("identity")
    if key is None:
        return None
    attributes = _key_attributes(key)
    if attributes.get("METHOD") not in _IMPLICIT_IV_METHODS or "IV" in attributes:
        return None
    return key


def _explicit_iv(lines: list[str], key: str, msn: int, crlf: bool) -> list[str]:
    """``lines`` with the IV of ``key`` that a moved segment used implicitly written out:
    its original media sequence number."""
    explicit = f"{key},IV=0x{msn:032X}"
    last = max((i for i, raw in enumerate(lines) if _body(raw) == key), default=None)
    if last is None:
        return [_end(explicit, crlf), *lines]
    return [*lines[:last], _end(explicit, crlf), *lines[last + 1 :]]


def _shift_pdt(raw: str, delta: timedelta) -> str:
    if not raw.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
        return raw
    line = classify(raw)
    moved = format_date(parse_date(line.value, line.number) + delta)
    return f"#{_PDT}:{moved}" + ("\r" if raw.endswith("\r") else "")


def _shift_daterange(raw: str, shifts: Sequence[tuple[datetime, timedelta]]) -> str:
    """A date range that starts after a run whose dates moved moves with it."""
    if not raw.startswith("#EXT-X-DATERANGE:"):
        return raw
    line = classify(raw)
    attributes = parse_attributes(line.value, line.number)
    start = attributes.get("START-DATE")
    if start is None:
        return raw
    date = parse_date(start, line.number)
    deltas = [delta for since, delta in sorted(shifts) if since <= date]
    if not deltas:
        return raw
    changes = {"START-DATE": format_date(date + deltas[-1])}
    end = attributes.get("END-DATE")
    if end is not None:
        changes["END-DATE"] = format_date(parse_date(end, line.number) + deltas[-1])
    moved = f"#EXT-X-DATERANGE:{attributes.replace(changes).format()}"
    return moved + ("\r" if raw.endswith("\r") else "")


# ---------------------------------------------------------------------------- assemble


def assemble(
    playlist: MediaPlaylist,
    joined: Joined,
    *,
    inserted: Sequence[Segment],
    tail: tuple[str, ...] | None = None,
) -> MediaPlaylist:
    """``playlist`` with the joined segments and the playlist tags they need: the target
    duration (SPEC_RULES 17-18), the version (SPEC_RULES 5), the discontinuity sequence
    (SPEC_RULES 11) and the tail with the closing cue and moved date ranges.

    ``inserted`` are the segments of the foreign runs: only they, and the IVs written
    out, can need a later version than the playlist already declares. ``tail``: the
    playlist's tail as the edit changed it.

    Only the tagged segments are looked at: the others are plain (EXTINF and URI)."""
    head = list(playlist.head)
    segments = _hoist(head, playlist, joined)
    needed = max(required_version(inserted, playlist), 2 if joined.ivs else 1)
    version = max(playlist.version or 1, needed)
    target = _target(playlist, inserted, version)
    if target != playlist.target_duration:
        _set(head, "EXT-X-TARGETDURATION", str(target), playlist.crlf)
    if version != (playlist.version or 1):
        _set(head, "EXT-X-VERSION", str(version), playlist.crlf)
    if playlist.live and any(segments[i].discontinuity for i in joined.tagged):
        _ensure(head, "EXT-X-DISCONTINUITY-SEQUENCE", playlist.discontinuity_sequence, playlist)
    assembled = playlist.evolve(
        head=tuple(head),
        segments=segments,
        tail=_tail(playlist.tail if tail is None else tail, joined),
        target_duration=target,
        version=version if playlist.version or version > 1 else None,
    )
    tagged = tuple(i for i in joined.tagged if len(segments[i].raw) > 2)  # after _hoist
    assembled.remember(tagged_segments, tagged)
    if segments is joined.segments:  # else _hoist changed a segment the pieces hold
        record(assembled, joined.pieces)
    return assembled


def _target(playlist: MediaPlaylist, inserted: Sequence[Segment], version: int) -> int:
    """BIS §4.4.3.1, §8: from version 6 every EXTINF rounded to the nearest integer, before
    it every EXTINF, is at most the target duration."""
    covering = round_duration if version >= 6 else _ceil
    longest = max((covering(s.duration) for s in inserted), default=0)
    if longest <= playlist.target_duration:
        return playlist.target_duration
    if playlist.live:
        # SPEC_RULES 18, BIS §6.2.1: the target duration of a live playlist MUST NOT change.
        raise EditError(
            f"an inserted segment of {longest} s exceeds the target duration "
            f"{playlist.target_duration} s of a live playlist"
        )
    return longest


def _tail(tail: tuple[str, ...], joined: Joined) -> tuple[str, ...]:
    lines = list(tail)
    if joined.shifts:
        lines = [_shift_daterange(raw, joined.shifts) for raw in lines]
    if joined.trailing:
        at = next((i for i, r in enumerate(lines) if tag_name(r) == "EXT-X-ENDLIST"), 0)
        lines[at:at] = joined.trailing
    return tuple(lines)


def _set(head: list[str], name: str, value: str, crlf: bool) -> None:
    """Rewrite the head's ``name`` tag, or add it after #EXTM3U."""
    for i, raw in enumerate(head):
        if tag_name(raw) == name:
            head[i] = tag(name, value, crlf=raw.endswith("\r"))
            return
    at = next((i + 1 for i, raw in enumerate(head) if tag_name(raw) == "EXTM3U"), 0)
    head.insert(at, tag(name, value, crlf=crlf))


def _ensure(head: list[str], name: str, value: int, playlist: MediaPlaylist) -> None:
    if not any(tag_name(raw) == name for raw in head):
        head.append(tag(name, str(value), crlf=playlist.crlf))


def _hoist(head: list[str], playlist: MediaPlaylist, joined: Joined) -> tuple[Segment, ...]:
    """Playlist tags written among the first segment's lines (seen in the wild) move to
    the head when a seam changed that segment, since it may no longer be the first
    (BIS §4.4.3.2-3: MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE precede every segment)."""
    segments = joined.segments
    stray = [i for i in joined.tagged if _has_header_tags(segments[i].raw)]
    if not stray:
        return segments
    kept = {id(segment) for segment in playlist.segments}
    moved = [i for i in stray if id(segments[i]) not in kept]
    if not moved:
        return segments
    out = list(segments)
    for i in moved:
        segment = out[i]
        head += [r for r in segment.raw if tag_name(r) in HEADER_TAGS]
        out[i] = _segment(segment, [r for r in segment.raw if tag_name(r) not in HEADER_TAGS])
    return tuple(out)


@lru_cache(maxsize=4096)
def _has_header_tags(raw: tuple[str, ...]) -> bool:
    """Cached: the same segments are joined for many requests."""
    return any(r.startswith(_HEADER_PREFIXES) and tag_name(r) in HEADER_TAGS for r in raw)


def required_version(segments: Iterable[Segment], playlist: MediaPlaylist) -> int:
    """The compatibility version the segment lines need (SPEC_RULES 5, BIS §8)."""
    return lines_version(segments, playlist.i_frames_only)


def lines_version(segments: Iterable[Segment], i_frames_only: bool) -> int:
    """``required_version`` for the segments of a playlist that is or is not I-frames only."""
    return max((_version_of(s.raw, i_frames_only) for s in segments), default=1)


@lru_cache(maxsize=4096)
def _version_of(raw: tuple[str, ...], i_frames_only: bool) -> int:
    """The version a segment's lines need (cached: an ad is inserted for many requests)."""
    return max((_line_version(line, i_frames_only) for line in raw[:-1]), default=1)


def _key_version(raw: str, i_frames_only: bool) -> int:
    attributes = _key_attributes(_body(raw))
    if "KEYFORMAT" in attributes or "KEYFORMATVERSIONS" in attributes:
        return 5
    if (attributes.get("METHOD") or "").startswith("SAMPLE-AES"):
        return 5
    return 2 if "IV" in attributes else 1


# BIS §8: the lowest version that allows each segment tag, by the start of its line.
_VERSIONS: dict[str, Callable[[str, bool], int]] = {
    "#EXTINF:": lambda raw, i_frames: 3 if "." in raw[8:].partition(",")[0] else 1,
    "#EXT-X-BYTERANGE:": lambda raw, i_frames: 4,
    "#EXT-X-MAP:": lambda raw, i_frames: 5 if i_frames else 6,
    "#EXT-X-KEY:": _key_version,
}


def _line_version(raw: str, i_frames_only: bool) -> int:
    rule = _VERSIONS.get(raw[: raw.find(":") + 1])
    return rule(raw, i_frames_only) if rule else 1
