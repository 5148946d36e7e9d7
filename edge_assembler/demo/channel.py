"""A simulated live channel: the content asset's VOD segments looped on a clock, with ad cues.

MSN ``n`` is published ``(n + 1) * SEGMENT_SECONDS`` after the schedule's epoch and is the
content's segment ``n % loop``; a media playlist lists the last ``window`` published MSNs.
Where the loop wraps the timestamps restart, so that segment carries EXT-X-DISCONTINUITY.
Ad breaks are signalled twice: in-segment ``EXT-X-CUE-OUT`` / ``-CONT`` / ``-IN`` and an
``EXT-X-DATERANGE`` whose ``SCTE35-OUT`` is a splice_insert (BIS §4.4.5.1.1). Everything
follows from the MSN and the clock, so every rendition and every reload agrees.

``DashChannel`` is the same channel as a dynamic MPD: one Period per loop, the breaks as
SCTE-35 Events in each Period's EventStream.
"""

import base64
import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Final, NamedTuple

from lxml import etree
from lxml.etree import _Element

from edge_assembler.core.dash.parse import parse as parse_mpd
from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls.dates import format_date
from edge_assembler.core.hls.model import MediaPlaylist
from edge_assembler.core.hls.parse import parse
from edge_assembler.core.scte35 import SPLICE_INSERT, TABLE_ID, crc32_mpeg2
from edge_assembler.demo.media import AUDIO_PLAYLISTS, LADDER, SEGMENT_SECONDS

CONTENT: Final = "content"
RENDITIONS: Final = (
    *(rung.name for rung in LADDER),
    *(p.partition("/")[0] for p in AUDIO_PLAYLISTS),
)
PLAYLIST_NAME: Final = "index.m3u8"
DASH_MANIFEST: Final = "manifest.mpd"
RETAINED_SEGMENTS: Final = 60  # a segment stays fetchable this many MSNs after publication
_TICKS: Final = 90_000  # SCTE 35 §9.8: the 90 kHz clock of every time field
_SUBTITLES: Final = ',SUBTITLES="subs"'
DASH_PATH: Final = "/live/channel/manifest.mpd"
DASH_BASE_URL: Final = f"/dash/{CONTENT}/"  # where the demo origin serves the content's DASH
TIME_SHIFT_SECONDS: Final = 30
PRESENTATION_DELAY_SECONDS: Final = 6
SCTE35_XML_BIN: Final = "urn:scte:scte35:2014:xml+bin"  # SCTE 214-1 §5.3.1.2
_MPD_NS: Final = "urn:mpeg:dash:schema:mpd:2011"
_SCTE35_NS: Final = "http://www.scte.org/schemas/35/2016"
_LIVE_PROFILE: Final = "urn:mpeg:dash:profile:isoff-live:2011"
# ISO/IEC 23009-1 §5.8.5.7: the client reads the server's clock from a HEAD's Date header.
_UTC_HEAD: Final = "urn:mpeg:dash:utc:http-head:2014"


class ChannelError(Exception):
    """The media cannot make a channel; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class ChannelSchedule:
    """When MSN 0 starts, how many segments a playlist lists, and where breaks fall: a break
    of ``segments`` segments starts at every MSN with ``msn % every == at``."""

    epoch: float = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    window: int = 6
    every: int = 5
    at: int = 1
    segments: int = 2
    media_max_age: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.segments < self.every:
            raise ValueError(f"need 0 < segments < every, got {self}")
        if not 0 <= self.at < self.every:
            raise ValueError(f"need 0 <= at < every, got {self}")
        if self.window < 1:
            raise ValueError(f"need window >= 1, got {self}")
        if self.media_max_age < 0:
            raise ValueError(f"need media_max_age >= 0, got {self}")
        if not math.isfinite(self.epoch):
            raise ValueError(f"need a finite epoch, got {self}")

    @property
    def break_seconds(self) -> float:
        return float(self.segments * SEGMENT_SECONDS)

    def offset(self, msn: int) -> int:
        """How far ``msn`` lies after the start of the last break at or before it."""
        return (msn - self.at) % self.every

    def break_of(self, msn: int) -> int | None:
        """The first MSN of the break ``msn`` lies in, or closes with its CUE-IN."""
        offset = self.offset(msn)
        start = msn - offset
        return start if offset <= self.segments and start >= 0 else None

    def published(self, now: float) -> int:
        """How many MSNs are published at ``now``: MSN n is, from epoch + (n + 1) * 2 s."""
        return max(0, math.floor((now - self.epoch) / SEGMENT_SECONDS))

    def date(self, msn: int) -> str:
        """The PROGRAM-DATE-TIME of ``msn`` (BIS §4.4.4.6)."""
        return format_date(datetime.fromtimestamp(self.epoch + msn * SEGMENT_SECONDS, UTC))


DEFAULT_SCHEDULE: Final = ChannelSchedule()


class LivePlaylist(NamedTuple):
    """A playlist as served now, and when it last changed (seconds since the Unix epoch)."""

    text: str
    modified: float


def splice_insert(event_id: int, seconds: float) -> bytes:
    """An out-of-network splice_info_section (SCTE 35 Table 5) carrying a splice_insert
    (Table 10): program splice, immediate, with a ``seconds`` break_duration and
    auto_return (Table 15), no descriptors, and its CRC_32."""
    ticks = round(seconds * _TICKS)
    command = (
        event_id.to_bytes(4)
        + b"\x7f"  # splice_event_cancel_indicator 0, reserved
        + b"\xff"  # out_of_network, program_splice, duration, splice_immediate, reserved
        + bytes([0xFE | (ticks >> 32) & 0x01])  # auto_return, reserved, duration bit 32
        + (ticks & 0xFFFFFFFF).to_bytes(4)
        + b"\x00\x01\x00\x00"  # unique_program_id 1, avail_num 0, avails_expected 0
    )
    # protocol_version, encrypted_packet/encryption_algorithm/pts_adjustment, cw_index, tier
    body = b"\x00" + bytes(5) + b"\x00" + b"\xff" + bytes([0xF0 | len(command) >> 8])
    body += bytes([len(command) & 0xFF, SPLICE_INSERT]) + command + b"\x00\x00"
    length = len(body) + 4  # section_length counts the CRC_32
    # section_syntax_indicator 0, private_indicator 0, sap_type 3 (not specified)
    head = bytes([TABLE_ID, 0x30 | length >> 8, length & 0xFF])
    return head + body + crc32_mpeg2(head + body).to_bytes(4)


class _Rendition(NamedTuple):
    durations: tuple[float, ...]  # one loop, by segment index
    files: tuple[Path, ...]


class Channel:
    """The channel's master, media playlists and segments at the clock's time."""

    def __init__(
        self,
        media_root: Path,
        schedule: ChannelSchedule = DEFAULT_SCHEDULE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.schedule = schedule
        self._clock = clock
        content = media_root / "hls" / CONTENT
        self._master = _master(content / "master.m3u8")
        vod = {name: _vod(content / name / PLAYLIST_NAME) for name in RENDITIONS}
        # The video sets the loop; the audio playlists end in a short extra segment.
        self.loop = len(vod[RENDITIONS[0]].segments)
        self._renditions: Mapping[str, _Rendition] = MappingProxyType(
            {name: _loop(content / name, playlist, self.loop) for name, playlist in vod.items()}
        )
        _check_wraps(schedule, self.loop)

    @property
    def renditions(self) -> tuple[str, ...]:
        return tuple(self._renditions)

    def published(self) -> int:
        """How many MSNs the clock says are published."""
        return self.schedule.published(self._clock())

    def master(self) -> LivePlaylist:
        return LivePlaylist(self._master, self.schedule.epoch)

    def media_playlist(self, rendition: str) -> LivePlaylist | None:
        """The sliding window of ``rendition`` now; None before the first segment is out."""
        loop = self._renditions[rendition]
        s = self.schedule
        end = self.published()
        if end == 0:
            return None
        first = max(0, end - s.window)
        wraps_before = max(0, (first - 1) // self.loop)  # RFC 8216 §6.2.2
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:6",
            f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{wraps_before}",
            "#EXT-X-INDEPENDENT-SEGMENTS",
        ]
        for msn in range(first, end):
            if msn > 0 and msn % self.loop == 0:
                lines.append("#EXT-X-DISCONTINUITY")
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{s.date(msn)}")
            lines += self._cues(msn, first)
            lines += [f"#EXTINF:{loop.durations[msn % self.loop]:.6f},", f"{msn}.ts"]
        modified = s.epoch + end * SEGMENT_SECONDS
        return LivePlaylist("".join(f"{line}\n" for line in lines), modified)

    def _cues(self, msn: int, first: int) -> list[str]:
        s = self.schedule
        start = s.break_of(msn)
        if start is None:
            return []
        offset, duration = msn - start, s.break_seconds
        lines = []
        if offset == 0 or msn == first:
            # BIS §4.4.5.1: placed by its START-DATE, so it can stand at the window's head
            # while any of the break is listed.
            payload = splice_insert(start, duration).hex().upper()
            lines.append(
                f'#EXT-X-DATERANGE:ID="break-{start}",START-DATE="{s.date(start)}",'
                f"PLANNED-DURATION={duration:.3f},SCTE35-OUT=0x{payload}"
            )
        if offset == 0:
            lines.append(f"#EXT-X-CUE-OUT:DURATION={duration:.3f}")
        elif offset < s.segments:
            elapsed = float(offset * SEGMENT_SECONDS)
            lines.append(f"#EXT-X-CUE-OUT-CONT:ElapsedTime={elapsed:.3f},Duration={duration:.3f}")
        else:
            lines.append("#EXT-X-CUE-IN")
        return lines

    def segment(self, rendition: str, msn: int) -> Path | None:
        """The file of MSN ``msn``, while it is published and retained; else None."""
        loop = self._renditions.get(rendition)
        end = self.published()
        if loop is None or not end - RETAINED_SEGMENTS <= msn < end:
            return None
        return loop.files[msn % self.loop]


class DashChannel:
    """The channel as a dynamic MPD (ISO/IEC 23009-1 §5.3.1.2, DASH-IF IOP v4.3 §4.3).

    The content's fMP4 media times start again every loop, so each loop ``k`` is a Period
    ``loop-<k>`` from ``k * loop * 2`` s (§5.3.2.1): the content MPD's AdaptationSets with
    their ``$Number$`` templates from ``startNumber`` 1, the segments fetched from the
    content's own DASH directory. Segment ``n`` of loop ``k`` is MSN ``k * loop + n - 1`` and
    becomes available when that MSN is published. The chunks' ``tfdt`` start at 0 (the edit
    list moves the first frame to 0), so no presentationTimeOffset is needed. Each break of
    a loop is an Event of the Period's SCTE-35 EventStream (SCTE 214-1 §5.3.1.2), its id and
    splice_event_id the break's first MSN. The document changes only when a segment is
    published: it lists the Periods overlapping the time-shift buffer before that moment.
    """

    def __init__(
        self,
        media_root: Path,
        schedule: ChannelSchedule = DEFAULT_SCHEDULE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.schedule = schedule
        self._clock = clock
        path = media_root / "dash" / CONTENT / DASH_MANIFEST
        try:
            content = parse_mpd(path.read_bytes())
        except (OSError, ManifestError) as exc:
            raise ChannelError(f"cannot read {path}: {exc}") from exc
        total = content.media_presentation_duration
        if content.dynamic or len(content.periods) != 1 or not total:
            raise ChannelError(f"{path} is not a static MPD of one Period")
        self.loop = round(total / SEGMENT_SECONDS)
        self.min_buffer_time = content.root.get("minBufferTime", f"PT{2 * SEGMENT_SECONDS}S")
        self._sets = tuple(_bare(a.element) for a in content.periods[0].adaptation_sets)
        for template in (t for a in self._sets for t in a.iter(f"{{{_MPD_NS}}}SegmentTemplate")):
            scale, duration = int(template.get("timescale", "1")), template.get("duration")
            if duration is None or int(duration) != SEGMENT_SECONDS * scale:
                raise ChannelError(f"{path}: a SegmentTemplate is not of {SEGMENT_SECONDS} s")
        _check_wraps(schedule, self.loop)

    @property
    def period_seconds(self) -> int:
        return self.loop * SEGMENT_SECONDS

    def loops(self, published: int) -> range:
        """The loops whose Periods overlap the time-shift buffer when ``published`` MSNs are
        out, the newest one's Period open."""
        edge = published * SEGMENT_SECONDS
        first = max(0, edge - TIME_SHIFT_SECONDS) // self.period_seconds
        return range(first, edge // self.period_seconds + 1)

    def breaks(self, loop: int) -> list[int]:
        """The first MSNs of the breaks that start in ``loop``."""
        msns = range(loop * self.loop, (loop + 1) * self.loop)
        return [msn for msn in msns if self.schedule.offset(msn) == 0]

    def manifest(self) -> LivePlaylist | None:
        """The MPD now; None before the first segment is out."""
        s = self.schedule
        published = s.published(self._clock())
        if published == 0:
            return None
        modified = s.epoch + published * SEGMENT_SECONDS
        root = etree.fromstring(f'<MPD xmlns="{_MPD_NS}"/>')  # the default namespace
        root.attrib.update(
            {
                "profiles": _LIVE_PROFILE,
                "type": "dynamic",
                "availabilityStartTime": s.date(0),
                "publishTime": format_date(datetime.fromtimestamp(modified, UTC)),
                "minimumUpdatePeriod": f"PT{SEGMENT_SECONDS}S",
                "timeShiftBufferDepth": f"PT{TIME_SHIFT_SECONDS}S",
                "suggestedPresentationDelay": f"PT{PRESENTATION_DELAY_SECONDS}S",
                "maxSegmentDuration": f"PT{SEGMENT_SECONDS}S",
                "minBufferTime": self.min_buffer_time,
            }
        )
        for loop in self.loops(published):
            root.append(self._period(loop))
        etree.SubElement(root, _q("UTCTiming"), schemeIdUri=_UTC_HEAD, value=DASH_PATH)
        text = etree.tostring(root, encoding="unicode", pretty_print=True)
        return LivePlaylist(f'<?xml version="1.0" encoding="utf-8"?>\n{text}', modified)

    def _period(self, loop: int) -> _Element:
        start = loop * self.period_seconds
        period = etree.Element(_q("Period"), id=f"loop-{loop}", start=f"PT{start}S")
        etree.SubElement(period, _q("BaseURL")).text = DASH_BASE_URL
        breaks = self.breaks(loop)
        if breaks:
            stream = etree.SubElement(
                period, _q("EventStream"), schemeIdUri=SCTE35_XML_BIN, timescale=str(_TICKS)
            )
            duration = round(self.schedule.break_seconds * _TICKS)
            for msn in breaks:
                offset = (msn - loop * self.loop) * SEGMENT_SECONDS * _TICKS
                event = etree.SubElement(
                    stream,
                    _q("Event"),
                    presentationTime=str(offset),
                    duration=str(duration),
                    id=str(msn),
                )
                payload = splice_insert(msn, self.schedule.break_seconds)
                binary = base64.b64encode(payload).decode("ascii")
                event.append(
                    etree.fromstring(
                        f'<Signal xmlns="{_SCTE35_NS}"><Binary>{binary}</Binary></Signal>'
                    )
                )
        period.extend(copy.deepcopy(a) for a in self._sets)
        return period


def _q(name: str) -> str:
    return f"{{{_MPD_NS}}}{name}"


def _bare(element: _Element) -> _Element:
    """A copy of ``element`` without the whitespace between its elements."""
    bare = copy.deepcopy(element)
    for node in bare.iter():
        node.tail = None
        if node.text is not None and not node.text.strip():
            node.text = None
    return bare


def _check_wraps(schedule: ChannelSchedule, loop: int) -> None:
    """The timestamps restart where the loop wraps; no break may span that point or end on
    it, or a player would splice across a discontinuity it did not expect."""
    for wrap in range(loop, loop * (schedule.every + 1), loop):
        if schedule.offset(wrap) <= schedule.segments:
            raise ChannelError(
                f"the loop of {loop} segments wraps at MSN {wrap}, inside a break of "
                f"{schedule}; choose another every/at"
            )


def _master(path: Path) -> str:
    """The content's multivariant playlist without its subtitles (the channel has none)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ChannelError(f"cannot read {path}: {exc}") from exc
    lines = [
        line.replace(_SUBTITLES, "")
        for line in text.splitlines()
        if not line.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES")
    ]
    text = "\n".join(lines)
    missing = [r for r in RENDITIONS if f"{r}/{PLAYLIST_NAME}" not in text]
    if missing:
        raise ChannelError(f"{path} does not list the renditions {missing}")
    return "".join(f"{line}\n" for line in lines)


def _vod(path: Path) -> MediaPlaylist:
    try:
        playlist = parse(path.read_bytes())
    except (OSError, ManifestError) as exc:
        raise ChannelError(f"cannot read {path}: {exc}") from exc
    if not isinstance(playlist, MediaPlaylist) or not playlist.segments:
        raise ChannelError(f"{path} is not a media playlist with segments")
    return playlist


def _loop(directory: Path, playlist: MediaPlaylist, loop: int) -> _Rendition:
    """The first ``loop`` segments of a VOD rendition."""
    if len(playlist.segments) < loop:
        raise ChannelError(
            f"{directory} has {len(playlist.segments)} segments, the loop needs {loop}"
        )
    segments = playlist.segments[:loop]
    files = tuple((directory / s.uri).resolve() for s in segments)
    if any(not f.is_relative_to(directory.resolve()) or not f.is_file() for f in files):
        raise ChannelError(f"{directory}: a segment file is missing")
    return _Rendition(tuple(s.duration for s in segments), files)
