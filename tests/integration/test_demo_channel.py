"""The demo origin's simulated live channel over HTTP, on the generated demo media."""

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edge_assembler.core.hls.cues import detect_breaks
from edge_assembler.core.hls.invariants import check
from edge_assembler.core.hls.model import MediaPlaylist
from edge_assembler.core.hls.parse import parse
from edge_assembler.demo.channel import ChannelSchedule
from edge_assembler.demo.origin import create_origin_app

pytestmark = pytest.mark.media

Client = TestClient[web.Request, web.Application]
SCHEDULE = ChannelSchedule()
M3U8 = "application/vnd.apple.mpegurl"


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
