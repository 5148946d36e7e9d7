"""The break history on both backends, Redis being a real ``redis-server``: first writer
wins across nodes, order, bounds and expiry, restarts, and a Redis outage and recovery."""

import asyncio
import inspect
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from redis.asyncio import Redis

from edge_assembler.config import Live
from edge_assembler.live.history import (
    BreakHistory,
    HistoryUnavailable,
    MemoryHistory,
    RedisHistory,
    SeenBreak,
    open_history,
)
from tests.integration.live.conftest import RedisServer

PREFIX = "eas-test:"
TIMEOUT = 0.2
# A call fails within its timeout plus the event loop's slack on a busy machine.
FAIL_WITHIN = TIMEOUT + 0.5

HistoryFactory = Callable[..., BreakHistory]
T = TypeVar("T")


def brk(id: str, start_msn: int, *, replaced: int = 3, seen_at: float | None = None) -> SeenBreak:
    return SeenBreak(
        id=id,
        start_msn=start_msn,
        replaced=replaced,
        cue=f"#EXT-X-CUE-OUT:{2.0 * replaced:.1f}",
        seen_at=time.time() if seen_at is None else seen_at,
    )


@pytest.fixture(params=["memory", "redis"])
async def nodes(request: pytest.FixtureRequest) -> AsyncIterator[HistoryFactory]:
    """``nodes(ttl=, max_breaks=)`` opens the history of one more node: for Redis a new
    client of the same server, for memory the one process-wide history."""
    opened: list[BreakHistory] = []
    memory: dict[tuple[float, int], MemoryHistory] = {}

    def make(*, ttl: float = 60.0, max_breaks: int = 64) -> BreakHistory:
        history: BreakHistory
        if request.param == "memory":
            history = memory.setdefault(
                (ttl, max_breaks), MemoryHistory(ttl=ttl, max_breaks=max_breaks, max_streams=16)
            )
        else:
            url = request.getfixturevalue("redis_url")
            config = Live(
                history=url,
                history_ttl=ttl,
                history_max_breaks=max_breaks,
                redis_timeout=TIMEOUT,
                key_prefix=PREFIX,
            )
            history = open_history(config)
            assert isinstance(history, RedisHistory)
        opened.append(history)
        return history

    yield make
    for history in opened:
        await history.close()


async def test_the_first_record_of_a_break_wins(nodes: HistoryFactory) -> None:
    history = nodes()
    first = brk("b1", 10, replaced=3)
    assert await history.record("live/a", first) == first
    assert await history.record("live/a", brk("b1", 12, replaced=5)) == first
    assert await history.breaks("live/a") == (first,)


async def test_concurrent_records_on_two_nodes_agree_on_one(nodes: HistoryFactory) -> None:
    node_a, node_b = nodes(), nodes()
    candidates = [brk("b1", 100 + i, replaced=i % 4) for i in range(20)]
    calls = [(node_a if i % 2 else node_b).record("live/a", c) for i, c in enumerate(candidates)]
    stored = await asyncio.gather(*calls)
    assert len(set(stored)) == 1
    assert stored[0] in candidates
    assert await node_a.breaks("live/a") == await node_b.breaks("live/a") == (stored[0],)


async def test_breaks_are_ordered_by_start_msn(nodes: HistoryFactory) -> None:
    history = nodes()
    records = [brk(f"b{msn}", msn) for msn in (40, 10, 30, 0, 20)]
    for record in records:
        await history.record("live/a", record)
    listed = await history.breaks("live/a")
    assert [b.start_msn for b in listed] == [0, 10, 20, 30, 40]
    assert set(listed) == set(records)


async def test_streams_are_separate_and_unknown_ones_empty(nodes: HistoryFactory) -> None:
    history = nodes()
    await history.record("live/a/video.m3u8", brk("b1", 5))
    await history.record("live/b/video.m3u8", brk("b1", 7))
    assert [b.start_msn for b in await history.breaks("live/a/video.m3u8")] == [5]
    assert [b.start_msn for b in await history.breaks("live/b/video.m3u8")] == [7]
    assert await history.breaks("live/c/video.m3u8") == ()


async def test_max_breaks_trims_the_oldest(nodes: HistoryFactory) -> None:
    history = nodes(max_breaks=3)
    for msn in (10, 20, 30, 40):
        await history.record("live/a", brk(f"b{msn}", msn))
    assert [b.id for b in await history.breaks("live/a")] == ["b20", "b30", "b40"]
    # A break older than every kept one is trimmed as soon as it is recorded.
    await history.record("live/a", brk("b5", 5))
    assert [b.id for b in await history.breaks("live/a")] == ["b20", "b30", "b40"]


async def test_a_break_expires_ttl_after_it_was_seen(nodes: HistoryFactory) -> None:
    history = nodes(ttl=30.0)
    old = brk("b1", 10, seen_at=time.time() - 31.0)
    await history.record("live/a", old)
    await history.record("live/a", brk("b2", 20))
    assert [b.id for b in await history.breaks("live/a")] == ["b2"]
    # An expired record no longer holds its id: the next record of it wins.
    fresh = brk("b1", 12)
    assert await history.record("live/a", fresh) == fresh
    assert [b.id for b in await history.breaks("live/a")] == ["b1", "b2"]


def test_the_history_is_per_stream_never_per_session() -> None:
    for cls in (BreakHistory, MemoryHistory, RedisHistory):
        assert list(inspect.signature(cls.record).parameters) == ["self", "stream", "brk"]
        assert list(inspect.signature(cls.breaks).parameters) == ["self", "stream"]


# ---------------------------------------------------------------------------------------
# Redis only


@pytest.fixture
async def raw_redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_redis_keys_get_the_ttl_on_every_write_then_expire(
    redis_url: str, raw_redis: Redis
) -> None:
    history = open_history(Live(history=redis_url, history_ttl=1.0, key_prefix=PREFIX))
    assert isinstance(history, RedisHistory)
    try:
        keys = history.keys("live/a")
        assert keys == ("eas-test:breaks:{live/a}", "eas-test:order:{live/a}")
        await history.record("live/a", brk("b1", 10))
        for key in keys:
            assert 0 < await raw_redis.pttl(key) <= 1000
        await asyncio.sleep(0.6)
        await history.record("live/a", brk("b2", 20))  # refreshes both keys
        await asyncio.sleep(0.6)
        assert [b.id for b in await history.breaks("live/a")] == ["b2"]
        assert await raw_redis.exists(*keys) == 2
        await asyncio.sleep(0.6)
        assert await history.breaks("live/a") == ()
        assert await raw_redis.exists(*keys) == 0
    finally:
        await history.close()


async def test_a_malformed_record_is_unavailable(redis_url: str, raw_redis: Redis) -> None:
    history = open_history(Live(history=redis_url, key_prefix=PREFIX))
    assert isinstance(history, RedisHistory)
    try:
        await raw_redis.hset(history.keys("live/a")[0], "b1", b'{"id": "b1"}')
        with pytest.raises(HistoryUnavailable, match="a malformed record of 'live/a'"):
            await history.breaks("live/a")
    finally:
        await history.close()


async def test_the_history_survives_a_node_restart(redis_url: str) -> None:
    config = Live(history=redis_url, key_prefix=PREFIX)
    before = open_history(config)
    records = [brk("b1", 10), brk("b2", 20)]
    for record in records:
        await before.record("live/a", record)
    await before.close()
    after = open_history(config)
    try:
        assert await after.breaks("live/a") == tuple(records)
        assert await after.record("live/a", brk("b2", 25)) == records[1]
    finally:
        await after.close()


async def _fails_fast(call: Awaitable[object]) -> HistoryUnavailable:
    started = time.monotonic()
    with pytest.raises(HistoryUnavailable) as info:
        await call
    assert time.monotonic() - started < FAIL_WITHIN
    return info.value


async def _once_answering(call: Callable[[], Awaitable[T]]) -> T:
    """The call's answer once Redis answers again: a resumed server first works through
    what queued up while it was frozen, which can take a timeout on a busy machine."""
    async with asyncio.timeout(10):
        while True:
            try:
                return await call()
            except HistoryUnavailable:
                await asyncio.sleep(0.05)


async def test_redis_down_raises_and_the_same_instance_recovers(
    redis_binary: str, tmp_path: Path
) -> None:
    password = "s3cret-" + "".join(random.choices("abcdefghijkmnpqrstuvwxyz", k=16))
    server = RedisServer(redis_binary, tmp_path, password=password)
    server.start()
    history = open_history(Live(history=server.url, redis_timeout=TIMEOUT, key_prefix=PREFIX))
    try:
        await history.record("live/a", brk("b1", 10))
        server.stop()
        for call in (history.record("live/a", brk("b2", 20)), history.breaks("live/a")):
            error = await _fails_fast(call)
            assert f"redis://127.0.0.1:{server.port}/0" in str(error)
            assert password not in str(error)
        server.start()  # a new, empty Redis on the same port
        assert await history.breaks("live/a") == ()
        record = brk("b2", 20)
        assert await history.record("live/a", record) == record
        assert await history.breaks("live/a") == (record,)
    finally:
        await history.close()
        server.stop()


async def test_a_hung_redis_times_out_then_recovers(redis_server: RedisServer) -> None:
    history = open_history(Live(history=redis_server.url, redis_timeout=TIMEOUT))
    try:
        record = brk("b1", 10)
        await history.record("live/a", record)
        redis_server.pause()
        started = time.monotonic()
        await _fails_fast(history.breaks("live/a"))
        assert time.monotonic() - started >= TIMEOUT
        await _fails_fast(history.record("live/a", brk("b2", 20)))
        redis_server.resume()
        assert (await _once_answering(lambda: history.breaks("live/a")))[0] == record
    finally:
        redis_server.resume()
        await history.close()


async def test_a_wrong_password_is_unavailable_without_naming_it(
    redis_binary: str, tmp_path: Path
) -> None:
    server = RedisServer(redis_binary, tmp_path, password="the-right-one-0123456789")
    server.start()
    wrong = server.url.replace("the-right-one", "a-wrong-guess")
    history = open_history(Live(history=wrong, redis_timeout=TIMEOUT))
    try:
        error = await _fails_fast(history.breaks("live/a"))
        assert "a-wrong-guess" not in str(error)
        assert f"127.0.0.1:{server.port}" in str(error)
    finally:
        await history.close()
        server.stop()
