"""Segment addressing of a Representation (ISO/IEC 23009-1 §5.3.9) and BaseURL resolution.

Segments are listed over one Period: ``Segment.start`` is in seconds from the Period start
(MPD time - Period start, SPEC_RULES 79: ``(t - presentationTimeOffset) / timescale``) and the
last segment is cut at the Period end, because what lies beyond is not presented. Segments
wholly outside the Period are left out. A Period without an end (the open last Period of a
live MPD) needs ``until=`` (seconds from the Period start) wherever the count depends on it.

``segment_boundaries`` lists the times at which every audio and video Representation of a
Period has a segment boundary, which is where an inserted Period may split it. Audio
segments end on audio frames, so they match video only to within one frame: the tolerance is
the longest audio frame of the Period (1024 samples for AAC, 1536 for AC-3/E-AC-3, at the
declared @audioSamplingRate, 48 kHz when absent), 21.3 ms for 48 kHz AAC.
"""

import math
from bisect import bisect_left
from collections.abc import Sequence
from typing import NamedTuple
from urllib.parse import urljoin

from lxml.etree import _Element

from edge_assembler.core.dash.addressing import SegmentInfo
from edge_assembler.core.dash.elements import children
from edge_assembler.core.dash.model import Mpd, PeriodView
from edge_assembler.core.dash.values import int_attr, line_of, positive_int_attr
from edge_assembler.core.dash.views import RepresentationView
from edge_assembler.core.errors import ManifestError

MAX_SEGMENTS = 100_000  # per Representation and Period: a day of 1 s segments, with margin
_SLACK = 1e-6  # float noise, in segments or seconds, where a Period end meets a segment end
_AUDIO_FRAME_SAMPLES = {"ac-3": 1536, "ec-3": 1536}
_AAC_FRAME_SAMPLES = 1024
_DEFAULT_SAMPLE_RATE = 48_000


class TimedSegment(NamedTuple):
    """A segment in the Representation's own time scale."""

    number: int
    time: int  # media time, timescale units (presentationTimeOffset included)
    duration: int


class Segment(NamedTuple):
    """A segment in seconds of its Period."""

    number: int
    start: float  # seconds from the Period start
    duration: float


class TimelineEntry(NamedTuple):
    """An S element of a SegmentTimeline (ISO/IEC 23009-1 §5.3.9.6), @r default 0."""

    t: int | None
    d: int
    r: int
    n: int | None
    element: _Element


def segment_info(representation: RepresentationView) -> SegmentInfo:
    """The effective SegmentTemplate, SegmentList or SegmentBase of ``representation``
    (ISO/IEC 23009-1 §5.3.9.1): timescale, presentationTimeOffset, startNumber, ..."""
    return representation.segment_info


def timed_segments(
    period: PeriodView, representation: RepresentationView, *, until: float | None = None
) -> list[TimedSegment]:
    """The segments of ``representation`` in media time (timescale units)."""
    info = segment_info(representation)
    return _timed(info, _end_ticks(period, info, until))


def segments(
    period: PeriodView, representation: RepresentationView, *, until: float | None = None
) -> list[Segment]:
    """The segments of ``representation`` over ``period`` as (number, start, duration) s."""
    info = segment_info(representation)
    timed = _timed(info, _end_ticks(period, info, until))
    return _in_period(info, timed, _length(period, until))


def segment_boundaries(period: PeriodView, *, until: float | None = None) -> list[float]:
    """Seconds from the Period start where all its video and audio Representations have a
    segment boundary (a segment start, or the end of the last segment)."""
    chosen = _media_representations(period)
    if not chosen:
        return []
    tolerance = audio_frame_duration(period)
    cache: dict[tuple[object, ...], list[float]] = {}
    edges = [_edges(period, r, until, cache) for r in chosen]
    # Representations that share their timing share one list: compare each list once.
    anchor, *others = {id(listed): listed for listed in edges}.values()
    return [t for t in anchor if all(_has_edge(other, t, tolerance) for other in others)]


def audio_frame_duration(period: PeriodView) -> float:
    """The longest audio frame of ``period`` in seconds (the boundary tolerance)."""
    frames = [
        _frame_samples(r.codecs) / (r.audio_sampling_rate or _DEFAULT_SAMPLE_RATE)
        for r in period.representations()
        if r.content_type == "audio"
    ]
    return max(frames, default=_AAC_FRAME_SAMPLES / _DEFAULT_SAMPLE_RATE)


def resolve_base_urls(document_url: str, *levels: Sequence[str]) -> list[str]:
    """BaseURLs resolved level by level (ISO/IEC 23009-1 §5.6, RFC 3986 §5): each BaseURL of
    a level against each of the level above, alternatives kept in document order; a level
    without BaseURL inherits the one above, an absolute one overrides."""
    bases = [document_url]
    for level in levels:
        if level:
            bases = list(dict.fromkeys(urljoin(base, ref) for base in bases for ref in level))
    return bases


def representation_base_urls(
    document_url: str, mpd: Mpd, representation: RepresentationView
) -> list[str]:
    """The BaseURLs of ``representation``, resolved from the MPD URL down (SPEC_RULES 87)."""
    adaptation_set = representation.adaptation_set
    return resolve_base_urls(
        document_url,
        mpd.base_urls,
        adaptation_set.period.base_urls,
        adaptation_set.base_urls,
        representation.base_urls,
    )


def _length(period: PeriodView, until: float | None) -> float | None:
    return period.duration if period.duration is not None else until


def _end_ticks(period: PeriodView, info: SegmentInfo, until: float | None) -> float | None:
    length = _length(period, until)
    if length is None:
        return None
    return info.presentation_time_offset + length * info.timescale


def _timed(info: SegmentInfo, end: float | None) -> list[TimedSegment]:
    match info.kind:
        case "template" if info.timeline is not None:
            return _from_timeline(info, info.timeline, end)
        case "template" if info.duration is not None:
            return _from_duration(info, info.duration, end)
        case "list":
            return _from_list(info, end)
        case _:
            return _single(info, end)


def _from_duration(info: SegmentInfo, duration: int, end: float | None) -> list[TimedSegment]:
    """ISO/IEC 23009-1 §5.3.9.5.3: Ceil(Period duration / segment duration) segments,
    numbered from @startNumber, the k-th at k * @duration after the Period start."""
    if end is None:
        raise _open_end(info)
    count = _count(end - info.presentation_time_offset, duration, info)
    first, pto = info.start_number, info.presentation_time_offset
    return [TimedSegment(first + k, pto + k * duration, duration) for k in range(count)]


def _from_timeline(info: SegmentInfo, timeline: _Element, end: float | None) -> list[TimedSegment]:
    """ISO/IEC 23009-1 §5.3.9.6 (SPEC_RULES 81): S@t defaults to the end of the previous S
    (0 for the first), @r = -1 repeats up to the next S@t or the Period end, S@n renumbers."""
    entries = timeline_entries(timeline)
    out: list[TimedSegment] = []
    number, time = info.start_number, 0
    for i, s in enumerate(entries):
        time = s.t if s.t is not None else time
        number = s.n if s.n is not None else number
        repeats = (
            s.r + 1 if s.r >= 0 else _open_repeats(info, s, time, _next_start(entries, i, end))
        )
        if len(out) + repeats > MAX_SEGMENTS:
            raise _too_many(s.element)
        out.extend(TimedSegment(number + k, time + k * s.d, s.d) for k in range(repeats))
        number, time = number + repeats, time + repeats * s.d
    return out


def timeline_entries(timeline: _Element) -> list[TimelineEntry]:
    """The S elements of ``timeline``; @d is required and positive, @r is -1 or more."""
    entries = []
    for s in children(timeline, "S"):
        r = int_attr(s, "r", signed=True) or 0
        if r < -1:
            raise ManifestError(line_of(s), f"S@r={r} is below -1")
        if s.get("d") is None:
            raise ManifestError(line_of(s), "S without @d")
        entries.append(
            TimelineEntry(int_attr(s, "t"), positive_int_attr(s, "d", 1), r, int_attr(s, "n"), s)
        )
    return entries


def _next_start(entries: list[TimelineEntry], i: int, end: float | None) -> float | None:
    following = entries[i + 1].t if i + 1 < len(entries) else None
    return following if following is not None else end


def _open_repeats(info: SegmentInfo, s: TimelineEntry, time: int, stop: float | None) -> int:
    if stop is None:
        raise _open_end(info)
    return _count(stop - time, s.d, info)


def _from_list(info: SegmentInfo, end: float | None) -> list[TimedSegment]:
    """ISO/IEC 23009-1 §5.3.9.3: one segment per SegmentURL, timed by the SegmentTimeline or
    @duration; a single SegmentURL without either is the whole Period."""
    count = len(info.segment_urls)
    if info.timeline is not None:
        return _from_timeline(info, info.timeline, end)[:count]
    if info.duration is not None:
        first, pto, d = info.start_number, info.presentation_time_offset, info.duration
        return [TimedSegment(first + k, pto + k * d, d) for k in range(count)]
    if count > 1:
        raise ManifestError(line_of(info.chain[0]), "SegmentList without @duration or timeline")
    return _single(info, end) if count else []


def _single(info: SegmentInfo, end: float | None) -> list[TimedSegment]:
    """SegmentBase, or no addressing at all: one segment spans the Period (§5.3.9.2)."""
    if end is None:
        raise _open_end(info)
    pto = info.presentation_time_offset
    return [TimedSegment(info.start_number, pto, max(math.ceil(end - pto - _SLACK), 0))]


def _count(span: float, duration: int, info: SegmentInfo) -> int:
    count = max(math.ceil(span / duration - _SLACK), 0)
    if count > MAX_SEGMENTS:
        raise _too_many(info.chain[0] if info.chain else None)
    return count


def _too_many(element: _Element | None) -> ManifestError:
    line = 0 if element is None else line_of(element)
    return ManifestError(line, f"more than {MAX_SEGMENTS} segments in one Period")


def _open_end(info: SegmentInfo) -> ManifestError:
    line = line_of(info.chain[0]) if info.chain else 0
    return ManifestError(line, "the segment count needs the Period end, which the MPD lacks")


def _in_period(info: SegmentInfo, timed: list[TimedSegment], length: float | None) -> list[Segment]:
    scale, pto = info.timescale, info.presentation_time_offset
    out = []
    for seg in timed:
        start = (seg.time - pto) / scale
        stop = (seg.time + seg.duration - pto) / scale
        if length is not None:
            if start >= length - _SLACK:
                break
            stop = min(stop, length)
        if stop > _SLACK:
            out.append(Segment(seg.number, start, stop - start))
    return out


def _media_representations(period: PeriodView) -> list[RepresentationView]:
    every = list(period.representations())
    media = [r for r in every if r.content_type in {"video", "audio"}]
    media.sort(key=lambda r: r.content_type != "video")  # a video Representation anchors
    return media or every


def _edges(
    period: PeriodView,
    representation: RepresentationView,
    until: float | None,
    cache: dict[tuple[object, ...], list[float]],
) -> list[float]:
    info = segment_info(representation)
    timeline = None if info.timeline is None else timeline_entries(info.timeline)
    key = (
        *info[:1],
        *info[2:6],
        None if timeline is None else tuple(entry[:4] for entry in timeline),
        len(info.segment_urls),
    )
    if key not in cache:
        listed = segments(period, representation, until=until)
        starts = [seg.start for seg in listed]
        cache[key] = sorted({*starts, *(seg.start + seg.duration for seg in listed[-1:])})
    return cache[key]


def _has_edge(edges: list[float], t: float, tolerance: float) -> bool:
    i = bisect_left(edges, t - tolerance)
    return i < len(edges) and edges[i] <= t + tolerance


def _frame_samples(codecs: str | None) -> int:
    return _AUDIO_FRAME_SAMPLES.get((codecs or "")[:4], _AAC_FRAME_SAMPLES)
