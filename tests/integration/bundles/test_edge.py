"""Bundles wired into a real edge in front of a real loopback origin: readiness, status,
metrics, ``X-Rules-Revision``, stale policy, and hot reload under load (BUNDLES §4.7-4.8;
§6 row 34)."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web

from edge_assembler.bundles.manager import BundleManager, Result
from edge_assembler.config import load_config
from edge_assembler.metrics import Metrics
from edge_assembler.server.app import create_app
from edge_assembler.server.runner import start, urls
from edge_assembler.server.state import BUNDLES
from tests.bundle_support import KEY_A, KEY_B
from tests.conftest import Origin
from tests.integration.bundles.conftest import Factory, FakeClock, settings_for

MANIFEST = "/vod/a.m3u8"


class Node:
    def __init__(self, app: web.Application, url: str) -> None:
        self.app = app
        self.url = url

    @property
    def manager(self) -> BundleManager:
        return self.app[BUNDLES]


NodeFactory = Callable[..., Awaitable[Node]]


@pytest.fixture
async def node_factory(
    origin: Origin, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[NodeFactory]:
    origin.state.manifest(MANIFEST)
    runners: list[web.AppRunner] = []

    async def make(**bundle_settings: Any) -> Node:
        base = load_config(None, origin=origin.url, listen=["127.0.0.1:0"])
        settings = settings_for(
            tmp_path, watch_interval=0.05, debounce=0.01, trust_reload_interval=0.05
        )
        config = msgspec.structs.replace(
            base, bundles=msgspec.structs.replace(settings, **bundle_settings)
        )
        metrics = Metrics()
        manager = BundleManager(config.bundles, metrics=metrics, clock=clock)
        app = create_app(config, metrics, bundles=manager)
        runner = await start(app, config)
        runners.append(runner)
        return Node(app, urls(runner)[0])

    yield make
    for runner in runners:
        await runner.cleanup()


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(5):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


def drop(path: Path, blob: bytes) -> None:
    """Publish by atomic rename, as BUNDLES §4.9 asks of writers."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)


async def test_not_ready_until_a_bundle_arrives_then_headers_and_status(
    node_factory: NodeFactory, factory: Factory, tmp_path: Path, client: aiohttp.ClientSession
):
    node = await node_factory()
    async with client.get(node.url + "/_edge/readyz") as r:
        assert r.status == 503
        assert "no rules bundle active" in await r.text()
    async with client.get(node.url + "/_edge/bundles") as r:
        assert (await r.json())["status"] == "waiting"

    drop(tmp_path / "drop", factory.bundle(10))

    async def ready() -> bool:
        async with client.get(node.url + "/_edge/readyz") as r:
            return r.status == 200

    await _eventually(ready)
    async with client.get(node.url + MANIFEST) as r:
        assert r.status == 200
        assert r.headers.getall("X-Rules-Revision") == ["10"]
        etag = r.headers["ETag"]
    async with client.get(node.url + MANIFEST, headers={"If-None-Match": etag}) as r:
        assert r.status == 304
        assert r.headers.getall("X-Rules-Revision") == ["10"]
    async with client.get(node.url + "/files/seg.ts") as r:
        await r.read()
        assert "X-Rules-Revision" not in r.headers  # only manifests are edited
    async with client.get(node.url + "/_edge/bundles") as r:
        status = await r.json()
    assert status["enabled"] is True
    assert status["status"] == "ok"
    assert status["active_revision"] == 10
    assert status["floor"] == {"prod-global": 10}
    assert status["last_error"] is None
    assert status["sources"] == [str(tmp_path / "drop")]
    async with client.get(node.url + "/_edge/metrics") as r:
        text = await r.text()
    assert 'edge_assembler_bundle_activations_total{code="",result="activated"} 1.0' in text
    assert "edge_assembler_bundle_active_revision 10.0" in text
    assert "edge_assembler_bundle_expiry_seconds" in text
    assert "edge_assembler_bundle_last_success_timestamp" in text


async def test_a_refused_file_is_reported_and_not_retried_until_it_changes(
    node_factory: NodeFactory, factory: Factory, tmp_path: Path, client: aiohttp.ClientSession
):
    node = await node_factory()
    drop(tmp_path / "drop", factory.bundle(10))
    await _eventually(lambda: _active(node, 10))
    drop(tmp_path / "drop", factory.bundle(9))

    async def refused() -> bool:
        return node.manager.last_error is not None

    await _eventually(refused)
    assert node.manager.last_error is not None
    assert node.manager.last_error.code == "rollback"
    await asyncio.sleep(0.3)  # several polls: the same bytes are not offered again
    registry = node.app[BUNDLES]._metrics
    assert registry is not None
    rejected = registry.registry.get_sample_value(
        "edge_assembler_bundle_activations_total", {"result": "rejected", "code": "rollback"}
    )
    assert rejected == 1
    async with client.get(node.url + "/_edge/bundles") as r:
        status = await r.json()
    assert status["last_error"]["code"] == "rollback"
    assert status["last_error"]["revision"] == 9
    assert status["active_revision"] == 10


async def _active(node: Node, revision: int) -> bool:
    current = node.manager.current
    return current is not None and current.revision == revision


async def test_a_symlink_swap_and_a_watched_directory(
    node_factory: NodeFactory, factory: Factory, tmp_path: Path
):
    """Kubernetes ConfigMap style: dir/bundle.tar.gz -> ..data/bundle.tar.gz, ..data swapped."""
    mount = tmp_path / "mount"
    mount.mkdir()
    for revision in (10, 11):
        version = mount / f"..v{revision}"
        version.mkdir()
        (version / "bundle.tar.gz").write_bytes(factory.bundle(revision))
    (mount / "..data").symlink_to("..v10")
    (mount / "bundle.tar.gz").symlink_to("..data/bundle.tar.gz")
    node = await node_factory(sources=(str(mount),))
    await _eventually(lambda: _active(node, 10))

    (mount / "..data_tmp").symlink_to("..v11")
    (mount / "..data_tmp").replace(mount / "..data")

    await _eventually(lambda: _active(node, 11))


async def test_allow_start_without_bundle_passes_manifests_through(
    node_factory: NodeFactory, client: aiohttp.ClientSession
):
    node = await node_factory(allow_start_without_bundle=True)
    async with client.get(node.url + "/_edge/readyz") as r:
        assert r.status == 200
    async with client.get(node.url + MANIFEST) as r:
        assert r.status == 200
        assert "X-Rules-Revision" not in r.headers


@pytest.mark.parametrize(
    ("policy", "status", "header"),
    [("serve", 200, ["10"]), ("passthrough", 200, []), ("fail", 503, [])],
)
async def test_stale_policy_through_the_edge(
    node_factory: NodeFactory,
    factory: Factory,
    clock: FakeClock,
    client: aiohttp.ClientSession,
    policy: str,
    status: int,
    header: list[str],
):
    node = await node_factory(stale_policy=policy)
    outcome = await node.manager.offer(factory.bundle(10, valid=timedelta(days=1)), "test")
    assert outcome.result is Result.ACTIVATED
    clock.advance(days=1, hours=1)  # expired 2 h ago (created at T0, the clock at T0 + 1 h)

    async with client.get(node.url + MANIFEST) as r:
        assert r.status == status
        assert r.headers.getall("X-Rules-Revision", []) == header
    async with client.get(node.url + "/files/seg.ts") as r:
        assert r.status == 200  # segments never depend on rules
        await r.read()
    async with client.get(node.url + "/_edge/bundles") as r:
        doc = await r.json()
    assert (doc["status"], doc["stale"], doc["serving"]) == (
        "stale",
        True,
        "rules" if policy == "serve" else policy,
    )


async def test_status_when_bundles_are_off(edge: Any, client: aiohttp.ClientSession):
    async with client.get(edge.url + "/_edge/bundles") as r:
        assert r.status == 200
        assert await r.json() == {"enabled": False}


async def test_hot_reload_under_load(
    node_factory: NodeFactory, factory: Factory, client: aiohttp.ClientSession
):
    """§6 row 34: 200 concurrent manifest requests while 100 bundles are swapped in; every
    answer names exactly one revision, and only revisions that were active."""
    node = await node_factory()
    blobs = [factory.bundle(r) for r in range(10, 111)]
    assert (await node.manager.offer(blobs[0], "test")).result is Result.ACTIVATED
    activated = {10}
    done = asyncio.Event()

    async def swap() -> None:
        await asyncio.sleep(0.05)  # the 200 clients are in flight
        for blob in blobs[1:]:
            outcome = await node.manager.offer(blob, "test")
            assert outcome.result is Result.ACTIVATED
            assert outcome.revision is not None
            activated.add(outcome.revision)
        done.set()

    async def fetch(session: aiohttp.ClientSession) -> tuple[int, list[str]]:
        async with session.get(node.url + MANIFEST) as r:
            await r.read()
            return r.status, r.headers.getall("X-Rules-Revision", [])

    results: list[tuple[int, list[str]]] = []

    async def client_loop(session: aiohttp.ClientSession) -> None:
        while True:
            results.append(await fetch(session))
            if done.is_set():
                return
            await asyncio.sleep(0.02)

    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        clients = [asyncio.ensure_future(client_loop(session)) for _ in range(200)]
        await swap()
        await asyncio.gather(*clients)

    assert len(activated) == 101
    assert all(status == 200 for status, _ in results)
    assert all(len(values) == 1 for _, values in results)
    seen = {int(values[0]) for _, values in results}
    assert seen <= activated
    assert len(seen) > 1  # the swaps really happened under load
    assert json.dumps(sorted(seen))  # revisions are plain integers


async def test_revoking_the_active_signer_drops_rules_but_not_readiness(
    node_factory: NodeFactory, factory: Factory, client: aiohttp.ClientSession
):
    node = await node_factory()
    assert (await node.manager.offer(factory.bundle(10), "test")).result is Result.ACTIVATED
    factory.write_trust(KEY_A, KEY_B, status={KEY_A: "revoked"}, version=2)

    async def dropped() -> bool:
        async with client.get(node.url + "/_edge/bundles") as r:
            return bool((await r.json())["status"] == "degraded")

    await _eventually(dropped)  # the trust watcher reloaded the file
    async with client.get(node.url + "/_edge/readyz") as r:
        assert r.status == 200
    async with client.get(node.url + MANIFEST) as r:
        assert r.status == 200
        assert "X-Rules-Revision" not in r.headers
    async with client.get(node.url + "/_edge/bundles") as r:
        doc = await r.json()
    assert doc["last_error"]["origin"] == "trust reload"
    assert doc["floor"] == {"prod-global": 0}  # fast-forward recovery: nothing vouched for
