"""The benchmark's baselines: each starts in its own process, answers, and stops without a trace."""

import os
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import m3u8
import pytest
from aiohttp import web

from bench.servers import naive_rewriter, nginx, splice, static_body

VOD = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n" + "".join(
    f"#EXTINF:4.000,\nc{i}.ts\n" for i in range(8)
)
POD = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\nspot0.ts\n#EXTINF:2.000,\nspot1.ts\n"
LIVE = (
    "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:100\n"
    "#EXTINF:4.000,\n100.ts\n"
    "#EXT-X-CUE-OUT:DURATION=8.000\n#EXTINF:4.000,\n101.ts\n"
    "#EXT-X-CUE-OUT-CONT:ElapsedTime=4.000,Duration=8.000\n#EXTINF:4.000,\n102.ts\n"
    "#EXT-X-CUE-IN\n#EXTINF:4.000,\n103.ts\n"
    "#EXTINF:4.000,\n104.ts\n"
)
SPOT = ["/vod/spot/720p/spot0.ts", "/vod/spot/720p/spot1.ts"]


def gone(pids: list[int]) -> bool:
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        return False
    return True


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str, bytes]:
    async with session.get(url) as response:
        return response.status, response.content_type, await response.read()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def origin() -> AsyncIterator[tuple[str, Counter[str]]]:
    """A loopback origin with a VOD, the pod and a live window holding one break."""
    texts = {
        "/vod/content/720p/index.m3u8": VOD,
        "/vod/spot/720p/index.m3u8": POD,
        "/live/720p/index.m3u8": LIVE,
    }
    hits: Counter[str] = Counter()

    async def handle(request: web.Request) -> web.Response:
        hits[request.path] += 1
        if request.path not in texts:
            raise web.HTTPNotFound()
        return web.Response(text=texts[request.path], content_type="application/vnd.apple.mpegurl")

    app = web.Application()
    app.router.add_get("/{path:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", hits
    await runner.cleanup()


async def test_nginx_serves_files_with_their_types(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    (tmp_path / "index.m3u8").write_text(VOD)
    segment = os.urandom(4096)
    (tmp_path / "c0.ts").write_bytes(segment)
    (tmp_path / "manifest.mpd").write_text("<MPD/>")
    async with nginx(tmp_path, workers=2) as running:
        pids = running.pids
        assert await get(session, f"{running.url}/index.m3u8") == (
            200,
            "application/vnd.apple.mpegurl",
            VOD.encode(),
        )
        assert await get(session, f"{running.url}/c0.ts") == (200, "video/mp2t", segment)
        status, content_type, _ = await get(session, f"{running.url}/manifest.mpd")
        assert (status, content_type) == (200, "application/dash+xml")
        assert (await get(session, f"{running.url}/missing.ts"))[0] == 404
        async with session.get(f"{running.url}/c0.ts") as response:
            assert response.headers["Connection"].lower() == "keep-alive"
    assert len(pids) == 3  # the master and its two workers
    assert gone(pids)


async def test_static_body_answers_every_get(session: aiohttp.ClientSession) -> None:
    body = os.urandom(1000)
    async with static_body(body, "video/mp2t") as running:
        pids = running.pids
        for path in ("/", "/any/where.ts?x=1"):
            assert await get(session, running.url + path) == (200, "video/mp2t", body)
    assert pids == [running.pid]
    assert gone(pids)


async def test_naive_rewriter_splices_the_pod(
    origin: tuple[str, Counter[str]], session: aiohttp.ClientSession
) -> None:
    url, hits = origin
    async with naive_rewriter(url, "/vod/spot/720p/index.m3u8") as running:
        pids = running.pids
        for _ in range(2):
            status, content_type, body = await get(
                session, f"{running.url}/vod/content/720p/index.m3u8"
            )
            assert (status, content_type) == (200, "application/vnd.apple.mpegurl")
            vod = m3u8.loads(body.decode())
            # A pre-roll at 0 s and a mid-roll at 14 s: before c4 (the first at or after 14 s).
            uris = [s.uri for s in vod.segments]
            content = [f"c{i}.ts" for i in range(8)]
            assert uris == [*SPOT, *content[:4], *SPOT, *content[4:]]
            assert [s.discontinuity for s in vod.segments].count(True) == 4
            live = m3u8.loads(
                (await get(session, f"{running.url}/live/720p/index.m3u8"))[2].decode()
            )
            assert [s.uri for s in live.segments] == ["100.ts", *SPOT, "103.ts", "104.ts"]
            assert [s.discontinuity for s in live.segments] == [False, True, False, True, False]
        assert (await get(session, f"{running.url}/nothing.m3u8"))[0] == 502
        assert (await get(session, f"{running.url}/vod/content/720p/c0.ts"))[0] == 404
    # The origin's texts are kept for the run: one fetch per path.
    assert hits["/vod/content/720p/index.m3u8"] == hits["/live/720p/index.m3u8"] == 1
    assert hits["/vod/spot/720p/index.m3u8"] == 1
    assert gone(pids)


def test_splice_closes_a_break_at_the_window_end_and_one_opened_before_it() -> None:
    pod = list(m3u8.loads(POD).segments)
    pod[0].discontinuity = True
    window = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n"
        "#EXT-X-CUE-OUT-CONT:ElapsedTime=4.000,Duration=8.000\n#EXTINF:4.000,\n1.ts\n"
        "#EXT-X-CUE-IN\n#EXTINF:4.000,\n2.ts\n"
        "#EXT-X-CUE-OUT:DURATION=8.000\n#EXTINF:4.000,\n3.ts\n#EXTINF:4.000,\n4.ts\n"
    )
    playlist = m3u8.loads(window)
    splice(playlist, pod, [0.0])
    spliced = m3u8.loads(playlist.dumps()).segments
    assert [s.uri for s in spliced] == ["spot0.ts", "spot1.ts", "2.ts", "spot0.ts", "spot1.ts"]
    assert [s.discontinuity for s in spliced] == [True, False, True, True, False]
