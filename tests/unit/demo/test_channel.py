"""The simulated live channel: windows, cues and SCTE-35 payloads at every clock position."""

import base64
import re
from pathlib import Path

import pytest

from edge_assembler.core import dash
from edge_assembler.core.dash.events import detect_breaks as dash_breaks
from edge_assembler.core.dash.invariants import check as check_mpd
from edge_assembler.core.hls.cues import detect_breaks
from edge_assembler.core.hls.invariants import check, check_reload
from edge_assembler.core.hls.model import MediaPlaylist
from edge_assembler.core.hls.parse import parse
from edge_assembler.core.scte35 import SPLICE_INSERT, Scte35Error, decode
from edge_assembler.demo.channel import (
    DASH_PATH,
    RENDITIONS,
    RETAINED_SEGMENTS,
    SCTE35_XML_BIN,
    Channel,
    ChannelError,
    ChannelSchedule,
    DashChannel,
    splice_insert,
)

LOOP = 15
EPOCH = ChannelSchedule().epoch
VIDEO_DURATIONS = [2.0] * LOOP
# As ffmpeg cuts 48 kHz AAC into 2 s segments, with a short tail segment.
AUDIO_DURATIONS = [1.984 if i % 4 == 3 else 2.005333 for i in range(LOOP)] + [0.021333]
MASTER = (
    "#EXTM3U\n"
    "#EXT-X-VERSION:6\n"
    "#EXT-X-INDEPENDENT-SEGMENTS\n"
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,'
    'AUTOSELECT=YES,CHANNELS="2",URI="audio_en/index.m3u8"\n'
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Francais",LANGUAGE="fr",DEFAULT=NO,'
    'AUTOSELECT=YES,CHANNELS="2",URI="audio_fr/index.m3u8"\n'
    '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=NO,'
    'AUTOSELECT=YES,URI="720p/index_vtt.m3u8"\n'
    + "".join(
        f'#EXT-X-STREAM-INF:BANDWIDTH={b},RESOLUTION={r},CODECS="avc1.4d401f,mp4a.40.2",'
        f'FRAME-RATE=25.000,AUDIO="aud",SUBTITLES="subs"\n{n}/index.m3u8\n'
        for b, r, n in (
            (655600, "640x360", "360p"),
            (1205600, "960x540", "540p"),
            (2305600, "1280x720", "720p"),
        )
    )
)


class Clock:
    """A clock the test sets."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def publish(self, count: int) -> None:
        """Set the time just after ``count`` MSNs are published."""
        self.now = EPOCH + count * 2 + 0.5


def vod_playlist(durations: list[float]) -> str:
    head = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
    head += "#EXT-X-PLAYLIST-TYPE:VOD\n"
    body = "".join(f"#EXTINF:{d:.6f},\nseg_{i:03d}.ts\n" for i, d in enumerate(durations))
    return head + body + "#EXT-X-ENDLIST\n"


def write_content(root: Path, audio: list[float] = AUDIO_DURATIONS) -> Path:
    content = root / "hls" / "content"
    content.mkdir(parents=True)
    (content / "master.m3u8").write_text(MASTER)
    for name in RENDITIONS:
        durations = audio if name.startswith("audio") else VIDEO_DURATIONS
        (content / name).mkdir()
        (content / name / "index.m3u8").write_text(vod_playlist(durations))
        for i in range(len(durations)):
            (content / name / f"seg_{i:03d}.ts").write_bytes(f"{name} {i}".encode())
    return root


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    return write_content(tmp_path / "media")


@pytest.mark.parametrize(
    "fields",
    [
        {"segments": 0},
        {"segments": 5, "every": 5},
        {"at": 5},
        {"at": -1},
        {"window": 0},
        {"media_max_age": -1},
        {"epoch": float("nan")},
    ],
)
def test_schedule_refuses(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="need"):
        ChannelSchedule(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("event_id", "seconds"), [(0, 4.0), (16, 4.0), (2**32 - 1, 0.5), (7, 50_000.0)]
)
def test_splice_insert_decodes(event_id: int, seconds: float) -> None:
    info = decode("0x" + splice_insert(event_id, seconds).hex().upper())
    assert info.command_type == SPLICE_INSERT
    assert info.splice_event_id == event_id
    assert info.out_of_network is True
    assert info.cancel is False
    assert info.break_duration == seconds
    assert info.auto_return is True
    assert info.pts_time is None  # splice_immediate
    assert info.descriptors == ()
    assert info.is_out


def test_splice_insert_crc_covers_the_section() -> None:
    payload = bytearray(splice_insert(16, 4.0))
    payload[20] ^= 0x01
    with pytest.raises(Scte35Error, match="CRC_32"):
        decode(bytes(payload))


def test_loads_one_loop_of_each_rendition(media_root: Path) -> None:
    clock = Clock(EPOCH)
    channel = Channel(media_root, clock=clock)
    assert channel.loop == LOOP
    assert channel.renditions == ("360p", "540p", "720p", "audio_en", "audio_fr")
    clock.publish(3 * LOOP)
    newest = 3 * LOOP - 1
    audio = channel.segment("audio_en", newest)
    assert audio == (media_root / "hls/content/audio_en/seg_014.ts").resolve()
    playlist = channel.media_playlist("audio_en")
    assert playlist is not None
    assert "#EXTINF:0.021333," not in playlist.text  # the tail is not looped


def test_refuses_a_short_rendition(tmp_path: Path) -> None:
    root = write_content(tmp_path, audio=AUDIO_DURATIONS[: LOOP - 1])
    with pytest.raises(ChannelError, match="has 14 segments, the loop needs 15"):
        Channel(root)


def test_refuses_missing_media(tmp_path: Path) -> None:
    with pytest.raises(ChannelError, match="cannot read"):
        Channel(tmp_path)


@pytest.mark.parametrize(
    "schedule",
    [
        ChannelSchedule(every=5, at=0),  # the wrap starts a break
        ChannelSchedule(every=5, at=4, segments=2),  # the wrap is the break's second segment
        ChannelSchedule(every=5, at=3, segments=2),  # the wrap is the break's CUE-IN segment
    ],
)
def test_refuses_a_wrap_inside_a_break(media_root: Path, schedule: ChannelSchedule) -> None:
    with pytest.raises(ChannelError, match="wraps at MSN"):
        Channel(media_root, schedule)


def test_master_has_the_ladder_without_subtitles(media_root: Path) -> None:
    master = Channel(media_root).master()
    assert master.modified == EPOCH
    lines = master.text.splitlines()
    assert "SUBTITLES" not in master.text
    assert [line for line in lines if not line.startswith("#")] == [
        "360p/index.m3u8",
        "540p/index.m3u8",
        "720p/index.m3u8",
    ]
    assert re.findall(r'URI="([^"]+)"', master.text) == [
        "audio_en/index.m3u8",
        "audio_fr/index.m3u8",
    ]
    assert all(line.endswith('AUDIO="aud"') for line in lines if "STREAM-INF" in line)


def test_nothing_before_the_first_segment(media_root: Path) -> None:
    clock = Clock(EPOCH + 1.9)
    channel = Channel(media_root, clock=clock)
    assert channel.published() == 0
    assert channel.media_playlist("360p") is None
    assert channel.segment("360p", 0) is None
    clock.publish(1)
    playlist = channel.media_playlist("360p")
    assert playlist is not None
    assert playlist.text.endswith(
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z\n#EXTINF:2.000000,\n0.ts\n"
    )


def test_window_text(media_root: Path) -> None:
    clock = Clock(EPOCH)
    channel = Channel(media_root, clock=clock)
    clock.publish(33)
    playlist = channel.media_playlist("360p")
    assert playlist is not None
    assert playlist.modified == EPOCH + 66
    payload = splice_insert(31, 4.0).hex().upper()
    assert playlist.text == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:6\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MEDIA-SEQUENCE:27\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:54.000Z\n"
        f'#EXT-X-DATERANGE:ID="break-26",START-DATE="2026-01-01T00:00:52.000Z",'
        f"PLANNED-DURATION=4.000,SCTE35-OUT=0x{splice_insert(26, 4.0).hex().upper()}\n"
        "#EXT-X-CUE-OUT-CONT:ElapsedTime=2.000,Duration=4.000\n"
        "#EXTINF:2.000000,\n27.ts\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:56.000Z\n"
        "#EXT-X-CUE-IN\n"
        "#EXTINF:2.000000,\n28.ts\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:58.000Z\n"
        "#EXTINF:2.000000,\n29.ts\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:01:00.000Z\n"
        "#EXTINF:2.000000,\n30.ts\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:01:02.000Z\n"
        f'#EXT-X-DATERANGE:ID="break-31",START-DATE="2026-01-01T00:01:02.000Z",'
        f"PLANNED-DURATION=4.000,SCTE35-OUT=0x{payload}\n"
        "#EXT-X-CUE-OUT:DURATION=4.000\n"
        "#EXTINF:2.000000,\n31.ts\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:01:04.000Z\n"
        "#EXT-X-CUE-OUT-CONT:ElapsedTime=2.000,Duration=4.000\n"
        "#EXTINF:2.000000,\n32.ts\n"
    )


def break_starts(schedule: ChannelSchedule, first: int, end: int, reach: int) -> set[int]:
    """The breaks with one of MSNs first..end-1 among their first ``reach`` segments."""
    return {
        start
        for msn in range(first, end)
        if (start := schedule.break_of(msn)) is not None and msn - start < reach
    }


@pytest.mark.parametrize(
    "schedule",
    [ChannelSchedule(), ChannelSchedule(window=4, every=10, at=6, segments=3)],
    ids=["default", "every-10"],
)
def test_every_window(media_root: Path, schedule: ChannelSchedule) -> None:
    """Every window position over more than two loops, in every rendition: the playlist
    parses and keeps the edge's invariants, alone and as a reload of the one before, and
    each break with a segment listed is detected once, under its own ID and start."""
    clock = Clock(schedule.epoch)
    channel = Channel(media_root, schedule, clock)
    seconds = schedule.segments * 2.0
    previous: dict[str, MediaPlaylist] = {}
    for published in range(1, 2 * LOOP + schedule.window + schedule.every + 1):
        clock.publish(published)
        first = max(0, published - schedule.window)
        running = break_starts(schedule, first, published, schedule.segments)
        signalled = break_starts(schedule, first, published, schedule.segments + 1)
        for rendition in channel.renditions:
            where = f"{rendition} at {published}"
            served = channel.media_playlist(rendition)
            assert served is not None
            playlist = parse(served.text.encode())
            assert isinstance(playlist, MediaPlaylist), where
            assert playlist.media_sequence == first, where
            assert check(playlist) == [], where
            if rendition in previous:
                assert check_reload(previous[rendition], playlist) == [], where
            previous[rendition] = playlist
            # A segment's discontinuity sequence number is the number of wraps up to it.
            dsns = playlist.dsn()
            for index in range(len(playlist.segments)):
                msn = first + index
                assert dsns[index] == msn // LOOP, where
                if playlist.segments[index].discontinuity:
                    assert schedule.break_of(msn) is None, where
            ranges = re.findall(r'#EXT-X-DATERANGE:ID="break-(\d+)"', served.text)
            assert sorted(map(int, ranges)) == sorted(signalled), where
            breaks = detect_breaks(playlist)
            assert sorted(b.id for b in breaks) == sorted(f"break-{s}" for s in running), where
            for brk in breaks:
                start = int(brk.id.removeprefix("break-"))
                assert brk.start_msn == start, where
                assert brk.elapsed_before_window == pytest.approx(
                    max(0, first - start) * 2.0, abs=0.01
                ), where
                assert brk.signalled_duration == seconds, where
                assert brk.scte35 is not None, where
                assert brk.scte35.splice_event_id == start, where


def test_segments_are_served_while_retained(media_root: Path) -> None:
    clock = Clock(EPOCH)
    channel = Channel(media_root, clock=clock)
    clock.publish(100)
    content = (media_root / "hls/content").resolve()
    assert channel.segment("720p", 99) == content / "720p/seg_009.ts"
    assert channel.segment("720p", 100) is None  # not published yet
    assert channel.segment("720p", 100 - RETAINED_SEGMENTS) == content / "720p/seg_010.ts"
    assert channel.segment("720p", 99 - RETAINED_SEGMENTS) is None
    assert channel.segment("subs", 99) is None


# --- DASH ------------------------------------------------------------------------------------

# As ffmpeg's dash muxer writes the content (blank lines and tabs included).
TEMPLATE = (
    '<SegmentTemplate timescale="1000000" duration="{duration}" '
    'initialization="init-$RepresentationID$.m4s" '
    'media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">\n</SegmentTemplate>'
)


def content_mpd(*, periods: int = 1, duration: int = 2_000_000, kind: str = "static") -> str:
    template = TEMPLATE.format(duration=duration)
    video = "".join(
        f'<Representation id="{i}" mimeType="video/mp4" codecs="avc1.4d401f" bandwidth="{b}" '
        f'width="{w}" height="{h}">\n\t{template}\n</Representation>\n'
        for i, (b, w, h) in enumerate(
            ((500000, 640, 360), (1000000, 960, 540), (2000000, 1280, 720))
        )
    )
    audio = "".join(
        f'<AdaptationSet id="{i}" contentType="audio" lang="{lang}">\n'
        f'<Representation id="{i + 2}" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="96000">'
        f"\n{template}\n</Representation>\n</AdaptationSet>\n"
        for i, lang in ((1, "en"), (2, "fr"))
    )
    period = (
        '<Period id="{n}" start="PT{start}S">\n'
        f'<AdaptationSet id="0" contentType="video">\n{video}</AdaptationSet>\n{audio}'
        "</Period>\n"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" '
        f'profiles="urn:mpeg:dash:profile:isoff-live:2011" type="{kind}" '
        f'mediaPresentationDuration="PT{30 * periods}.0S" maxSegmentDuration="PT2.0S" '
        'minBufferTime="PT4.0S">\n'
        + "".join(period.format(n=n, start=30 * n) for n in range(periods))
        + "</MPD>\n"
    )


def write_dash(root: Path, text: str | None = None) -> Path:
    content = root / "dash" / "content"
    content.mkdir(parents=True)
    (content / "manifest.mpd").write_text(content_mpd() if text is None else text)
    return root


@pytest.fixture
def dash_root(tmp_path: Path) -> Path:
    return write_dash(tmp_path / "media")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (content_mpd(periods=2), "not a static MPD of one Period"),
        (content_mpd(kind="dynamic"), "not a static MPD of one Period"),
        (content_mpd(duration=4_000_000), "a SegmentTemplate is not of 2 s"),
        ("<MPD", "cannot read"),
    ],
    ids=["two-periods", "dynamic", "4s-segments", "not-xml"],
)
def test_dash_refuses_content(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ChannelError, match=message):
        DashChannel(write_dash(tmp_path, text))


def test_dash_refuses_missing_media(tmp_path: Path) -> None:
    with pytest.raises(ChannelError, match="cannot read"):
        DashChannel(tmp_path)


def test_dash_refuses_a_wrap_inside_a_break(dash_root: Path) -> None:
    with pytest.raises(ChannelError, match="wraps at MSN"):
        DashChannel(dash_root, ChannelSchedule(every=5, at=0))


def test_dash_nothing_before_the_first_segment(dash_root: Path) -> None:
    clock = Clock(EPOCH + 1.9)
    channel = DashChannel(dash_root, clock=clock)
    assert channel.manifest() is None
    clock.publish(1)
    assert channel.manifest() is not None


def test_dash_update_text(dash_root: Path) -> None:
    """The MPD after 33 segments: loops 1 (closed) and 2 (open), each break an Event."""
    clock = Clock(EPOCH)
    channel = DashChannel(dash_root, clock=clock)
    clock.publish(33)
    served = channel.manifest()
    assert served is not None
    assert served.modified == EPOCH + 66
    head, _, rest = served.text.partition("<Period ")
    assert head == (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" '
        'profiles="urn:mpeg:dash:profile:isoff-live:2011" type="dynamic" '
        'availabilityStartTime="2026-01-01T00:00:00.000Z" '
        'publishTime="2026-01-01T00:01:06.000Z" minimumUpdatePeriod="PT2S" '
        'timeShiftBufferDepth="PT30S" suggestedPresentationDelay="PT6S" '
        'maxSegmentDuration="PT2S" minBufferTime="PT4.0S">\n  '
    )
    binary = base64.b64encode(splice_insert(31, 4.0)).decode()
    assert (
        '  <Period id="loop-2" start="PT60S">\n'
        "    <BaseURL>/dash/content/</BaseURL>\n"
        '    <EventStream schemeIdUri="urn:scte:scte35:2014:xml+bin" timescale="90000">\n'
        '      <Event presentationTime="180000" duration="360000" id="31">\n'
        '        <Signal xmlns="http://www.scte.org/schemas/35/2016">\n'
        f"          <Binary>{binary}</Binary>\n"
        "        </Signal>\n"
        "      </Event>\n"
    ) in rest
    assert served.text.endswith(
        f'  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-head:2014" value="{DASH_PATH}"/>\n'
        "</MPD>\n"
    )
    mpd = dash.parse(served.text.encode())
    assert [(p.id, p.start, p.duration) for p in mpd.periods] == [
        ("loop-1", 30.0, 30.0),
        ("loop-2", 60.0, None),
    ]
    for period in mpd.periods:
        assert [(a.content_type, a.lang) for a in period.adaptation_sets] == [
            ("video", None),
            ("audio", "en"),
            ("audio", "fr"),
        ]
        assert len(list(period.representations())) == 5


@pytest.mark.parametrize(
    "schedule",
    [ChannelSchedule(), ChannelSchedule(every=10, at=6, segments=3)],
    ids=["default", "every-10"],
)
def test_dash_every_update(dash_root: Path, schedule: ChannelSchedule) -> None:
    """Every update over four loops: the MPD parses and keeps the edge's invariants, lists
    the Periods overlapping the time-shift buffer (the last open, the others closed by the
    next one's start), and every break of those loops under its first MSN as id, at the same
    time on every update that lists it."""
    clock = Clock(schedule.epoch)
    channel = DashChannel(dash_root, schedule, clock)
    seconds = schedule.segments * 2.0
    starts: dict[str, float] = {}  # break id -> start, over all updates
    for published in range(1, 4 * LOOP + 2):
        clock.publish(published)
        served = channel.manifest()
        assert served is not None
        mpd = dash.parse(served.text.encode())
        where = f"at {published}"
        assert mpd.dynamic, where
        assert check_mpd(mpd) == [], where
        edge = published * 2.0
        first = int(max(0.0, edge - 30) // 30)
        loops = range(first, int(edge // 30) + 1)
        assert [(p.id, p.start) for p in mpd.periods] == [(f"loop-{k}", 30.0 * k) for k in loops]
        assert [p.duration for p in mpd.periods] == [30.0] * (len(loops) - 1) + [None], where
        expected = [
            msn
            for msn in range(loops[0] * LOOP, (loops[-1] + 1) * LOOP)
            if schedule.offset(msn) == 0
        ]
        breaks = dash_breaks(mpd)
        assert [b.id for b in breaks] == [str(msn) for msn in expected], where
        for brk, msn in zip(breaks, expected, strict=True):
            assert brk.start == msn * 2.0, where
            assert starts.setdefault(brk.id, brk.start) == brk.start, where
            assert brk.duration == seconds, where
            assert brk.period_id == f"loop-{msn // LOOP}", where
            assert brk.scte35 is not None, where
            assert brk.scte35.splice_event_id == msn, where
            assert brk.scte35.break_duration == seconds, where
        for period in mpd.periods:
            assert [s.scheme_id_uri for s in period.event_streams] == [SCTE35_XML_BIN], where
    assert len(starts) == sum(schedule.offset(msn) == 0 for msn in range(5 * LOOP))
