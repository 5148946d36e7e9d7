"""HttpSource against a real aiohttp bundle server on 127.0.0.1: byte caps while streaming,
ETag bookkeeping, jitter and backoff (BUNDLES §4.9; §6 rows 10 and 33)."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from edge_assembler.bundles.manager import BundleManager, Result
from edge_assembler.bundles.sources import HttpSource
from edge_assembler.metrics import Metrics
from edge_assembler.server.runner import urls
from tests.integration.bundles.conftest import (
    NAME,
    Factory,
    FakeClock,
    ManagerFactory,
    metric,
    settings_for,
)

CAP = 64 * 1024


@dataclass
class BundleServer:
    """What the bundle server serves, and what it saw."""

    url: str = ""
    blob: bytes = b""
    etag: str | None = '"e1"'
    etag_on_304: bool = False
    content_encoding: str | None = None
    seen_if_none_match: list[str | None] = field(default_factory=list)
    aborted: asyncio.Event = field(default_factory=asyncio.Event)


async def _bundle(request: web.Request) -> web.Response:
    server: BundleServer = request.app[SERVER]
    asked = request.headers.get("If-None-Match")
    server.seen_if_none_match.append(asked)
    assert request.headers["Accept-Encoding"] == "identity"
    if server.etag is not None and asked == server.etag:
        return web.Response(status=304, headers={"ETag": server.etag} if server.etag_on_304 else {})
    headers = {"Content-Type": "application/gzip"}
    if server.etag is not None:
        headers["ETag"] = server.etag
    if server.content_encoding:
        headers["Content-Encoding"] = server.content_encoding
    return web.Response(body=server.blob, headers=headers)


async def _endless(request: web.Request) -> web.StreamResponse:
    """Chunked (no Content-Length) and never ending, until the reader hangs up."""
    server: BundleServer = request.app[SERVER]
    response = web.StreamResponse()
    await response.prepare(request)
    try:
        while True:
            await response.write(b"\x1f" * 8192)
            await asyncio.sleep(0)
    except (ConnectionError, asyncio.CancelledError):
        server.aborted.set()
        raise


async def _declared(request: web.Request) -> web.StreamResponse:
    """Declares a Content-Length; ``lie`` sends far less than declared, then stalls."""
    server: BundleServer = request.app[SERVER]
    response = web.StreamResponse()
    response.content_length = CAP * 100
    await response.prepare(request)
    try:
        if request.match_info["how"] == "honest":
            for _ in range(100 * CAP // 8192):
                await response.write(b"\x1f" * 8192)
        else:
            await response.write(b"\x1f" * 100)
            await asyncio.sleep(30)
    except (ConnectionError, asyncio.CancelledError):
        server.aborted.set()
        raise
    return response


async def _status(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]))


SERVER = web.AppKey("server", BundleServer)


@pytest.fixture
async def bundle_server() -> AsyncIterator[BundleServer]:
    state = BundleServer()
    app = web.Application()
    app[SERVER] = state
    app.router.add_get("/bundle.tar.gz", _bundle)
    app.router.add_get("/endless", _endless)
    app.router.add_get("/declared/{how}", _declared)
    app.router.add_get("/status/{code}", _status)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state.url = urls(runner)[0]
    yield state
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auto_decompress=False) as s:
        yield s


def source(manager: BundleManager, url: str) -> HttpSource:
    return HttpSource(url, manager, manager.settings)


# -- row 10: byte caps -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/endless", id="no-content-length"),
        pytest.param("/declared/honest", id="content-length-over-cap"),
        pytest.param("/declared/lie", id="lying-content-length"),
    ],
)
async def test_an_oversized_body_is_too_large_and_the_connection_is_dropped(
    make_manager: ManagerFactory,
    factory: Factory,
    bundle_server: BundleServer,
    session: aiohttp.ClientSession,
    path: str,
):
    metrics = Metrics()
    manager = await make_manager(metrics=metrics, max_compressed=CAP)
    await manager.offer(factory.bundle(10), "seed")
    before = manager.current

    result = await source(manager, bundle_server.url + path).poll(session)

    assert result is Result.REJECTED
    assert manager.last_error is not None
    assert manager.last_error.code == "too_large"
    assert manager.current is before
    rejected = {"result": "rejected", "code": "too_large"}
    assert metric(metrics, "edge_assembler_bundle_activations_total", **rejected) == 1
    await asyncio.wait_for(bundle_server.aborted.wait(), 5)  # the connection was cut


async def test_a_gzip_content_encoding_label_is_not_inflated(
    make_manager: ManagerFactory,
    factory: Factory,
    bundle_server: BundleServer,
    session: aiohttp.ClientSession,
):
    manager = await make_manager()
    bundle_server.blob = factory.bundle(10)
    bundle_server.content_encoding = "gzip"  # a mislabel: the body is the .tar.gz itself

    result = await source(manager, bundle_server.url + "/bundle.tar.gz").poll(session)

    assert result is Result.ACTIVATED


# -- row 33: ETag rules ----------------------------------------------------------------


async def test_etag_is_committed_only_after_activation_and_survives_restart(
    make_manager: ManagerFactory,
    factory: Factory,
    bundle_server: BundleServer,
    session: aiohttp.ClientSession,
):
    url = bundle_server.url + "/bundle.tar.gz"
    manager = await make_manager()
    src = source(manager, url)
    bundle_server.blob = factory.bundle(10)

    assert await src.poll(session) is Result.ACTIVATED
    assert src.etag == '"e1"'
    assert manager.committed_etag() == '"e1"'

    # 304 without an ETag header keeps the committed one (opa#1928).
    assert await src.poll(session) is Result.NOT_MODIFIED
    assert bundle_server.seen_if_none_match[-1] == '"e1"'
    assert src.etag == '"e1"'

    # A new body that fails activation does not advance the ETag (opa#2220) ...
    bundle_server.blob, bundle_server.etag = factory.bundle(9), '"e2"'
    assert await src.poll(session) is Result.REJECTED
    assert src.etag == '"e1"'
    assert manager.committed_etag() == '"e1"'
    # ... so the next poll asks again with the old one and gets the body again.
    assert await src.poll(session) is Result.REJECTED
    assert bundle_server.seen_if_none_match[-1] == '"e1"'

    # A good body under a new ETag is activated and its ETag committed.
    bundle_server.blob, bundle_server.etag = factory.bundle(11), '"e3"'
    assert await src.poll(session) is Result.ACTIVATED
    assert src.etag == '"e3"'

    # Restart: the ETag comes back from state.json (opa#4544) and is sent at once.
    restarted = await make_manager()
    fresh = source(restarted, url)
    assert fresh.etag == '"e3"'
    assert await fresh.poll(session) is Result.NOT_MODIFIED
    assert bundle_server.seen_if_none_match[-1] == '"e3"'
    assert restarted.current is not None
    assert restarted.current.revision == 11


async def test_same_content_without_etag_is_not_modified(
    make_manager: ManagerFactory,
    factory: Factory,
    bundle_server: BundleServer,
    session: aiohttp.ClientSession,
):
    manager = await make_manager()
    bundle_server.blob, bundle_server.etag = factory.bundle(10), None
    src = source(manager, bundle_server.url + "/bundle.tar.gz")
    assert await src.poll(session) is Result.ACTIVATED
    before = manager.current

    assert await src.poll(session) is Result.NOT_MODIFIED  # §6 row 23 through HTTP
    assert manager.current is before
    assert bundle_server.seen_if_none_match == [None, None]


# -- polling schedule ------------------------------------------------------------------


async def test_jitter_and_capped_exponential_backoff(
    tmp_path: Path, clock: FakeClock, bundle_server: BundleServer, session: aiohttp.ClientSession
):
    settings = settings_for(tmp_path, poll_min=10.0, poll_max=20.0, backoff_max=300.0)
    manager = BundleManager(settings, clock=clock)
    await manager.start()
    calls: list[tuple[float, float]] = []

    def high(a: float, b: float) -> float:
        calls.append((a, b))
        return b

    src = HttpSource(bundle_server.url + "/status/503", manager, settings, rand=high)
    assert src.next_delay() == 20.0  # healthy: uniform(poll_min, poll_max)
    delays = []
    for _ in range(8):
        assert await src.poll(session) is None
        delays.append(src.next_delay())
    assert delays == [20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0, 300.0]
    assert calls[1] == (10.0, 20.0)  # jitter: the lower half of the backoff is possible too
    assert src.failures == 8


async def test_an_unreachable_server_counts_as_a_failure(
    make_manager: ManagerFactory, session: aiohttp.ClientSession
):
    from tests.conftest import free_port

    manager = await make_manager()
    src = source(manager, f"http://127.0.0.1:{free_port()}/bundle.tar.gz")
    assert await src.poll(session) is None
    assert src.failures == 1
    assert manager.current is None
    assert NAME not in manager.state.names


async def test_run_polls_until_cancelled(
    make_manager: ManagerFactory, factory: Factory, bundle_server: BundleServer
):
    manager = await make_manager(poll_min=0.01, poll_max=0.02)
    bundle_server.blob = factory.bundle(10)
    src = source(manager, bundle_server.url + "/bundle.tar.gz")
    task: Any = asyncio.ensure_future(src.run())
    try:
        async with asyncio.timeout(5):
            while len(bundle_server.seen_if_none_match) < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert manager.current is not None
    assert bundle_server.seen_if_none_match[:3] == [None, '"e1"', '"e1"']
