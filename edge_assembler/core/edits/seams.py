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
  23; BIS §4.4.4.5). HLS cannot end a MAP's scope, so a run without MAP (TS) after one with
  a MAP (fMP4) is left to the discontinuity, where players probe the container (the
  invariant check of ``core.hls.invariants`` reports such a seam under SPEC_RULES 23);
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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from math import ceil, floor
from typing import Annotated, Literal, NamedTuple
from urllib.parse import urljoin

import msgspec

from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls.attributes import Attributes, parse_attributes
from edge_assembler.core.hls.lines import classify, tag, tag_name
from edge_assembler.core.hls.model import MediaPlaylist, Segment
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


@dataclass(frozen=True, slots=True)
class Run:
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

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)

    def evolve(self, **changes: object) -> "Run":
        return replace(self, **changes)  # type: ignore[arg-type]


class Joined(NamedTuple):
    segments: tuple[Segment, ...]
    trailing: tuple[str, ...]  # lines for the tail, before EXT-X-ENDLIST
    shifts: tuple[tuple[datetime, timedelta], ...]  # dates from then on moved by delta
    ivs: bool  # explicit IVs were written (BIS §8: version 2)


# ---------------------------------------------------------------------------- timing


def boundaries(playlist: MediaPlaylist) -> list[float]:
    """Times of the segment boundaries: 0, the end of each segment."""
    out, t = [0.0], 0.0
    for segment in playlist.segments:
        t += segment.duration
        out.append(t)
    return out


def snap(playlist: MediaPlaylist, at: float, how: Snap = "nearest") -> int:
    """The index of the segment boundary for time ``at`` (0: before the first segment).

    Only the durations decide, so every rendition of a presentation snaps the same way:
    renditions cut at the same media times (aligned segmentation, AAC segments drifting
    by less than a frame) get seams within ``TOLERANCE`` of each other. A tie between two
    boundaries goes to the earlier one.
    """
    edges = boundaries(playlist)
    if at > edges[-1] + TOLERANCE:
        raise EditError(f"offset {at:g} s is beyond the end ({edges[-1]:g} s)")
    if how == "before":
        return max(i for i, t in enumerate(edges) if t <= at + TOLERANCE)
    if how == "after":
        return min(i for i, t in enumerate(edges) if t >= at - TOLERANCE)
    return min(range(len(edges)), key=lambda i: (abs(edges[i] - at), i))


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
    return out


def has_dates(playlist: MediaPlaylist) -> bool:
    return any(
        raw.startswith("#EXT-X-PROGRAM-DATE-TIME")
        for segment in playlist.segments
        if len(segment.raw) > 2
        for raw in segment.raw
    )


# ---------------------------------------------------------------------------- lines


def _end(body: str, crlf: bool) -> str:
    return body + "\r" if crlf else body


def _body(raw: str) -> str:
    return raw.removesuffix("\r")


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


def _scope_before(segments: Sequence[Segment], index: int) -> _Scope:
    scope = _Scope()
    for segment in segments[:index]:
        if len(segment.raw) > 2:
            _apply_lines(scope, segment.raw)
    return scope


def _apply_lines(scope: _Scope, lines: Iterable[str]) -> None:
    for raw in lines:
        if raw.startswith(("#EXT-X-KEY:", "#EXT-X-MAP:")):
            scope.apply(_body(raw))


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
) -> Run:
    """Segments ``start:end`` of ``playlist`` as a run, with the state a seam before them
    needs (keys, map, byte-range offset) and, for a run keeping its own clock, its dates
    (``dates``: the playlist's ``segment_dates``, None when it has none)."""
    if not 0 <= start < end <= len(playlist.segments):
        raise EditError(f"no segments {start}:{end} in {source!r}")
    segments = list(playlist.segments[start:end])
    segments[0] = _explicit_byterange(playlist.segments, start)
    context = _scope_before(playlist.segments, start).lines()
    if base_url is not None:
        context = tuple(_resolve(body, base_url) for body in context)
    date = end_date = None
    if own_clock and dates is not None and dates[start] is not None:
        date, last = dates[start], dates[end - 1]
        assert last is not None
        end_date = last + timedelta(seconds=segments[-1].duration)
    return Run(
        source=source,
        segments=tuple(segments),
        first_msn=playlist.msn(start),
        context=context,
        date=date,
        end_date=end_date,
        own_clock=own_clock,
        base_url=base_url,
        keep_tags=keep_tags,
    )


def _explicit_byterange(segments: Sequence[Segment], index: int) -> Segment:
    """``segments[index]`` with the offset of a BYTERANGE that relied on the segment
    before it written out (BIS §4.4.4.2), since a seam puts another segment there."""
    segment = segments[index]
    if index == 0 or len(segment.raw) < 3:
        return segment
    found = segment.tag("EXT-X-BYTERANGE")
    if found is None or "@" in found.value:
        return segment
    offset = 0
    for earlier in segments[:index]:
        byterange = earlier.tag("EXT-X-BYTERANGE")
        if byterange is None:
            offset = 0
            continue
        length, _, start = byterange.value.strip().partition("@")
        offset = (int(start) if start else offset) + int(length)
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


def dates_of(playlist: MediaPlaylist) -> list[datetime | None] | None:
    """The playlist's ``segment_dates``, None when it has no PROGRAM-DATE-TIME."""
    return segment_dates(playlist) if has_dates(playlist) else None


def content(
    playlist: MediaPlaylist, start: int, end: int, dates: Sequence[datetime | None] | None
) -> list[Run]:
    """Segments ``start:end`` of the edited playlist as a content run ([] when empty)."""
    if start >= end:
        return []
    return [take(playlist, start, end, source=SELF, own_clock=True, dates=dates)]


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
    first_msn: int
    live: bool
    crlf: bool
    clock: _Clock
    shifts: tuple[tuple[datetime, timedelta], ...]
    out: list[Segment] = field(default_factory=list)
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
        elapsed = 0.0
        for j, segment in enumerate(run.segments):
            if j and self._as_is(run, segment, scope, place.moved):
                self.out.append(segment)
            else:
                self.out.append(self._rewrite(run, j, scope, place, elapsed))
            elapsed += segment.duration
        self.scope = scope
        self.previous = run

    def _rewrite(self, run: Run, j: int, scope: _Scope, place: _Place, elapsed: float) -> Segment:
        """Segment ``j`` of ``run`` with what its place in the output needs."""
        segment = run.segments[j]
        lines = self._lines(run, segment)
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

    def _lines(self, run: Run, segment: Segment) -> list[str]:
        if run.keep_tags:
            return list(segment.raw)
        keep = _MEDIA_TAGS | {_PDT} if run.own_clock else _MEDIA_TAGS
        out = []
        for raw in segment.raw[:-1]:
            name = tag_name(raw)
            if name in keep:
                body = _body(raw)
                if run.base_url is not None and name in ("EXT-X-KEY", "EXT-X-MAP"):
                    body = _resolve(body, run.base_url)
                out.append(_end(body, self.crlf))
        uri = segment.uri if run.base_url is None else urljoin(run.base_url, segment.uri)
        out.append(_end(uri, self.crlf))
        return out

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
        top = []
        if seam and "EXT-X-DISCONTINUITY" not in names:
            top.append(self._tag("EXT-X-DISCONTINUITY"))
        elif self.previous is None and not run.keep_tags:
            # A foreign run opening the output: its own leading discontinuity means nothing.
            lines = [raw for raw in lines if tag_name(raw) != "EXT-X-DISCONTINUITY"]
        top += [_end(_body(raw), self.crlf) for raw in run.lead]
        top += self._cue_lines(run)
        if seam or self.previous is None:
            top += self._scope_lines(scope, lines)
        if date is not None and self._dates_first(run, seam, _PDT in names, delta):
            lines = [raw for raw in lines if tag_name(raw) != _PDT]
            top.append(self._tag(_PDT, format_date(date)))
        if date is not None and run.mark is not None:
            top.append(self._daterange(run.mark, date))
        return top + lines

    def _dates_first(self, run: Run, seam: bool, dated: bool, delta: timedelta) -> bool:
        """Whether the first segment of ``run`` gets a date written by us."""
        if not run.own_clock or delta:
            return True
        if dated:
            return False  # its own date is right: keep the line as it is
        return seam or run.date is None

    def _inner(
        self, run: Run, lines: list[str], start: datetime | None, elapsed: float, delta: timedelta
    ) -> list[str]:
        top = []
        if run.cue is not None and self.live:
            top.append(self._cont(run.cue.elapsed + elapsed, run.cue.duration))
        if start is None:
            return top + lines
        if run.own_clock and run.date is not None:
            moved = delta and len(lines) > 2
            return top + ([_shift_pdt(raw, delta) for raw in lines] if moved else lines)
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

    def _scope_lines(self, scope: _Scope, lines: list[str]) -> list[str]:
        """KEY and MAP lines that put the output in the scope ``scope`` (the run's own
        playlist before its first segment), leaving out what the segment states itself."""
        own = [_body(raw) for raw in lines[:-1] if tag_name(raw) in ("EXT-X-KEY", "EXT-X-MAP")]
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
    return Joined(tuple(joiner.out), trailing, shifts, joiner.ivs)


def _is_none(body: str) -> bool:
    return _key_attributes(body).get("METHOD") == "NONE"


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
    playlist: MediaPlaylist, joined: Joined, *, inserted: Sequence[Segment]
) -> MediaPlaylist:
    """``playlist`` with the joined segments and the playlist tags they need: the target
    duration (SPEC_RULES 17-18), the version (SPEC_RULES 5), the discontinuity sequence
    (SPEC_RULES 11) and the tail with the closing cue and moved date ranges.

    ``inserted`` are the segments of the foreign runs: only they, and the IVs written
    out, can need a later version than the playlist already declares."""
    kept = {id(segment) for segment in playlist.segments}
    changed = [i for i, segment in enumerate(joined.segments) if id(segment) not in kept]
    head = list(playlist.head)
    segments = _hoist(head, joined.segments, changed)
    needed = max(required_version(inserted, playlist), 2 if joined.ivs else 1)
    version = max(playlist.version or 1, needed)
    target = _target(playlist, inserted, version)
    if target != playlist.target_duration:
        _set(head, "EXT-X-TARGETDURATION", str(target), playlist.crlf)
    if version != (playlist.version or 1):
        _set(head, "EXT-X-VERSION", str(version), playlist.crlf)
    if playlist.live and any(s.discontinuity for s in segments):
        _ensure(head, "EXT-X-DISCONTINUITY-SEQUENCE", playlist.discontinuity_sequence, playlist)
    return playlist.evolve(
        head=tuple(head),
        segments=segments,
        tail=_tail(playlist.tail, joined),
        target_duration=target,
        version=version if playlist.version or version > 1 else None,
    )


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


def _hoist(
    head: list[str], segments: tuple[Segment, ...], changed: Iterable[int]
) -> tuple[Segment, ...]:
    """Playlist tags written among the first segment's lines (seen in the wild) move to
    the head when a seam changed that segment, since it may no longer be the first
    (BIS §4.4.3.2-3: MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE precede every segment)."""
    out = list(segments)
    for i in changed:
        segment = out[i]
        if any(r.startswith(_HEADER_PREFIXES) and tag_name(r) in HEADER_TAGS for r in segment.raw):
            head += [r for r in segment.raw if tag_name(r) in HEADER_TAGS]
            out[i] = _segment(segment, [r for r in segment.raw if tag_name(r) not in HEADER_TAGS])
    return tuple(out)


def required_version(segments: Iterable[Segment], playlist: MediaPlaylist) -> int:
    """The compatibility version the segment lines need (SPEC_RULES 5, BIS §8)."""
    need = 1
    for segment in segments:
        for raw in segment.raw[:-1]:
            need = max(need, _line_version(raw, playlist.i_frames_only))
    return need


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
