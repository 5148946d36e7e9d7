"""The simulated live channel: windows, cues and SCTE-35 payloads at every clock position."""

import re
from pathlib import Path

import pytest

from edge_assembler.core.hls.cues import detect_breaks
from edge_assembler.core.hls.invariants import check, check_reload
from edge_assembler.core.hls.model import MediaPlaylist
from edge_assembler.core.hls.parse import parse
from edge_assembler.core.scte35 import SPLICE_INSERT, Scte35Error, decode
from edge_assembler.demo.channel import (
    RENDITIONS,
    RETAINED_SEGMENTS,
    Channel,
    ChannelError,
    ChannelSchedule,
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
