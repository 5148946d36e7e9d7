"""The demo origin against a small fake media tree (no ffmpeg needed)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from edge_assembler.demo.origin import CueSchedule, create_origin_app

Client = TestClient[web.Request, web.Application]

SEGMENT = bytes(range(256)) * 8
MASTER = (
    "#EXTM3U\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=620400,RESOLUTION=640x360,CODECS="avc1.42c01e"\n'
    "360p/index.m3u8\n"
)
LIVE_MEDIA = "".join(
    ["#EXTM3U\n", "#EXT-X-TARGETDURATION:2\n", "#EXT-X-MEDIA-SEQUENCE:4\n"]
    + [f"#EXTINF:2.000000,\nseg_{n:05d}.ts\n" for n in range(4, 10)]
)


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    write(root / "hls/content/master.m3u8", MASTER)
    write(root / "hls/content/360p/index.m3u8", "#EXTM3U\n#EXT-X-ENDLIST\n")
    write(root / "hls/content/360p/seg_000.ts", SEGMENT)
    write(root / "hls/content/720p/index0.vtt", "WEBVTT\n")
    write(root / "hls/content/fmp4/init_0.mp4", SEGMENT)
    write(root / "hls/content/notes.txt", "not served")
    write(root / "dash/content/manifest.mpd", "<MPD/>\n")
    write(root / "dash/content/chunk-0-00001.m4s", SEGMENT)
    write(tmp_path / "secret.m3u8", "#EXTM3U\n# outside the media root\n")
    (root / "hls/content/escape.m3u8").symlink_to(tmp_path / "secret.m3u8")
    return root


@pytest.fixture
def live_root(tmp_path: Path) -> Path:
    root = tmp_path / "live"
    write(root / "master.m3u8", MASTER)
    write(root / "360p/index.m3u8", LIVE_MEDIA)
    write(root / "360p/seg_00004.ts", SEGMENT)
    write(root / "360p/seg_00005.ts.tmp", SEGMENT)
    return root


@pytest.fixture
async def client(media_root: Path, live_root: Path) -> AsyncIterator[Client]:
    app = create_origin_app(media_root, live_root=live_root, cues=CueSchedule())
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "content_type", "cache_control"),
    [
        (
            "/vod/content/master.m3u8",
            "application/vnd.apple.mpegurl",
            "public, max-age=60",
        ),
        (
            "/vod/content/360p/seg_000.ts",
            "video/mp2t",
            "public, max-age=86400, immutable",
        ),
        (
            "/vod/content/720p/index0.vtt",
            "text/vtt",
            "public, max-age=86400, immutable",
        ),
        (
            "/vod/content/fmp4/init_0.mp4",
            "video/mp4",
            "public, max-age=86400, immutable",
        ),
        ("/dash/content/manifest.mpd", "application/dash+xml", "public, max-age=60"),
        (
            "/dash/content/chunk-0-00001.m4s",
            "video/iso.segment",
            "public, max-age=86400, immutable",
        ),
        ("/live/master.m3u8", "application/vnd.apple.mpegurl", "max-age=10"),
        ("/live/360p/index.m3u8", "application/vnd.apple.mpegurl", "max-age=1"),
        ("/live/360p/seg_00004.ts", "video/mp2t", "max-age=60"),
    ],
)
async def test_types_caching_and_cors(
    client: Client, path: str, content_type: str, cache_control: str
) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == content_type
    assert response.headers["Cache-Control"] == cache_control
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_segment_body_is_the_file(client: Client) -> None:
    response = await client.get("/vod/content/360p/seg_000.ts")
    assert await response.read() == SEGMENT


async def test_head_has_headers_and_no_body(client: Client) -> None:
    response = await client.head("/vod/content/360p/seg_000.ts")
    assert response.status == 200
    assert response.headers["Content-Length"] == str(len(SEGMENT))
    assert await response.read() == b""


async def test_range_returns_206(client: Client) -> None:
    response = await client.get("/vod/content/360p/seg_000.ts", headers={"Range": "bytes=10-19"})
    assert response.status == 206
    assert response.headers["Content-Range"] == f"bytes 10-19/{len(SEGMENT)}"
    assert await response.read() == SEGMENT[10:20]


@pytest.mark.parametrize(
    "path",
    ["/vod/content/master.m3u8", "/dash/content/manifest.mpd", "/live/360p/index.m3u8"],
)
async def test_if_none_match_returns_304(client: Client, path: str) -> None:
    first = await client.get(path)
    etag = first.headers["ETag"]
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    assert await again.read() == b""


@pytest.mark.parametrize(
    "path",
    [
        "/vod/..%2Fdash/content/manifest.mpd",
        "/vod/content/..%2F..%2F..%2Fsecret.m3u8",
        "/vod/%2Fetc%2Fpasswd",
        "/vod/content/escape.m3u8",
        "/vod/content/%00.m3u8",
        "/vod/content/notes.txt",
        "/vod/content/360p",
        "/vod/content/missing.m3u8",
        "/live/360p/seg_00005.ts.tmp",
        "/nope",
    ],
)
async def test_outside_root_or_unserved_is_404(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.status == 404
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_live_is_404_without_live_root(media_root: Path) -> None:
    async with TestClient(TestServer(create_origin_app(media_root))) as client:
        response = await client.get("/live/master.m3u8")
        assert response.status == 404
        index = await client.get("/")
        assert "not running" in await index.text()


async def test_index_lists_streams(client: Client) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/plain"
    body = await response.text()
    for path in (
        "/vod/content/master.m3u8",
        "/vod/ad/master.m3u8",
        "/vod/recap/master.m3u8",
        "/dash/content/manifest.mpd",
        "/live/master.m3u8",
    ):
        assert path in body


async def test_live_media_playlist_gets_cues(client: Client) -> None:
    body = await (await client.get("/live/360p/index.m3u8")).text()
    lines = body.splitlines()
    # Default schedule: sequence 5 starts a 5-segment break, 6..9 continue it.
    assert lines[lines.index("seg_00004.ts") + 1] == "#EXT-X-CUE-OUT:DURATION=10.000"
    assert lines[lines.index("seg_00005.ts") + 1] == (
        "#EXT-X-CUE-OUT-CONT:ElapsedTime=2.000,Duration=10.000"
    )
    assert lines[lines.index("seg_00008.ts") + 1] == (
        "#EXT-X-CUE-OUT-CONT:ElapsedTime=8.000,Duration=10.000"
    )
    assert [line for line in lines if not line.startswith("#EXT-X-CUE")] == (
        LIVE_MEDIA.splitlines()
    )


async def test_live_master_is_untouched(client: Client) -> None:
    response = await client.get("/live/master.m3u8")
    assert await response.text() == MASTER


async def test_live_playlist_follows_the_file(client: Client, live_root: Path) -> None:
    first = await client.get("/live/360p/index.m3u8")
    (live_root / "360p/index.m3u8").write_text(LIVE_MEDIA.replace("SEQUENCE:4", "SEQUENCE:5"))
    second = await client.get(
        "/live/360p/index.m3u8", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert second.status == 200
    assert second.headers["ETag"] != first.headers["ETag"]
    assert "#EXT-X-MEDIA-SEQUENCE:5" in await second.text()
