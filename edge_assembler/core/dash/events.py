"""Ad breaks signalled in an MPD (SPEC_RULES 89-93, SCTE 214-1, DASH-IF IOP ad insertion).

Two kinds of signal are read:

* SCTE-35 cues in an ``EventStream`` (ISO/IEC 23009-1 §5.10.2): scheme
  ``urn:scte:scte35:2013:xml`` carries a ``SpliceInfoSection`` as XML (wrapped in ``Signal`` or
  not, as MediaTailor writes it) and ``urn:scte:scte35:2014:xml+bin`` a ``Signal/Binary`` base64
  section, decoded with ``core.scte35.decode``; either scheme may hold either form, so both are
  tried. A break is an avail as in HLS (``hls.signals``): splice_insert out of network, or a
  time_signal whose segmentation type opens a break, advertisement, placement opportunity or
  ad block (SCTE 35 Table 23). Its start is the Event's time on the presentation timeline
  (Period start + (presentationTime - presentationTimeOffset) / timescale, SPEC_RULES 89, 92),
  its duration ``Event@duration`` (the MPD's own statement: MediaTailor's time_signal example
  gives 59 s there over a 90 s descriptor for a 61.5 s Period), else the cue's
  break/segmentation duration, else the time of the matching in point (same event id), else
  unknown. An out point that repeats an event id
  of a break still running is the same break announced again.
* Ad Periods already in the MPD: a Period carrying an SVTA 2053-2 ad-creative-signaling
  EventStream, and, where Periods share a content ``AssetIdentifier`` (SPEC_RULES 84, IOP
  v4.3 §5.3: the same value on every Period of the main content), every Period with another
  or no AssetIdentifier. The content's value is the one most Periods carry, at least two,
  not counting Periods that start inside a SCTE-35 break (a pod of one creative is not the
  content). Consecutive ad Periods are one break (a pod), from the first one's start over
  their summed durations.

Stitched ad Periods that nothing marks (MediaTailor, Telenet/DAI, Unified AIP outputs) are not
guessed from their BaseURL hosts or ids: they are not breaks. A break's ``id`` is stable across
MPD updates: the SCTE-35 event id (splice_event_id, or the avail's segmentation_event_id), else
``Event@id``, else ``f"{period_id}-{presentationTime}"``; for ad Periods
``f"{period_id}-0"``. ``period_id`` is ``Period@id``, or ``period-<n>`` (n counting from 1)
for a Period without one (only static MPDs may omit it).

In-band SCTE-35 (``InbandEventStream``, SPEC_RULES 93) travels in the segments' ``emsg`` boxes,
not in the MPD: ``inband_scte35`` records which Periods declare it, and no break is invented
from it. Cues that cannot be read are ignored: detection never raises.
"""

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Final, Literal, NamedTuple

from lxml import etree
from lxml.etree import _Element

from edge_assembler.core.dash.elements import children, local_name
from edge_assembler.core.dash.model import Mpd, PeriodView
from edge_assembler.core.dash.views import EventStreamView, EventView
from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls.signals import AVAIL_ENDS, AVAIL_STARTS
from edge_assembler.core.scte35 import (
    BANDWIDTH_RESERVATION,
    PRIVATE_COMMAND,
    SPLICE_INSERT,
    SPLICE_NULL,
    SPLICE_SCHEDULE,
    TIME_SIGNAL,
    Scte35Error,
    SegmentationDescriptor,
    SpliceInfo,
    decode,
)

SCTE35_XML: Final = "urn:scte:scte35:2013:xml"
SCTE35_XML_BIN: Final = "urn:scte:scte35:2014:xml+bin"
SCTE35_BIN: Final = "urn:scte:scte35:2013:bin"  # in-band emsg only (SCTE 214-1)
SCTE35_SCHEMES: Final = frozenset({SCTE35_XML, SCTE35_XML_BIN, SCTE35_BIN})
AD_CREATIVE_SIGNALING: Final = "urn:svta:advertising-wg:ad-creative-signaling"
# SCTE 35 §9.6: the 90 kHz clock of pts_time, break_duration and segmentation_duration.
_TICKS: Final = 90_000
_PTS_WRAP: Final = 1 << 33
_SAME_INSTANT: Final = 0.001  # seconds: MPD times are written in milliseconds or finer


@dataclass(frozen=True, slots=True)
class DashBreak:
    """One ad break of an MPD, on its presentation timeline (seconds of MPD time)."""

    id: str
    period_id: str  # the Period the break starts in
    start: float
    duration: float | None
    scte35: SpliceInfo | None  # the out point's cue
    event: _Element | None  # the Event of the out point (ad Periods: None)
    end_event: _Element | None = None  # the Event of the matching in point
    kind: Literal["event", "ad-periods"] = "event"

    @property
    def end(self) -> float | None:
        return None if self.duration is None else self.start + self.duration


@dataclass(frozen=True, slots=True)
class InbandScte35:
    """A Period whose segments carry SCTE-35 in ``emsg`` boxes (an ``InbandEventStream``)."""

    period_id: str
    scheme_id_uri: str
    value: str | None


def period_key(period: PeriodView) -> str:
    """``Period@id``, or ``period-<n>`` for a Period without one."""
    return period.id if period.id is not None else f"period-{period.index + 1}"


def detect_breaks(mpd: Mpd) -> list[DashBreak]:
    """The ad breaks of ``mpd`` in presentation order, never overlapping."""
    signalled = _event_breaks(mpd)
    found = sorted(
        [*signalled, *_ad_period_breaks(mpd, signalled)],
        key=lambda b: (b.start, b.kind != "event"),
    )
    kept: list[DashBreak] = []
    for brk in found:
        if not any(_clash(brk, other) for other in kept):
            kept.append(brk)
    return kept


def inband_scte35(mpd: Mpd) -> list[InbandScte35]:
    """The Periods that declare SCTE-35 in-band, once per (Period, scheme, value)."""
    found: dict[tuple[str, str, str | None], None] = {}
    for period in mpd.periods:
        for adaptation_set in period.adaptation_sets:
            holders = [adaptation_set.element, *(r.element for r in adaptation_set.representations)]
            for holder in holders:
                for stream in children(holder, "InbandEventStream"):
                    scheme = stream.get("schemeIdUri", "").strip()
                    if scheme in SCTE35_SCHEMES:
                        found[(period_key(period), scheme, stream.get("value"))] = None
    return [InbandScte35(*key) for key in found]


def _clash(brk: DashBreak, other: DashBreak) -> bool:
    """Same start, or a start inside the other break's span."""
    if abs(brk.start - other.start) <= _SAME_INSTANT:
        return True
    end = other.end
    return end is not None and other.start < brk.start < end - _SAME_INSTANT


# --- SCTE-35 events ------------------------------------------------------------------------


class _Signal(NamedTuple):
    """One SCTE-35 Event, placed on the presentation timeline."""

    time: float
    duration: float | None  # Event@duration, seconds
    info: SpliceInfo
    period: PeriodView
    event: EventView
    stream: EventStreamView


def _event_breaks(mpd: Mpd) -> list[DashBreak]:
    breaks: dict[str, DashBreak] = {}  # by break id
    latest: dict[int, str] = {}  # SCTE-35 event id -> id of its latest break
    for signal in sorted(_signals(mpd), key=lambda s: s.time):
        ends, starts = _avail_ids(signal.info)
        for event_id in ends:
            if event_id in latest:
                _close(breaks, latest[event_id], signal)
        for event_id in starts:
            earlier = breaks.get(latest.get(event_id, ""))
            if earlier is not None and _running(earlier, signal.time):
                continue  # the same break announced again
            key = str(event_id) if earlier is None else _fallback_id(signal)
            breaks[key] = _opened(key, signal)
            latest[event_id] = key
    return list(breaks.values())


def _opened(key: str, signal: _Signal) -> DashBreak:
    duration = signal.duration if signal.duration is not None else signal.info.duration
    return DashBreak(
        id=key,
        period_id=period_key(signal.period),
        start=signal.time,
        duration=duration,
        scte35=signal.info,
        event=signal.event.element,
    )


def _close(breaks: dict[str, DashBreak], key: str, signal: _Signal) -> None:
    brk = breaks[key]
    if brk.end_event is not None or signal.time < brk.start:
        return
    duration = brk.duration if brk.duration is not None else signal.time - brk.start
    breaks[key] = replace(brk, duration=duration, end_event=signal.event.element)


def _running(brk: DashBreak, time: float) -> bool:
    end = brk.end
    return brk.end_event is None and (end is None or time < end - _SAME_INSTANT)


def _fallback_id(signal: _Signal) -> str:
    """``Event@id``, else the Period and presentationTime (a reused SCTE-35 event id)."""
    if signal.event.id is not None:
        return signal.event.id
    return f"{period_key(signal.period)}-{signal.event.element.get('presentationTime', '0')}"


def _avail_ids(info: SpliceInfo) -> tuple[list[int], list[int]]:
    """The event ids the cue ends and starts avails of; an end comes first (back-to-back
    breaks: SCTE 35 Table 23)."""
    if info.cancel:
        return [], []
    if info.command_type == SPLICE_INSERT and info.splice_event_id is not None:
        ids = [info.splice_event_id]
        return ([], ids) if info.out_of_network else (ids, [])
    if info.command_type != TIME_SIGNAL:
        return [], []
    live = [d for d in info.descriptors if not d.cancel]
    return (
        [d.event_id for d in live if d.type_id in AVAIL_ENDS],
        [d.event_id for d in live if d.type_id in AVAIL_STARTS],
    )


def _signals(mpd: Mpd) -> Iterator[_Signal]:
    for period in mpd.periods:
        if period.start is None:
            continue
        for stream in period.event_streams:
            if stream.scheme_id_uri.strip() not in SCTE35_SCHEMES:
                continue
            for event in stream.events:
                signal = _signal(period, period.start, stream, event)
                if signal is not None:
                    yield signal


def _signal(
    period: PeriodView, start: float, stream: EventStreamView, event: EventView
) -> _Signal | None:
    try:
        offset = event.presentation_time - stream.presentation_time_offset
        length = event.duration
        scale = stream.timescale
    except ManifestError:
        return None
    info = read_scte35(event.element)
    if info is None:
        return None
    duration = None if length is None else length / scale
    return _Signal(start + offset / scale, duration, info, period, event, stream)


def read_scte35(event: _Element) -> SpliceInfo | None:
    """The cue of an Event: a ``Binary`` base64 section, else a ``SpliceInfoSection`` in
    XML (``None`` when there is neither or it cannot be read)."""
    for element in event.iter(etree.Element):
        name = _lower_name(element)
        if name == "binary":
            return _binary(element.text or "")
        if name == "spliceinfosection":
            return _xml_section(element)
    return None


def _lower_name(element: _Element) -> str:
    return local_name(element).lower()


def _binary(text: str) -> SpliceInfo | None:
    try:
        return decode("".join(text.split()))
    except Scte35Error:
        return None


# --- SCTE 35 XML (SCTE 35 §13, the schema MediaPackage, MediaTailor and SCTE 214 use) ----


class _Bad(ValueError):
    """An XML cue attribute that cannot be read (the cue is ignored)."""


_COMMANDS: Final = {
    "spliceinsert": (SPLICE_INSERT, "splice_insert"),
    "timesignal": (TIME_SIGNAL, "time_signal"),
    "splicenull": (SPLICE_NULL, "splice_null"),
    "spliceschedule": (SPLICE_SCHEDULE, "splice_schedule"),
    "bandwidthreservation": (BANDWIDTH_RESERVATION, "bandwidth_reservation"),
    "privatecommand": (PRIVATE_COMMAND, "private_command"),
}


def _xml_section(section: _Element) -> SpliceInfo | None:
    """SCTE 35 XML ``SpliceInfoSection`` as a SpliceInfo (``raw`` is empty: there is no
    binary section). Element names are matched case-insensitively in any namespace: the
    corpus uses three SCTE namespaces and none."""
    commands = [c for c in _kids(section) if _lower_name(c) in _COMMANDS]
    if not commands:
        return None
    command = commands[0]
    command_type, name = _COMMANDS[_lower_name(command)]
    try:
        adjustment = _int(section, "ptsAdjustment") or 0
        reader = _READERS.get(command_type, _no_fields)
        fields = reader(command)
        descriptors = tuple(
            _segmentation(d) for d in _kids(section) if _lower_name(d) == "segmentationdescriptor"
        )
    except _Bad:
        return None
    pts, event_id, cancel, out, break_ticks, auto_return = fields
    return SpliceInfo(
        command_type=command_type,
        command_name=name,
        pts_adjustment=adjustment,
        splice_event_id=event_id,
        cancel=cancel,
        out_of_network=out,
        pts_time=None if pts is None else ((pts + adjustment) % _PTS_WRAP) / _TICKS,
        break_duration=None if break_ticks is None else break_ticks / _TICKS,
        auto_return=auto_return,
        descriptors=descriptors,
        raw=b"",
    )


class _Fields(NamedTuple):
    pts: int | None = None
    event_id: int | None = None
    cancel: bool = False
    out_of_network: bool | None = None
    break_ticks: int | None = None
    auto_return: bool | None = None


def _no_fields(command: _Element) -> _Fields:
    return _Fields()


def _splice_insert(command: _Element) -> _Fields:
    """SCTE 35 Table 10 - splice_insert() in XML."""
    event_id = _int(command, "spliceEventId")
    if _bool(command, "spliceEventCancelIndicator"):
        return _Fields(event_id=event_id, cancel=True)
    duration = _first(command, "breakduration")
    return _Fields(
        pts=_pts(command),
        event_id=event_id,
        out_of_network=bool(_bool(command, "outOfNetworkIndicator")),
        break_ticks=None if duration is None else _int(duration, "duration"),
        auto_return=None if duration is None else _bool(duration, "autoReturn"),
    )


def _time_signal(command: _Element) -> _Fields:
    """SCTE 35 Table 11 - time_signal() in XML."""
    return _Fields(pts=_pts(command))


_READERS: Final[dict[int, Callable[[_Element], _Fields]]] = {
    SPLICE_INSERT: _splice_insert,
    TIME_SIGNAL: _time_signal,
}


def _pts(command: _Element) -> int | None:
    """The first ``SpliceTime@ptsTime`` below the command (``Program`` or direct)."""
    for element in command.iter(etree.Element):
        if _lower_name(element) == "splicetime":
            return _int(element, "ptsTime")
    return None


def _segmentation(descriptor: _Element) -> SegmentationDescriptor:
    """SCTE 35 Table 20 - segmentation_descriptor() in XML. Some writers put the type and the
    UPID type on the ``SegmentationUpid`` child, or name the event id ``spliceEventId``."""
    upid = _first(descriptor, "segmentationupid")
    holders = (descriptor,) if upid is None else (descriptor, upid)

    def read(name: str) -> int | None:
        return next((v for h in holders if (v := _int(h, name)) is not None), None)

    event_id = read("segmentationEventId")
    event_id = read("spliceEventId") if event_id is None else event_id
    cancel = bool(_bool(descriptor, "segmentationEventCancelIndicator"))
    duration = read("segmentationDuration")
    upid_text = descriptor.get("segmentationUpid") or (upid.text if upid is not None else "")
    return SegmentationDescriptor(
        event_id=event_id or 0,
        cancel=cancel,
        type_id=read("segmentationTypeId") or 0,
        duration=None if duration is None else duration / _TICKS,
        upid_type=read("segmentationUpidType") or 0,
        upid=(upid_text or "").strip().encode(),
        segment_num=read("segmentNum") or 0,
        segments_expected=read("segmentsExpected") or 0,
    )


def _kids(element: _Element) -> list[_Element]:
    return list(element.iterchildren(etree.Element))


def _first(element: _Element, name: str) -> _Element | None:
    return next((c for c in _kids(element) if _lower_name(c) == name), None)


def _int(element: _Element, name: str) -> int | None:
    text = element.get(name)
    if text is None:
        return None
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise _Bad(name)
    return int(text)


def _bool(element: _Element, name: str) -> bool | None:
    text = element.get(name)
    if text is None:
        return None
    match text.strip().lower():
        case "true" | "1":
            return True
        case "false" | "0":
            return False
        case _:
            raise _Bad(name)


# --- ad Periods ----------------------------------------------------------------------------


def _ad_period_breaks(mpd: Mpd, signalled: list[DashBreak]) -> list[DashBreak]:
    """Runs of consecutive ad Periods, one break each."""
    flags = _ad_flags(mpd, signalled)
    breaks: list[DashBreak] = []
    run: list[PeriodView] = []
    for period, is_ad in zip(mpd.periods, flags, strict=True):
        if is_ad and period.start is not None:
            run.append(period)
            continue
        breaks.extend(_pod(run))
        run = []
    breaks.extend(_pod(run))
    return breaks


def _pod(run: list[PeriodView]) -> list[DashBreak]:
    if not run:
        return []
    first = run[0]
    assert first.start is not None
    durations = [p.duration for p in run]
    total = None if None in durations else math.fsum(d for d in durations if d is not None)
    key = period_key(first)
    signalling = [s for s in first.event_streams if s.scheme_id_uri == AD_CREATIVE_SIGNALING]
    event = signalling[0].events[0].element if signalling and signalling[0].events else None
    return [
        DashBreak(
            id=f"{key}-0",
            period_id=key,
            start=first.start,
            duration=total,
            scte35=None,
            event=event,
            kind="ad-periods",
        )
    ]


def _ad_flags(mpd: Mpd, signalled: list[DashBreak]) -> list[bool]:
    """Which Periods are ads: an ad-creative-signaling EventStream, or (when Periods share a
    content AssetIdentifier) another or no AssetIdentifier. Periods that start inside a
    signalled break are the break's, and do not count towards the content's asset."""
    marked = [
        any(s.scheme_id_uri.strip() == AD_CREATIVE_SIGNALING for s in p.event_streams)
        for p in mpd.periods
    ]
    inside = [_within(p, signalled) for p in mpd.periods]
    assets = [p.asset_identifier for p in mpd.periods]
    content = _content_asset(
        [a for a, ad, i in zip(assets, marked, inside, strict=True) if not ad and not i]
    )
    return [
        ad or (content is not None and asset != content)
        for ad, asset in zip(marked, assets, strict=True)
    ]


def _within(period: PeriodView, signalled: list[DashBreak]) -> bool:
    start = period.start
    return start is not None and any(
        b.end is not None and b.start - _SAME_INSTANT <= start < b.end - _SAME_INSTANT
        for b in signalled
    )


def _content_asset(assets: list[object | None]) -> object | None:
    """The AssetIdentifier most Periods carry (the first such on a tie), if at least two
    carry it: the main content's (IOP v4.3 §5.3)."""
    counts: dict[object, int] = {}
    for asset in assets:
        if asset is not None:
            counts[asset] = counts.get(asset, 0) + 1
    if not counts:
        return None
    best = max(counts.values())
    return next((a for a, n in counts.items() if n == best), None) if best >= 2 else None
