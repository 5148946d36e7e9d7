"""`edge-assembler serve --workers 2`: both workers answer on the shared port, metrics add
up over the workers, a killed worker is replaced, SIGTERM drains every worker."""

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from edge_assembler.bundles.store import atomic_write
from tests.conftest import Origin, free_port
from tests.integration.bundles.conftest import NAME, Factory

CLI = [sys.executable, "-m", "edge_assembler"]
WORKER = "X-Edge-Worker"
REQUESTS = 50
SLOW = 20
LOADERS = 8


class Supervisor:
    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url

    def workers(self) -> set[int]:
        """The running child processes of the supervisor."""
        return {pid for pid, parent in processes().items() if parent == self.proc.pid}


def processes() -> dict[int, int]:
    """Every process still running (zombies left out) and its parent, from /proc."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rpartition(")")[2].split()[:2]
        except OSError:
            continue  # gone meanwhile
        if state != "Z":
            out[int(stat.parent.name)] = int(parent)
    return out


def live_pids() -> set[int]:
    return set(processes())


def fresh_connections() -> aiohttp.ClientSession:
    """A session that opens a new connection per request, so SO_REUSEPORT picks a worker
    for each."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))


async def answering_pids(url: str, count: int) -> list[int]:
    async with fresh_connections() as session:
        pids = []
        for _ in range(count):
            async with session.get(url) as r:
                assert r.status == 200
                await r.read()
                pids.append(int(r.headers[WORKER]))
        return pids


async def wait_for_pids(url: str, want: Iterable[int]) -> set[int]:
    """Ask on fresh connections until every pid of ``want`` has answered."""
    want, seen = set(want), set[int]()
    async with asyncio.timeout(10):
        while not want <= seen:
            try:
                seen.update(await answering_pids(url, 4))
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    return seen


@contextlib.asynccontextmanager
async def serve(origin: Origin, *args: str) -> AsyncIterator[Supervisor]:
    """`serve --workers 2` in front of ``origin``, once both workers answer."""
    (origin.state.files / "small.ts").write_bytes(os.urandom(1024))
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "serve",
        "--workers",
        "2",
        "--origin",
        origin.url,
        "--listen",
        f"127.0.0.1:{port}",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    sup = Supervisor(proc, f"http://127.0.0.1:{port}")
    try:
        async with asyncio.timeout(10):
            while len(sup.workers()) < 2:
                assert proc.returncode is None
                await asyncio.sleep(0.05)
        await wait_for_pids(f"{sup.url}/_edge/healthz", sup.workers())
        yield sup
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.communicate(), timeout=15)
        except TimeoutError:
            proc.kill()  # the workers see their stdin end and stop
            await proc.communicate()


@pytest.fixture
async def supervisor(origin: Origin) -> AsyncIterator[Supervisor]:
    async with serve(origin) as sup:
        yield sup


async def samples(url: str, family: str, sample: str) -> list[Sample]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_edge/metrics") as r:
        text = await r.text()
    found = next(f for f in text_string_to_metric_families(text) if f.name == family)
    return [s for s in found.samples if s.name == sample]


async def passthrough_count(url: str, want: int) -> float:
    """The node's count of passthrough 200s once it reached ``want`` (a worker counts a
    request after its last byte is sent, so just after the client read it)."""
    async with asyncio.timeout(5):
        while True:
            count = sum(
                s.value
                for s in await samples(
                    url, "edge_assembler_requests", "edge_assembler_requests_total"
                )
                if (s.labels["route"], s.labels["status"]) == ("passthrough", "200")
            )
            if count >= want:
                return count
            await asyncio.sleep(0.05)


async def test_both_workers_answer_and_metrics_add_up(supervisor: Supervisor):
    pids = await answering_pids(f"{supervisor.url}/files/small.ts", REQUESTS)
    assert set(pids) == supervisor.workers()
    assert len(set(pids)) == 2
    assert await passthrough_count(supervisor.url, REQUESTS) == REQUESTS
    # Each worker's CPU time, as its own series (labelled with its pid).
    cpu = await samples(supervisor.url, "edge_assembler_cpu_seconds", "edge_assembler_cpu_seconds")
    assert {int(s.labels["pid"]) for s in cpu} == supervisor.workers()
    # Readiness (no bundles configured): every worker is ready.
    (ready,) = await samples(supervisor.url, "edge_assembler_ready", "edge_assembler_ready")
    assert ready.value == 1
    assert all(s.value > 0 for s in cpu)


async def test_a_killed_worker_is_replaced(supervisor: Supervisor):
    before = supervisor.workers()
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    async with asyncio.timeout(10):
        while victim in supervisor.workers() or len(supervisor.workers()) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    after = supervisor.workers()
    assert victim not in after
    assert len(after - before) == 1
    assert await wait_for_pids(f"{supervisor.url}/_edge/healthz", after) == after
    assert supervisor.proc.returncode is None
    # The killed worker's requests stay counted next to the live workers' ones.
    pids = await answering_pids(f"{supervisor.url}/files/small.ts", 10)
    assert set(pids) <= after
    assert await passthrough_count(supervisor.url, 10) == 10


async def test_sigterm_drains_every_worker_then_exits_0(supervisor: Supervisor, origin: Origin):
    workers = supervisor.workers()
    async with fresh_connections() as session:

        async def slow() -> tuple[int, str, int]:
            async with session.get(f"{supervisor.url}/slow/1.5") as r:
                return r.status, await r.text(), int(r.headers[WORKER])

        body = (origin.state.files / "small.ts").read_bytes()
        outcomes: list[str] = []

        async def load() -> None:
            """Segment requests back to back, each on a new connection, until the node
            stops accepting connections."""
            while True:
                try:
                    async with session.get(f"{supervisor.url}/files/small.ts") as r:
                        ok = r.status == 200 and await r.read() == body
                        outcomes.append("ok" if ok else f"HTTP {r.status} or a bad body")
                except aiohttp.ClientConnectorError:
                    return  # refused: the request never reached a worker
                except aiohttp.ClientError as exc:
                    outcomes.append(repr(exc))

        requests = [asyncio.ensure_future(slow()) for _ in range(SLOW)]
        loaders = [asyncio.ensure_future(load()) for _ in range(LOADERS)]
        async with asyncio.timeout(10):
            while origin.state.hits["/slow/1.5"] < SLOW or len(outcomes) < 4 * LOADERS:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        supervisor.proc.send_signal(signal.SIGTERM)
        answers = await asyncio.gather(*requests)
        async with asyncio.timeout(10):
            await asyncio.gather(*loaders)
    assert [(status, text) for status, text, _ in answers] == [(200, "finally\n")] * SLOW
    assert {pid for _, _, pid in answers} == workers
    # Every request a worker accepted, under load, got its whole answer.
    assert set(outcomes) == {"ok"}
    _, err = await asyncio.wait_for(supervisor.proc.communicate(), timeout=10)
    assert supervisor.proc.returncode == 0, err.decode()
    assert not workers & live_pids()


# --- one bundle writer per node --------------------------------------------------------------


async def bundle_views(url: str) -> dict[int, dict[str, Any]]:
    """The bundle status each worker reports, by pid (asked until both answered)."""
    views: dict[int, dict[str, Any]] = {}
    async with fresh_connections() as session:
        while len(views) < 2:
            async with session.get(f"{url}/_edge/bundles") as r:
                views[int(r.headers[WORKER])] = await r.json()
    return views


async def wait_for_revision(sup: Supervisor, revision: int) -> dict[int, dict[str, Any]]:
    """Every worker's status once all of them serve ``revision``."""
    async with asyncio.timeout(10):
        while True:
            views = await bundle_views(sup.url)
            if set(views) == sup.workers() and all(
                v["active_revision"] == revision for v in views.values()
            ):
                return views
            await asyncio.sleep(0.1)


def the_writer(views: dict[int, dict[str, Any]]) -> int:
    """The one pid that writes; every other worker names it."""
    (writer,) = (pid for pid, view in views.items() if view["writer"]["self"])
    assert all(view["writer"]["pid"] == writer for view in views.values())
    return writer


async def activations(url: str) -> float:
    return sum(
        s.value
        for s in await samples(
            url, "edge_assembler_bundle_activations", "edge_assembler_bundle_activations_total"
        )
        if s.labels["result"] == "activated"
    )


async def test_one_worker_writes_and_every_worker_swaps_to_the_same_revision(
    origin: Origin, tmp_path: Path
):
    factory = Factory(tmp_path)
    factory.write_trust()
    drop = tmp_path / "drop"
    drop.mkdir()

    def publish(revision: int) -> None:
        bundle = factory.bundle(revision, created=datetime.now(UTC) - timedelta(minutes=1))
        atomic_write(drop / "rules.tar.gz", bundle)

    publish(10)
    flags = [
        *("--bundle", str(drop), "--trust", str(tmp_path / "trust.json")),
        *("--state-dir", str(tmp_path / "node")),
        *("--set", "bundles.watch_interval=0.2", "--set", "bundles.debounce=0.05"),
    ]
    async with serve(origin, *flags) as sup:
        views = await wait_for_revision(sup, 10)
        writer = the_writer(views)
        assert len({v["sha256"] for v in views.values()}) == 1

        publish(11)
        views = await wait_for_revision(sup, 11)
        assert the_writer(views) == writer
        assert len({v["sha256"] for v in views.values()}) == 1
        assert await activations(sup.url) == 2  # one per revision, not one per worker
        (ready,) = await samples(sup.url, "edge_assembler_ready", "edge_assembler_ready")
        assert ready.value == 1

        # The writer dies: one of the workers (the survivor or its replacement) takes over.
        os.kill(writer, signal.SIGKILL)
        async with asyncio.timeout(10):
            while writer in sup.workers() or len(sup.workers()) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        publish(12)
        views = await wait_for_revision(sup, 12)
        assert the_writer(views) != writer
        assert await activations(sup.url) == 3
    state = json.loads((tmp_path / "node" / "state" / "state.json").read_text())
    history = state["names"][NAME]["history"]
    assert [entry["revision"] for entry in history] == [10, 11, 12]
