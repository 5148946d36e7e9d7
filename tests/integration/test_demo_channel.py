"""The demo origin's simulated live channel over HTTP, on the generated demo media."""

import asyncio
import re
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edge_assembler.core import dash
from edge_assembler.core.dash.events import detect_breaks as dash_breaks
from edge_assembler.core.dash.invariants import check as check_mpd
from edge_assembler.core.hls.cues import detect_breaks
from edge_assembler.core.hls.invariants import check
from edge_assembler.core.hls.model import MediaPlaylist
from edge_assembler.core.hls.parse import parse
from edge_assembler.demo.channel import DASH_PATH, ChannelSchedule
from edge_assembler.demo.origin import create_origin_app
from tests.conftest import Origin
from tests.integration.live import live_support
from tests.integration.personalise_support import Nodes

pytestmark = pytest.mark.media

Client = TestClient[web.Request, web.Application]
SCHEDULE = ChannelSchedule()
M3U8 = "application/vnd.apple.mpegurl"
MPD = "application/dash+xml"


class Clock:
    """A clock the test sets."""

    def __init__(self) -> None:
        self.now = SCHEDULE.epoch

    def __call__(self) -> float:
        return self.now

    def publish(self, count: int) -> None:
        """Set the time just after ``count`` MSNs are published."""
        self.now = SCHEDULE.epoch + count * 2 + 0.5


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(demo_media: Path, clock: Clock) -> AsyncIterator[Client]:
    app = create_origin_app(demo_media, channel=SCHEDULE, clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


def newest(text: str) -> tuple[int, str]:
    sequence = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
    assert sequence is not None
    return int(sequence[1]), text.rstrip("\n").rpartition("\n")[2]


async def test_master(client: Client) -> None:
    response = await client.get("/live/channel/master.m3u8")
    assert response.status == 200
    assert response.content_type == M3U8
    assert response.headers["Cache-Control"] == "max-age=10"
    text = await response.text()
    assert "SUBTITLES" not in text
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        "360p/index.m3u8",
        "540p/index.m3u8",
        "720p/index.m3u8",
    ]
    assert re.findall(r'URI="([^"]+)"', text) == ["audio_en/index.m3u8", "audio_fr/index.m3u8"]


async def test_window_slides_with_the_clock(client: Client, clock: Clock) -> None:
    url = "/live/channel/720p/index.m3u8"
    assert (await client.get(url)).status == 404  # nothing published yet
    clock.publish(40)
    first = await client.get(url)
    assert first.status == 200
    assert first.content_type == M3U8
    assert first.headers["Cache-Control"] == "max-age=1"
    assert newest(await first.text()) == (34, "39.ts")
    etag = first.headers["ETag"]
    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag
    clock.publish(41)
    moved = await client.get(url, headers={"If-None-Match": etag})
    assert moved.status == 200
    assert moved.headers["ETag"] != etag
    text = await moved.text()
    assert newest(text) == (35, "40.ts")
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:2\n" in text  # the loop wrapped at MSN 15 and 30
    playlist = parse(text.encode())
    assert isinstance(playlist, MediaPlaylist)
    breaks = detect_breaks(playlist)
    assert [(b.id, b.start_msn, b.signalled_duration) for b in breaks] == [("break-36", 36, 4.0)]


async def test_every_window_of_the_real_media_keeps_the_invariants(
    client: Client, clock: Clock
) -> None:
    for published in range(1, 40):
        clock.publish(published)
        for rendition in ("360p", "audio_en", "audio_fr"):
            response = await client.get(f"/live/channel/{rendition}/index.m3u8")
            playlist = parse(await response.read())
            assert isinstance(playlist, MediaPlaylist)
            assert check(playlist) == [], f"{rendition} at {published}"


@pytest.mark.parametrize("rendition", ["360p", "720p", "audio_fr"])
async def test_segments_are_the_vod_files(
    client: Client, clock: Clock, demo_media: Path, rendition: str
) -> None:
    clock.publish(40)
    for msn in (39, 30, 20):
        response = await client.get(f"/live/channel/{rendition}/{msn}.ts")
        assert response.status == 200
        assert response.content_type == "video/mp2t"
        assert response.headers["Cache-Control"] == "max-age=60"
        vod = demo_media / "hls/content" / rendition / f"seg_{msn % 15:03d}.ts"
        assert await response.read() == vod.read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "720p/40.ts",  # not published yet
        "720p/039.ts",  # one URI per MSN
        "720p/-1.ts",
        "1080p/index.m3u8",
        "720p/index_vtt.m3u8",  # the channel has no subtitles
        "subs_fr/39.ts",
        "audio_en/seg_000.ts",
        "nothing",
    ],
)
async def test_not_found(client: Client, clock: Clock, path: str) -> None:
    clock.publish(40)
    assert (await client.get(f"/live/channel/{path}")).status == 404


async def test_old_segments_expire(client: Client, clock: Clock) -> None:
    clock.publish(100)
    assert (await client.get("/live/channel/360p/40.ts")).status == 200
    assert (await client.get("/live/channel/360p/39.ts")).status == 404


async def test_ffprobe_reads_a_segment(client: Client, clock: Clock, ffmpeg: str) -> None:
    clock.publish(40)
    url = str(client.make_url("/live/channel/720p/37.ts"))
    assert url.startswith("http://127.0.0.1:")
    probe = await asyncio.create_subprocess_exec(
        str(Path(ffmpeg).with_name("ffprobe")),
        *("-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(probe.communicate(), timeout=30)
    assert probe.returncode == 0, err.decode()
    assert float(out) == pytest.approx(2.0, abs=0.05)


async def test_index_lists_the_channel(client: Client) -> None:
    text = await (await client.get("/")).text()
    assert "/live/channel/master.m3u8" in text
    assert "a 2-segment break starts when media sequence % 5 == 1" in text


async def test_without_the_channel_its_paths_are_the_encoders(demo_media: Path) -> None:
    app = create_origin_app(demo_media, channel=None)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/live/channel/master.m3u8")
        assert response.status == 404
        assert await response.text() == "live encoder not running"
        assert "/live/channel/" not in await (await client.get("/")).text()


async def test_media_without_content_is_unavailable(tmp_path: Path) -> None:
    app = create_origin_app(tmp_path)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/live/channel/master.m3u8")
        assert response.status == 503
        assert "cannot read" in await response.text()


# --- DASH ------------------------------------------------------------------------------------


async def test_dash_manifest_slides_with_the_clock(client: Client, clock: Clock) -> None:
    assert (await client.get(DASH_PATH)).status == 404  # nothing published yet
    clock.publish(40)
    first = await client.get(DASH_PATH)
    assert first.status == 200
    assert first.content_type == MPD
    assert first.headers["Cache-Control"] == "max-age=1"
    etag = first.headers["ETag"]
    again = await client.get(DASH_PATH, headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag
    clock.publish(41)
    moved = await client.get(DASH_PATH, headers={"If-None-Match": etag})
    assert moved.status == 200
    assert moved.headers["ETag"] != etag
    mpd = dash.parse(await moved.read())
    assert mpd.dynamic
    assert check_mpd(mpd) == []
    assert [(p.id, p.start, p.duration) for p in mpd.periods] == [
        ("loop-1", 30.0, 30.0),
        ("loop-2", 60.0, None),
    ]
    assert [(b.id, b.start, b.duration) for b in dash_breaks(mpd)] == [
        (str(msn), msn * 2.0, 4.0) for msn in (16, 21, 26, 31, 36, 41)
    ]
    assert "/live/channel/manifest.mpd" in await (await client.get("/")).text()


def tfdt(data: bytes) -> int:
    """The baseMediaDecodeTime of a media segment's first track fragment (ISO/IEC 14496-12
    §8.8.12), found by walking moof/traf."""
    offset, end = 0, len(data)
    while offset < end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        if kind in (b"moof", b"traf"):
            offset, end = offset + 8, offset + size
        elif kind == b"tfdt":
            version = data[offset + 8]
            return int.from_bytes(data[offset + 12 : offset + (20 if version else 16)])
        else:
            offset += size
    raise AssertionError("no tfdt")


async def test_dash_segments_are_the_content_chunks(client: Client, clock: Clock) -> None:
    """The newest Period's numbers address the content's chunks, which start at media time
    0 (no presentationTimeOffset)."""
    clock.publish(40)  # MSN 39 is segment 10 of loop 2
    mpd = dash.parse(await (await client.get(DASH_PATH)).read())
    newest = mpd.periods[-1]
    base = urljoin(DASH_PATH, newest.element[0].text)
    for representation in newest.representations():
        rep = representation.id
        for number in (1, 10):
            response = await client.get(urljoin(base, f"chunk-{rep}-{number:05d}.m4s"))
            assert response.status == 200, (rep, number)
            if number == 1:
                assert tfdt(await response.read()) == 0, rep
        assert (await client.get(urljoin(base, f"init-{rep}.m4s"))).status == 200


async def test_dash_breaks_replaced_through_the_edge(
    demo_media: Path, origin: Origin, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """An edge with the demo rules in front of the channel, one update per segment over
    three breaks: each break the origin lists is the spot's one 4 s Period at the break's
    start, with the same Period ids and times on every update; content Periods keep theirs."""
    clock = live_support.Clock(live_support.BEFORE_BREAK)
    seen: dict[str, tuple[float, float | None]] = {}  # Period id -> (start, duration)
    spot_starts: set[float] = set()
    async with live_support.channel_origin(demo_media, clock) as channel:
        nodes = Nodes(origin, tmp_path, channel)
        try:
            # As the live edges of these tests: a loaded machine must not fail them open.
            node = await nodes.make("personalise.deadline=1")
            for _ in range(17):
                async with http.get(channel + DASH_PATH) as response:
                    source = dash.parse(await response.read())
                async with http.get(node.url + DASH_PATH) as response:
                    assert response.status == 200
                    decision = response.headers["X-Edge-Decision"]
                    body = await response.read()
                assert "live-breaks" in decision.split("; ")[1].split(","), decision
                assert "fail-open=" not in decision, decision
                mpd = dash.parse(body)
                assert check_mpd(mpd) == []
                spots = {}
                for period in mpd.periods:
                    assert period.id is not None
                    assert period.start is not None
                    base = urlsplit(urljoin(node.url + DASH_PATH, period.element[0].text)).path
                    if base == "/dash/spot/":
                        spots[period.start] = period
                    else:
                        assert base == "/dash/content/", base
                    start, duration = seen.setdefault(period.id, (period.start, period.duration))
                    assert start == period.start, period.id
                    assert duration in (None, period.duration), period.id  # closed once
                    if duration is None:
                        seen[period.id] = (period.start, period.duration)
                breaks = dash_breaks(source)
                assert sorted(spots) == [b.start for b in breaks]
                assert all(p.duration == 4.0 for p in spots.values())
                spot_starts |= set(spots)
                clock.advance(2.0)
        finally:
            await nodes.close()
    assert len(spot_starts) >= 6  # both loops' breaks, three of them played through
