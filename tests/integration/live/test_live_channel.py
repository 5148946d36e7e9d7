"""Live break replacement through the proxy, on the demo's live channel: a viewer's reloads
across several SCTE-35 breaks form one stream in every rendition, whether they go to one
edge, alternate between two edge processes sharing a real Redis, or outlive an edge
restarted between breaks; a viewer joining mid-break sees the channel's break; a Redis
that is down fails the request open and the edge recovers with it."""

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urljoin

import aiohttp
import pytest

from edge_assembler.core.hls import MediaPlaylist, parse
from edge_assembler.demo.channel import ChannelSchedule
from tests.conftest import Origin
from tests.integration.live.conftest import RedisServer
from tests.integration.live.live_support import (
    BEFORE_BREAK,
    IN_PROCESS,
    MASTER,
    RENDITIONS,
    SPOT,
    Clock,
    EdgeProcess,
    Viewer,
    channel_origin,
    token_for,
)
from tests.integration.personalise_support import Nodes

SEGMENT = 2.0
STEPS = 17  # reloads, one segment apart: three breaks of the channel (one every 10 s)
VIDEO = RENDITIONS[0]


@pytest.fixture
def clock() -> Clock:
    return Clock(BEFORE_BREAK)


@pytest.fixture
async def channel(demo_media: Path, clock: Clock) -> AsyncIterator[str]:
    async with channel_origin(demo_media, clock) as url:
        yield url


async def decision(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as r:
        await r.read()
        return r.headers["X-Edge-Decision"]


def assert_three_breaks_replaced(viewer: Viewer) -> None:
    """Each break of the channel became the 4 s spot (two segments) at the same MSNs in
    every rendition, with the same discontinuities and DSNs."""
    for rendition in RENDITIONS:
        pods = viewer.pods(rendition)
        assert len(pods) >= 3, (rendition, pods)
        assert all(len(run) == 2 for run in pods[:3]), (rendition, pods)
    video = viewer.seams(VIDEO)
    for rendition in RENDITIONS[1:]:
        other = viewer.seams(rendition)
        common = video.keys() & other.keys()
        assert len(common) > STEPS
        assert {m: video[m] for m in common} == {m: other[m] for m in common}, rendition


async def test_reloads_on_one_edge_form_one_stream_across_three_breaks(
    channel: str, clock: Clock, origin: Origin, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    nodes = Nodes(origin, tmp_path, channel)
    try:
        node = await nodes.make(IN_PROCESS)
        viewer = await Viewer.start(http, node.url)
        for _ in range(STEPS):
            await viewer.reload(http, node.url)
            clock.advance(SEGMENT)
    finally:
        await nodes.close()
    assert_three_breaks_replaced(viewer)
    assert node.metric("edge_assembler_live_history_total", result="recorded") >= 3


async def test_reloads_alternating_between_two_edges_sharing_redis_form_one_stream(
    channel: str, clock: Clock, redis_server: RedisServer, tmp_path: Path,
    http: aiohttp.ClientSession,
) -> None:  # fmt: skip
    sets = (f"live.history={redis_server.url}",)
    edges = [EdgeProcess(tmp_path, name, channel, *sets) for name in ("a", "b")]
    try:
        await asyncio.gather(*(edge.start() for edge in edges))
        viewer = await Viewer.start(http, edges[0].url)
        for step in range(STEPS):
            await viewer.reload(http, edges[step % 2].url)
            clock.advance(SEGMENT)
    finally:
        await asyncio.gather(*(edge.stop() for edge in edges))
    assert_three_breaks_replaced(viewer)


async def test_an_edge_restarted_between_breaks_reads_the_history_from_redis(
    channel: str, clock: Clock, redis_server: RedisServer, tmp_path: Path,
    http: aiohttp.ClientSession,
) -> None:  # fmt: skip
    edge = EdgeProcess(tmp_path, "edge", channel, f"live.history={redis_server.url}")
    await edge.start()
    try:
        viewer = await Viewer.start(http, edge.url)
        for step in range(STEPS):
            if step in (6, 11):  # after the first and the second break
                await edge.stop()
                await edge.start()
            await viewer.reload(http, edge.url)
            clock.advance(SEGMENT)
    finally:
        await edge.stop()
    assert_three_breaks_replaced(viewer)


async def test_a_viewer_joining_mid_break_sees_the_channel_until_the_next_break(
    demo_media: Path, origin: Origin, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    # Breaks of 12 s (six segments) every 30 s: a player starting three target durations
    # from the live edge may start inside one.
    schedule = ChannelSchedule(every=15, at=3, segments=6, media_max_age=0)
    start = schedule.epoch + (40 * 15 + 3 + 5) * SEGMENT  # 10 s into a break
    clock = Clock(start)
    async with channel_origin(demo_media, clock, schedule) as channel:
        nodes = Nodes(origin, tmp_path, channel)
        try:
            node = await nodes.make(IN_PROCESS)
            joined = Viewer(token_for(sid="late"))
            earlier = Viewer(token_for(sid="early", started=time.time() - 60))
            for _ in range(20):
                await joined.reload(http, node.url)
                await earlier.reload(http, node.url)
                clock.advance(SEGMENT)
        finally:
            await nodes.close()
    break_run = range(40 * 15 + 3, 40 * 15 + 9)
    for rendition in RENDITIONS:
        late = joined.listed[rendition]
        # The channel's own break segments, never a pod, under their MSNs...
        assert all(late[m].uri == f"{m}.ts" for m in break_run if m in late), late
        # ...and the next break is replaced.
        assert [len(run) for run in joined.pods(rendition)] == [2], joined.pods(rendition)
        # A session that started before the break had it replaced.
        assert earlier.pods(rendition)[0][0] == break_run[0]


async def test_redis_down_fails_open_and_the_edge_recovers_with_it(
    channel: str, clock: Clock, redis_server: RedisServer, origin: Origin, tmp_path: Path,
    http: aiohttp.ClientSession,
) -> None:  # fmt: skip
    nodes = Nodes(origin, tmp_path, channel)
    try:
        node = await nodes.make(
            IN_PROCESS, f"live.history={redis_server.url}", "live.redis_timeout=0.2"
        )
        viewer = await Viewer.start(http, node.url)
        for _ in range(4):
            await viewer.reload(http, node.url)
            clock.advance(SEGMENT)
        redis_server.stop()
        clock.advance(SEGMENT)
        url = viewer.url(node.url, VIDEO)
        async with http.get(url) as r:
            body = await r.read()
            assert r.status == 200
            assert "fail-open=history" in r.headers["X-Edge-Decision"]
        async with http.get(channel + MASTER.replace("master", "720p/index")) as r:
            assert body == await r.read()  # the origin's window, as it is
        window = parse(body)
        assert isinstance(window, MediaPlaylist)
        assert window.segments
        assert node.metric("edge_assembler_fail_open_total", reason="history") >= 1
        redis_server.start()
        clock.advance(SEGMENT)
        async with asyncio.timeout(10):  # the client reconnects by itself
            while True:
                if "fail-open" not in await decision(http, url):
                    break
                await asyncio.sleep(0.05)
        recovered = Viewer(viewer.token)
        for _ in range(8):
            await recovered.reload(http, node.url)
            clock.advance(SEGMENT)
    finally:
        await nodes.close()
    pods = recovered.pods(VIDEO)
    assert pods, "no break replaced once Redis was back"
    assert all(len(run) == 2 for run in pods), pods


async def test_live_interstitials_keep_the_channel_s_numbering_with_one_date_range_per_break(
    channel: str, clock: Clock, origin: Origin, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    nodes = Nodes(origin, tmp_path, channel)
    token = token_for(started=time.time() - 60, choices=(("ads", "interstitials"),))
    viewer = Viewer(token)
    ranges: dict[str, str] = {}
    try:
        node = await nodes.make(IN_PROCESS)
        for _ in range(8):
            for window in (await viewer.reload(http, node.url)).values():
                assert all(SPOT not in s.uri for s in window.segments)
                lines = [r for s in window.segments for r in s.raw] + list(window.head)
                for line in lines:
                    if "com.apple.hls.interstitial" in line:
                        found = re.search(r'ID="([^"]+)"', line)
                        assert found is not None
                        # The same break: the same date range on every reload.
                        assert ranges.setdefault(found[1], line) == line
            clock.advance(SEGMENT)
        assert len(ranges) >= 2, ranges
        listed = re.search(r'X-ASSET-LIST="([^"]+)"', next(iter(ranges.values())))
        assert listed is not None
        async with http.get(urljoin(node.url, listed[1].replace("&amp;", "&"))) as r:
            assert r.status == 200
            assets = (await r.json())["ASSETS"]
    finally:
        await nodes.close()
    assert assets == [{"URI": f"{node.url}/vod/spot/master.m3u8", "DURATION": 4.0}]
    # The channel's own segments under their own MSNs.
    assert all(seen.uri == f"{msn}.ts" for msn, seen in viewer.listed[VIDEO].items())
