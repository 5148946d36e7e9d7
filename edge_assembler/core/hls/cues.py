"""Ad breaks signalled in a media playlist, in every cue dialect seen in the wild.

SPEC_RULES 40-45. Two families are read:

* in-segment markers (SPEC_RULES 43), read here: ``EXT-X-CUE-OUT`` / ``-CUE-OUT-CONT`` /
  ``-CUE-IN`` / ``-CUE-SPAN`` (Elemental, Envivio, MediaConvert, USP),
  ``EXT-OATCLS-SCTE35``, ``EXT-X-SCTE35`` / ``EXT-SCTE35`` (Adobe) and
  ``EXT-X-SPLICEPOINT-SCTE35`` (MediaTailor). A tag sits before the segment it applies to;
  one state machine reads them in order.
* ``EXT-X-DATERANGE`` with ``SCTE35-OUT`` / ``-IN`` / ``-CMD`` (SPEC_RULES 40-41, BIS
  §4.4.5.1.1), paired by ID and placed by date when the playlist has PROGRAM-DATE-TIME,
  else by where the tags stand (``dateranges``).

A break is an ad avail: SCTE-35 splice_insert, or a time_signal whose segmentation type is a
break, advertisement, placement opportunity, promo or ad block (SCTE 35 Table 23, see
``signals``). Program, chapter, network and content-identification signals are not breaks,
and neither is a lone time_signal (``c:hls/m3u8py__live-oatcls-time-signal-only.m3u8``).
When two dialects signal the same span, the DATERANGE wins. A cue that cannot be read is
ignored; detection never raises.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Final, NamedTuple

from edge_assembler.core.hls.dateranges import RangeBreak, daterange_breaks
from edge_assembler.core.hls.dates import epoch, iso_duration, parse_seconds
from edge_assembler.core.hls.lines import classify, tag_name
from edge_assembler.core.hls.model import MediaPlaylist, tagged_segments
from edge_assembler.core.hls.signals import (
    AVAIL_ENDS,
    AVAIL_STARTS,
    Kind,
    avail_kinds,
    lenient_attributes,
    splice_info,
)
from edge_assembler.core.hls.window import SAME_INSTANT, Anchor, Window
from edge_assembler.core.scte35 import SpliceInfo


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
    window = Window(playlist, scan.anchors)
    legacy = _MarkerReader(window).read(scan.markers)
    if not scan.dateranges and len(legacy) < 2:
        return tuple(legacy)  # nothing to merge or order
    ranged = (
        [_from_range(window, r) for r in daterange_breaks(window, scan.dateranges)]
        if scan.dateranges
        else []
    )
    found = [_completed(b, legacy) for b in ranged]
    kept: list[Break] = []
    for brk in found + legacy:
        if not any(_clash(brk, other) for other in kept):
            kept.append(brk)
    return tuple(sorted(kept, key=lambda b: (b.start_index, b.end_index)))


def _from_range(window: Window, found: RangeBreak) -> Break:
    return Break(
        id=found.ident,
        start_index=found.start,
        end_index=found.end,
        start_msn=window.start_msn(found.start, found.elapsed),
        signalled_duration=found.signalled,
        elapsed_before_window=found.elapsed,
        closed=found.closed,
        dialect="daterange",
        scte35=found.scte35,
        start_date=found.start_date,
    )


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


class _Cue(NamedTuple):
    kind: Kind
    dialect: str
    ident: str | None = None
    duration: float | None = None
    elapsed: float | None = None
    scte35: SpliceInfo | None = None


class _Marker(NamedTuple):
    at: int  # the segment the tag precedes; len(segments) for the tail
    cue: _Cue


class _Scan(NamedTuple):
    markers: list[_Marker]
    dateranges: list[tuple[int, str]]
    anchors: list[Anchor]


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
            moment = epoch(text)
            if moment is not None and (not scan.anchors or scan.anchors[-1].at != index):
                scan.anchors.append(Anchor(index, moment, text))
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
    positional, named = lenient_attributes(value)
    duration = parse_seconds(named.get("DURATION"))
    if duration is None and positional:
        duration = parse_seconds(positional[0])
    cue = splice_info(named.get("CUE"))
    return [_Cue(Kind.OUT, "cue-out", named.get("ID"), duration, None, cue)]


def _cue_out_cont(value: str) -> list[_Cue]:
    """``ElapsedTime=e,Duration=d[,SCTE35=b64]``, ``e/d[,...]`` or bare."""
    positional, named = lenient_attributes(value)
    elapsed = parse_seconds(named.get("ELAPSEDTIME"))
    duration = parse_seconds(named.get("DURATION"))
    if positional and "/" in positional[0]:
        done, _, total = positional[0].partition("/")
        elapsed, duration = parse_seconds(done), parse_seconds(total)
    cue = splice_info(named.get("SCTE35"))
    return [_Cue(Kind.CONT, "cue-out", named.get("ID"), duration, elapsed, cue)]


def _cue_in(value: str) -> list[_Cue]:
    return [_Cue(Kind.IN, "cue-out", lenient_attributes(value)[1].get("ID"))]


def _cue_span(value: str) -> list[_Cue]:
    """Envivio ``TIMEFROMSIGNAL=PT10S,ID=``: a continuation with its elapsed time."""
    named = lenient_attributes(value)[1]
    elapsed = iso_duration(named.get("TIMEFROMSIGNAL"))
    return [_Cue(Kind.CONT, "cue-span", named.get("ID"), None, elapsed)]


def _scte35_tag(value: str) -> list[_Cue]:
    """Adobe ``CUE="b64"[,CUE-OUT=YES|CONT][,CUE-IN=YES][,ID=][,DURATION=][,ELAPSED=]``."""
    named = lenient_attributes(value)[1]
    info = splice_info(named.get("CUE"))
    match named.get("CUE-OUT", "").upper(), named.get("CUE-IN", "").upper():
        case "YES", _:
            kinds: tuple[Kind, ...] = (Kind.OUT,)
        case "CONT", _:
            kinds = (Kind.CONT,)
        case _, "YES":
            kinds = (Kind.IN,)
        case _:
            kinds = avail_kinds(info)
    duration, elapsed = parse_seconds(named.get("DURATION")), parse_seconds(named.get("ELAPSED"))
    return [_Cue(k, "scte35-tag", named.get("ID"), duration, elapsed, info) for k in kinds]


def _binary_cue(dialect: str) -> Callable[[str], list[_Cue]]:
    """A tag whose whole value is a base64 splice_info_section: its meaning is the cue's."""

    def read(value: str) -> list[_Cue]:
        info = splice_info(value)
        return [_Cue(kind, dialect, scte35=info) for kind in avail_kinds(info)]

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
        if index == self.start and cue.kind is Kind.OUT:
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

    def __init__(self, window: Window) -> None:
        self.window = window
        self.breaks: list[Break] = []
        self.current: _Open | None = None
        self.boundary = 0  # an inferred start cannot reach before the end of the last break
        self.seen = False

    def read(self, markers: Iterable[_Marker]) -> list[Break]:
        for index, cue in markers:
            match cue.kind:
                case Kind.OUT:
                    self._out(index, cue)
                case Kind.CONT:
                    self._cont(index, cue)
                case Kind.IN:
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
        return start, left if left > SAME_INSTANT else 0.0

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


def _event_id(info: SpliceInfo | None) -> int | None:
    """The splice_event_id, or the segmentation_event_id of the avail descriptor."""
    if info is None:
        return None
    if info.splice_event_id is not None:
        return info.splice_event_id
    avail = AVAIL_STARTS | AVAIL_ENDS
    return next((d.event_id for d in info.descriptors if d.type_id in avail), None)


__all__ = [
    "CUE_PREFIXES",
    "Break",
    "covered_duration",
    "cue_lines",
    "detect_breaks",
]
