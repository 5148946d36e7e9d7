"""Ad breaks signalled in a media playlist, in every cue dialect seen in the wild.

SPEC_RULES 40-45. Two families are read:

* in-segment markers (SPEC_RULES 43): ``EXT-X-CUE-OUT`` / ``-CUE-OUT-CONT`` / ``-CUE-IN`` /
  ``-CUE-SPAN`` (Elemental, Envivio, MediaConvert, USP), ``EXT-OATCLS-SCTE35``,
  ``EXT-X-SCTE35`` / ``EXT-SCTE35`` (Adobe) and ``EXT-X-SPLICEPOINT-SCTE35`` (MediaTailor).
  A tag sits before the segment it applies to; one state machine reads them in order.
* ``EXT-X-DATERANGE`` with ``SCTE35-OUT`` / ``-IN`` / ``-CMD`` (SPEC_RULES 40-41, BIS
  §4.4.5.1.1), paired by ID and placed by date when the playlist has PROGRAM-DATE-TIME,
  else by where the tags stand.

A break is an ad avail: SCTE-35 splice_insert, or a time_signal whose segmentation type is a
break, advertisement, placement opportunity, promo or ad block (SCTE 35 Table 23). Program,
chapter, network and content-identification signals are not breaks, and neither is a lone
time_signal (``c:hls/m3u8py__live-oatcls-time-signal-only.m3u8``). When two dialects signal the
same span, the DATERANGE wins. A cue that cannot be read is ignored; detection never raises.
"""

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from functools import cached_property, lru_cache
from typing import Final, NamedTuple

from edge_assembler.core.hls.lines import classify, tag_name
from edge_assembler.core.hls.model import MediaPlaylist, tagged_segments
from edge_assembler.core.scte35 import (
    SPLICE_INSERT,
    TIME_SIGNAL,
    Scte35Error,
    SpliceInfo,
    decode,
)

# SCTE 35 Table 23: the segmentation types that open and close a replaceable avail.
AVAIL_STARTS: Final = frozenset({0x22, 0x30, 0x32, 0x34, 0x36, 0x3C, 0x3E, 0x44, 0x46})
AVAIL_ENDS: Final = frozenset(t + 1 for t in AVAIL_STARTS)
# Dates and durations come as millisecond text: closer than this is the same instant.
_SAME_INSTANT: Final = 0.05


@dataclass(frozen=True, slots=True)
class Break:
    """One ad break as seen in this playlist window."""

    id: str  # DATERANGE ID, else the SCTE-35 event id, else f"msn-{start_msn}"
    start_index: int  # first segment of the break (0 when the window starts inside it)
    end_index: int  # first segment after it (len(segments) while it is still open)
    start_msn: int
    signalled_duration: float | None
    elapsed_before_window: float
    closed: bool  # an IN marker was seen, or the signalled duration is covered
    dialect: str  # "cue-out" | "daterange" | "oatcls" | "scte35-tag" | "splicepoint" | "cue-span"
    scte35: SpliceInfo | None
    start_date: str | None

    @property
    def duration(self) -> float | None:
        return self.signalled_duration


def detect_breaks(playlist: MediaPlaylist) -> list[Break]:
    """The ad breaks of ``playlist``, in playlist order, never overlapping."""
    return list(playlist.fact(_breaks))


def _breaks(playlist: MediaPlaylist) -> tuple[Break, ...]:
    """Every request for a parsed playlist asks for its breaks: they are a fact of it."""
    scan = _scan(playlist)
    if not scan.markers and not scan.dateranges:
        return ()
    window = _Window(playlist, scan.anchors)
    legacy = _MarkerReader(window).read(scan.markers)
    if not scan.dateranges and len(legacy) < 2:
        return tuple(legacy)  # nothing to merge or order
    ranged = _daterange_breaks(window, scan.dateranges) if scan.dateranges else []
    found = [_completed(b, legacy) for b in ranged]
    kept: list[Break] = []
    for brk in found + legacy:
        if not any(_clash(brk, other) for other in kept):
            kept.append(brk)
    return tuple(sorted(kept, key=lambda b: (b.start_index, b.end_index)))


def covered_duration(playlist: MediaPlaylist, brk: Break) -> float:
    """The EXTINF sum of the break's segments in this window (SPEC_RULES 44)."""
    return sum(s.duration for s in playlist.segments[brk.start_index : brk.end_index])


def _completed(brk: Break, legacy: Sequence[Break]) -> Break:
    """An open DATERANGE break takes its end from a legacy marker pair at the same start
    (one break signalled twice, the CUE-IN known before the DATERANGE's END-DATE)."""
    if brk.closed:
        return brk
    twin = next((b for b in legacy if b.start_index == brk.start_index and b.closed), None)
    if twin is None:
        return brk
    duration = brk.signalled_duration
    duration = twin.signalled_duration if duration is None else duration
    return replace(brk, end_index=twin.end_index, closed=True, signalled_duration=duration)


def _clash(a: Break, b: Break) -> bool:
    """Overlapping spans, or the same splice point signalled twice."""
    if a.start_index == b.start_index:
        return (a.start_index == a.end_index) == (b.start_index == b.end_index)
    return a.start_index < b.end_index and b.start_index < a.end_index


# --- reading the tags --------------------------------------------------------------------


class _Kind(Enum):
    OUT = "out"
    CONT = "cont"  # the segment is inside a break that started earlier
    IN = "in"


class _Cue(NamedTuple):
    kind: _Kind
    dialect: str
    ident: str | None = None
    duration: float | None = None
    elapsed: float | None = None
    scte35: SpliceInfo | None = None


class _Marker(NamedTuple):
    at: int  # the segment the tag precedes; len(segments) for the tail
    cue: _Cue


class _Anchor(NamedTuple):
    at: int
    epoch: float
    text: str


class _Scan(NamedTuple):
    markers: list[_Marker]
    dateranges: list[tuple[int, str]]
    anchors: list[_Anchor]


def cue_lines(playlist: MediaPlaylist) -> tuple[tuple[int, str], ...]:
    """The lines that can carry cues, each with the segment it precedes (``len(segments)``
    for the tail), in order: those of the segments with extra lines (a segment of two lines
    has none) and of the tail that start with ``CUE_PREFIXES``. ``parse`` records it on its
    way over the same lines; use it as ``playlist.fact(cue_lines)``."""
    segments = playlist.segments
    found = [
        (index, raw)
        for index in playlist.fact(tagged_segments)
        for raw in segments[index].raw
        if raw.startswith(CUE_PREFIXES)
    ]
    found += [(len(segments), raw) for raw in playlist.tail if raw.startswith(CUE_PREFIXES)]
    return tuple(found)


def _scan(playlist: MediaPlaylist) -> _Scan:
    """One pass over the lines that can carry cues."""
    scan = _Scan([], [], [])
    for index, raw in playlist.fact(cue_lines):
        cues = _cues(raw)
        if cues is not None:
            scan.markers.extend([_Marker(index, cue) for cue in cues])
            continue
        name = tag_name(raw)
        if name == "EXT-X-DATERANGE":
            scan.dateranges.append((index, classify(raw).value))
        elif name == "EXT-X-PROGRAM-DATE-TIME":
            text = classify(raw).value.strip()
            epoch = _epoch(text)
            if epoch is not None and (not scan.anchors or scan.anchors[-1].at != index):
                scan.anchors.append(_Anchor(index, epoch, text))
    return scan


@lru_cache(maxsize=1024)
def _cues(raw: str) -> tuple[_Cue, ...] | None:
    """What an in-segment marker line says, None for any other line (cached: a break's
    lines come back on every reload of a live playlist and in every rendition; _Cue is
    immutable)."""
    line = classify(raw)
    reader = _READERS.get(line.name)
    return None if reader is None else tuple(reader(line.value))


def _cue_out(value: str) -> list[_Cue]:
    """``:<dur>[,...]``, ``:DURATION=<dur>``, Envivio ``DURATION=,ID=,CUE="b64"``, bare."""
    positional, named = _fields(value)
    duration = _seconds(named.get("DURATION"))
    if duration is None and positional:
        duration = _seconds(positional[0])
    return [_Cue(_Kind.OUT, "cue-out", named.get("ID"), duration, None, _cue(named.get("CUE")))]


def _cue_out_cont(value: str) -> list[_Cue]:
    """``ElapsedTime=e,Duration=d[,SCTE35=b64]``, ``e/d[,...]`` or bare."""
    positional, named = _fields(value)
    elapsed = _seconds(named.get("ELAPSEDTIME"))
    duration = _seconds(named.get("DURATION"))
    if positional and "/" in positional[0]:
        done, _, total = positional[0].partition("/")
        elapsed, duration = _seconds(done), _seconds(total)
    cue = _cue(named.get("SCTE35"))
    return [_Cue(_Kind.CONT, "cue-out", named.get("ID"), duration, elapsed, cue)]


def _cue_in(value: str) -> list[_Cue]:
    return [_Cue(_Kind.IN, "cue-out", _fields(value)[1].get("ID"))]


def _cue_span(value: str) -> list[_Cue]:
    """Envivio ``TIMEFROMSIGNAL=PT10S,ID=``: a continuation with its elapsed time."""
    named = _fields(value)[1]
    elapsed = _iso_duration(named.get("TIMEFROMSIGNAL"))
    return [_Cue(_Kind.CONT, "cue-span", named.get("ID"), None, elapsed)]


def _scte35_tag(value: str) -> list[_Cue]:
    """Adobe ``CUE="b64"[,CUE-OUT=YES|CONT][,CUE-IN=YES][,ID=][,DURATION=][,ELAPSED=]``."""
    named = _fields(value)[1]
    info = _cue(named.get("CUE"))
    match named.get("CUE-OUT", "").upper(), named.get("CUE-IN", "").upper():
        case "YES", _:
            kinds: tuple[_Kind, ...] = (_Kind.OUT,)
        case "CONT", _:
            kinds = (_Kind.CONT,)
        case _, "YES":
            kinds = (_Kind.IN,)
        case _:
            kinds = _avail_kinds(info)
    duration, elapsed = _seconds(named.get("DURATION")), _seconds(named.get("ELAPSED"))
    return [_Cue(k, "scte35-tag", named.get("ID"), duration, elapsed, info) for k in kinds]


def _binary_cue(dialect: str) -> Callable[[str], list[_Cue]]:
    """A tag whose whole value is a base64 splice_info_section: its meaning is the cue's."""

    def read(value: str) -> list[_Cue]:
        info = _cue(value)
        return [_Cue(kind, dialect, scte35=info) for kind in _avail_kinds(info)]

    return read


_READERS: Final[dict[str, Callable[[str], list[_Cue]]]] = {
    "EXT-X-CUE-OUT": _cue_out,
    "EXT-X-CUE-OUT-CONT": _cue_out_cont,
    "EXT-X-CUE-IN": _cue_in,
    "EXT-X-CUE-SPAN": _cue_span,
    "EXT-OATCLS-SCTE35": _binary_cue("oatcls"),
    "EXT-X-SPLICEPOINT-SCTE35": _binary_cue("splicepoint"),
    "EXT-X-SCTE35": _scte35_tag,
    "EXT-SCTE35": _scte35_tag,
}
# A cheap first filter: EXTINF, KEY, MAP and the other segment tags skip the lookup.
CUE_PREFIXES: Final = tuple(
    f"#{name}" for name in (*_READERS, "EXT-X-DATERANGE", "EXT-X-PROGRAM-DATE-TIME")
)


def _avail_kinds(info: SpliceInfo | None) -> tuple[_Kind, ...]:
    """What a cue says about an avail: an end comes before a start (back-to-back breaks)."""
    if info is None or info.cancel:
        return ()
    if info.command_type == SPLICE_INSERT:
        return (_Kind.OUT,) if info.out_of_network else (_Kind.IN,)
    if info.command_type != TIME_SIGNAL:
        return ()
    live = [d.type_id for d in info.descriptors if not d.cancel]
    ends = (_Kind.IN,) if any(t in AVAIL_ENDS for t in live) else ()
    return ends + ((_Kind.OUT,) if any(t in AVAIL_STARTS for t in live) else ())


def _event_id(info: SpliceInfo | None) -> int | None:
    """The splice_event_id, or the segmentation_event_id of the avail descriptor."""
    if info is None:
        return None
    if info.splice_event_id is not None:
        return info.splice_event_id
    avail = AVAIL_STARTS | AVAIL_ENDS
    return next((d.event_id for d in info.descriptors if d.type_id in avail), None)


def _cue(text: str | None) -> SpliceInfo | None:
    return _decoded(text) if text else None


@lru_cache(maxsize=1024)
def _decoded(text: str) -> SpliceInfo | None:
    """Encoders repeat one cue on every CUE-OUT-CONT of a break: decode it once (SpliceInfo
    is immutable, so sharing it is safe)."""
    try:
        return decode(text)
    except Scte35Error:
        return None


_NAME = re.compile(r"[A-Za-z0-9_-]+")


def _fields(text: str) -> tuple[list[str], dict[str, str]]:
    """Lenient attribute list: ``(positional items, {UPPER-NAME: unquoted value})``.

    Cue tags predate RFC 8216 attribute rules: spaces after commas, bare leading values,
    mixed-case names and unterminated quotes all occur, and none of them may raise."""
    positional: list[str] = []
    named: dict[str, str] = {}
    for item in _split(text):
        name, eq, value = item.partition("=")
        name = name.strip()
        if eq and _NAME.fullmatch(name):
            named.setdefault(name.upper(), value.strip().strip('"'))
        elif item.strip():
            positional.append(item.strip())
    return positional, named


def _split(text: str) -> list[str]:
    """Split on commas outside double quotes (an unterminated quote runs to the end)."""
    pieces = text.split('"')
    items = [""]
    for i, piece in enumerate(pieces):
        if i % 2:  # inside quotes
            closing = '"' if i + 1 < len(pieces) else ""
            items[-1] += f'"{piece}{closing}'
        else:
            first, *rest = piece.split(",")
            items[-1] += first
            items.extend(rest)
    return items


def _seconds(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return _finite(float(text))
    except ValueError:
        return None


def _finite(value: float) -> float | None:
    return value if 0 <= value < math.inf else None


_ISO_DURATION = re.compile(
    r"P(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)


def _iso_duration(text: str | None) -> float | None:
    """An ISO 8601 time duration (``PT1M2.5S``)."""
    match = _ISO_DURATION.fullmatch(text.strip()) if text else None
    if match is None:
        return None
    h, m, s = (float(match[g] or 0) for g in ("h", "m", "s"))
    return _finite(h * 3600 + m * 60 + s)


def _epoch(text: str | None) -> float | None:
    """Seconds since 1970 of an ISO 8601 date-time; a date without offset is UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


# --- the window: durations, dates, numbering ---------------------------------------------


class _Window:
    """Facts about the listed segments that every break computation uses."""

    def __init__(self, playlist: MediaPlaylist, anchors: Sequence[_Anchor]) -> None:
        self.playlist = playlist
        self.count = len(playlist.segments)
        self.anchors = {a.at: a.text for a in anchors}
        self._anchor_list = anchors

    @cached_property
    def durations(self) -> list[float]:
        # Breaks closed by markers need no durations: computed only when asked for.
        return [s.duration for s in self.playlist.segments]

    @cached_property
    def times(self) -> list[float] | None:
        return _timeline(self.durations, self._anchor_list) if self._anchor_list else None

    def covered_end(self, start: int, limit: int, already: float, target: float) -> int | None:
        """Where ``target`` seconds of break (``already`` gone) end, within half a segment:
        the first segment from ``start`` whose middle lies past the target (SPEC_RULES 44).
        None when the listed segments up to ``limit`` do not reach it."""
        done = already
        for index in range(start, limit):
            if done + self.durations[index] / 2 >= target:
                return index
            done += self.durations[index]
        return limit if done >= target - _SAME_INSTANT else None

    def first_at(self, moment: float, start: int = 0) -> int:
        """The first segment from ``start`` whose middle lies at or after ``moment``."""
        assert self.times is not None
        for index in range(start, self.count):
            if self.times[index] + self.durations[index] / 2 >= moment:
                return index
        return self.count

    def start_msn(self, start: int, elapsed: float) -> int:
        """The MSN of the break's first segment. When that lies before the window, count
        ``elapsed`` back in full-length segments, which the durations allow when the window
        has one usual duration and nothing longer (the first segment of a break may be the
        short end of a split one, SPEC_RULES 44), and never below MSN 0; else the first
        listed MSN."""
        first = self.playlist.msn(start)
        if elapsed <= _SAME_INSTANT:
            return first
        full = self.full_duration
        if full is None or not math.isfinite(elapsed / full):
            return first
        before = math.ceil(elapsed / full - 0.01)
        return first - before if before <= first else first  # MSNs start at 0

    @cached_property
    def full_duration(self) -> float | None:
        """The duration of a whole segment: the usual one when no segment is longer, else
        the longest when it makes the target duration (RFC 8216 §4.3.3.1); None when the
        durations do not say (a cadence of 6 s with 6.8 s segments)."""
        counts = Counter(round(d, 3) for d in self.durations)
        if not counts:
            return None
        usual = max(counts, key=lambda d: (counts[d], d))
        longest = max(counts)
        if usual > 0 and longest <= usual + 0.001:
            return usual
        return longest if round(longest) == self.playlist.target_duration else None

    def start_date(self, start: int, elapsed: float) -> str | None:
        """The PROGRAM-DATE-TIME of the break's first segment, as written when it is."""
        if not self._anchor_list:
            return None  # no dates (``times`` is None), without deriving them
        if elapsed == 0 and start in self.anchors:
            return self.anchors[start]
        if self.times is None:
            return None
        try:
            moment = datetime.fromtimestamp(self.time_at(start) - elapsed, UTC)
        except (ValueError, OverflowError, OSError):
            return None  # beyond the years a date can be written in
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def time_at(self, index: int) -> float:
        assert self.times is not None
        if index < self.count:
            return self.times[index]
        return self.times[-1] + self.durations[-1] if self.count else self.times[0]


def _timeline(durations: Sequence[float], anchors: Sequence[_Anchor]) -> list[float] | None:
    """The date of every segment: the nearest earlier PROGRAM-DATE-TIME plus the durations
    since (RFC 8216 §4.3.2.6), or the first one minus the durations before it."""
    if not anchors:
        return None
    starts = [0.0]
    for duration in durations:
        starts.append(starts[-1] + duration)
    times, current = [], 0
    for index in range(len(durations)):
        while current + 1 < len(anchors) and anchors[current + 1].at <= index:
            current += 1
        anchor = anchors[current]
        times.append(anchor.epoch + starts[index] - starts[anchor.at])
    return times or [anchors[0].epoch]


# --- in-segment markers ------------------------------------------------------------------

# When dialects signal one splice together, the break is named after the most specific.
_DIALECT_RANK: Final = {"cue-out": 0, "scte35-tag": 1, "splicepoint": 2, "oatcls": 3, "cue-span": 4}


class _Open(NamedTuple):
    """A break being read: where it starts and what its markers said so far."""

    start: int
    elapsed: float
    cue: _Cue
    inside: int  # the last segment a continuation marker put inside the break

    def absorb(self, cue: _Cue, index: int) -> "_Open":
        mine = self.cue
        dialect = mine.dialect
        if index == self.start and cue.kind is _Kind.OUT:
            dialect = min(dialect, cue.dialect, key=_DIALECT_RANK.__getitem__)
        merged = _Cue(
            mine.kind,
            dialect,
            mine.ident or cue.ident,
            mine.duration if mine.duration is not None else cue.duration,
            mine.elapsed,
            mine.scte35 or cue.scte35,
        )
        return self._replace(cue=merged, inside=max(self.inside, index))

    @property
    def signalled(self) -> float | None:
        """SPEC_RULES 43: the SCTE-35 duration wins over the tag's."""
        info = self.cue.scte35
        if info is not None and info.duration is not None:
            return info.duration
        return self.cue.duration


class _MarkerReader:
    """The in-segment markers, in order, as breaks."""

    def __init__(self, window: _Window) -> None:
        self.window = window
        self.breaks: list[Break] = []
        self.current: _Open | None = None
        self.boundary = 0  # an inferred start cannot reach before the end of the last break
        self.seen = False

    def read(self, markers: Iterable[_Marker]) -> list[Break]:
        for index, cue in markers:
            match cue.kind:
                case _Kind.OUT:
                    self._out(index, cue)
                case _Kind.CONT:
                    self._cont(index, cue)
                case _Kind.IN:
                    self._in(index, cue)
            self.seen = True
        if self.current is not None:
            self._finish(self.current, self.window.count, by_in=False)
        return self.breaks

    def _out(self, index: int, cue: _Cue) -> None:
        current = self.current
        if current is not None and (
            index == current.start or (_same_event(current.cue, cue) and self._runs(current, index))
        ):
            self.current = current.absorb(cue, index)
            return
        if current is not None:
            self._finish(current, index, by_in=False)
        self.current = _Open(index, 0.0, cue, index)

    def _runs(self, current: _Open, index: int) -> bool:
        """Whether a break's signalled duration still runs at segment ``index``."""
        signalled = current.signalled
        covered = self.window.covered_end
        return (
            signalled is None or covered(current.start, index, current.elapsed, signalled) is None
        )

    def _cont(self, index: int, cue: _Cue) -> None:
        if self.current is not None:
            self.current = self.current.absorb(cue, index)
            return
        start, elapsed = self._inferred_start(index, cue.elapsed)
        self.current = _Open(start, elapsed, cue, index)

    def _in(self, index: int, cue: _Cue) -> None:
        if self.current is not None:
            self._finish(self.current, index, by_in=True)
        elif not self.seen and self.window.playlist.live and index > 0:
            # The window opens on the tail of a break whose OUT left with the removed head.
            self._finish(_Open(0, 0.0, cue, 0), index, by_in=True)

    def _inferred_start(self, index: int, elapsed: float | None) -> tuple[int, float]:
        """Where a break first seen through a continuation marker began: ``elapsed`` seconds
        back over the listed segments. With no marker before it, the break may have started
        before the window (its OUT left with the removed head, SPEC_RULES 43); what the
        listed segments do not cover happened before the first one. After another marker it
        cannot reach back past the end of the last break."""
        lowest = self.boundary if self.seen else 0
        if elapsed is None:
            return (index if self.seen else 0), 0.0
        durations, done, start = self.window.durations, 0.0, index
        while start > lowest and done + durations[start - 1] / 2 < elapsed:
            start -= 1
            done += durations[start]
        left = elapsed - done if start == 0 and not self.seen else 0.0
        return start, left if left > _SAME_INSTANT else 0.0

    def _finish(self, current: _Open, limit: int, *, by_in: bool) -> None:
        self.current = None
        end, closed = limit, by_in
        signalled = current.signalled
        if not by_in and signalled is not None:
            covered = self.window.covered_end(current.start, limit, current.elapsed, signalled)
            if covered is not None:
                end, closed = max(covered, min(current.inside + 1, limit)), True
        self.boundary = end
        window, cue = self.window, current.cue
        start_msn = window.start_msn(current.start, current.elapsed)
        ident = _identity(cue) or f"msn-{start_msn}"
        self.breaks.append(
            Break(
                id=ident,
                start_index=current.start,
                end_index=end,
                start_msn=start_msn,
                signalled_duration=signalled,
                elapsed_before_window=current.elapsed,
                closed=closed,
                dialect=cue.dialect,
                scte35=cue.scte35,
                start_date=window.start_date(current.start, current.elapsed),
            )
        )


def _same_event(a: _Cue, b: _Cue) -> bool:
    """Two OUT markers naming the same event (a re-announced break)."""
    first = _identity(a)
    return first is not None and first == _identity(b)


def _identity(cue: _Cue) -> str | None:
    """A break id stable across renditions: the SCTE-35 event id, else the tag's ID."""
    event = _event_id(cue.scte35)
    return str(event) if event is not None else cue.ident or None


# --- EXT-X-DATERANGE ---------------------------------------------------------------------


class _Range(NamedTuple):
    """The tags of one DATERANGE ID, merged (BIS §4.4.5.1: later tags may add attributes)."""

    ident: str
    attributes: dict[str, str]
    out_at: int | None
    in_at: int | None
    out_cue: SpliceInfo | None
    in_cue: SpliceInfo | None


def _daterange_breaks(window: _Window, tags: Sequence[tuple[int, str]]) -> list[Break]:
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for index, value in tags:
        attributes = _fields(value)[1]
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
        signals = [(name, _cue(attributes.get(name))) for name in _SCTE35_ATTRIBUTES]
        for name, info in signals:
            if name not in attributes:
                continue
            kinds = _DATERANGE_KINDS.get(name) or _avail_kinds(info)
            if _Kind.OUT in kinds and out_at is None:
                out_at, out_cue = index, info
            if _Kind.IN in kinds and in_at is None:
                in_at, in_cue = index, info
    return _Range(ident, merged, out_at, in_at, out_cue, in_cue)


_SCTE35_ATTRIBUTES: Final = ("SCTE35-OUT", "SCTE35-IN", "SCTE35-CMD")
_DATERANGE_KINDS: Final = {"SCTE35-OUT": (_Kind.OUT,), "SCTE35-IN": (_Kind.IN,)}


def _is_avail(info: SpliceInfo | None, kind: _Kind) -> bool:
    """A payload that cannot be read is taken at its attribute's word (SPEC_RULES 40); a
    readable one must be an avail, not a program or chapter boundary."""
    if info is None or (info.command_type == TIME_SIGNAL and not info.descriptors):
        return True
    return kind in _avail_kinds(info)


def _daterange_break(window: _Window, rng: _Range) -> Break | None:
    if rng.out_at is not None:
        if not _is_avail(rng.out_cue, _Kind.OUT):
            return None
    elif rng.in_at is None or not _is_avail(rng.in_cue, _Kind.IN):
        return None
    attributes = rng.attributes
    start_s = _epoch(attributes.get("START-DATE"))
    end_s = _epoch(attributes.get("END-DATE"))
    duration = _seconds(attributes.get("DURATION"))
    if end_s is None and start_s is not None and duration is not None:
        end_s = start_s + duration
    if duration is None and start_s is not None and end_s is not None:
        duration = end_s - start_s
    tag_duration = (
        duration if duration is not None else _seconds(attributes.get("PLANNED-DURATION"))
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
    start_msn = window.start_msn(start, elapsed)
    return Break(
        id=rng.ident,
        start_index=start,
        end_index=end,
        start_msn=start_msn,
        signalled_duration=signalled,
        elapsed_before_window=elapsed,
        closed=closed,
        dialect="daterange",
        scte35=info,
        start_date=attributes.get("START-DATE"),
    )


_Placed = tuple[int, int, float, bool]  # start, end, elapsed before the window, closed


def _by_date(
    window: _Window, rng: _Range, start_s: float, end_s: float | None, signalled: float | None
) -> _Placed | None:
    """BIS §4.4.5.1: a Date Range is placed by its dates, wherever the tag stands. A segment
    belongs to the break when its middle falls inside it (SPEC_RULES 44)."""
    first = window.time_at(0)
    start = window.first_at(start_s)
    elapsed = first - start_s if start == 0 and first - start_s > _SAME_INSTANT else 0.0
    ends_known = end_s is not None
    if end_s is None and rng.in_at is None and signalled is not None:
        end_s = start_s + signalled
    if end_s is None:
        end = max(rng.in_at, start) if rng.in_at is not None else window.count
        return start, end, elapsed, rng.in_at is not None
    if elapsed and end_s <= first + _SAME_INSTANT:
        return None  # over before the window opens
    end = window.first_at(end_s, start)
    reached = end < window.count or window.time_at(end) >= end_s - _SAME_INSTANT
    return start, end, elapsed, ends_known or rng.in_at is not None or reached


def _by_position(window: _Window, rng: _Range, signalled: float | None) -> _Placed:
    """Without dates to go by, the tags' positions mark the splice points."""
    start = rng.out_at if rng.out_at is not None else 0
    if rng.in_at is not None and rng.in_at >= start:
        return start, rng.in_at, 0.0, True
    if signalled is not None:
        covered = window.covered_end(start, window.count, 0.0, signalled)
        if covered is not None:
            return start, covered, 0.0, True
    return start, window.count, 0.0, False


__all__ = [
    "AVAIL_ENDS",
    "AVAIL_STARTS",
    "CUE_PREFIXES",
    "Break",
    "covered_duration",
    "cue_lines",
    "detect_breaks",
]
