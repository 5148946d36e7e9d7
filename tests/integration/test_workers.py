"""`edge-assembler serve --workers 2`: both workers answer on the shared port, metrics add
up over the workers, a killed worker is replaced, SIGTERM drains every worker."""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Origin, free_port

CLI = [sys.executable, "-m", "edge_assembler"]
WORKER = "X-Edge-Worker"
REQUESTS = 50
SLOW = 20


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


@pytest.fixture
async def supervisor(origin: Origin) -> AsyncIterator[Supervisor]:
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


async def request_counts(url: str) -> dict[tuple[str, str], float]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_edge/metrics") as r:
        text = await r.text()
    family = next(
        f for f in text_string_to_metric_families(text) if f.name == "edge_assembler_requests"
    )
    return {
        (s.labels["route"], s.labels["status"]): s.value
        for s in family.samples
        if s.name == "edge_assembler_requests_total"
    }


async def test_both_workers_answer_and_metrics_add_up(supervisor: Supervisor):
    pids = await answering_pids(f"{supervisor.url}/files/small.ts", REQUESTS)
    assert set(pids) == supervisor.workers()
    assert len(set(pids)) == 2
    counts = await request_counts(supervisor.url)
    assert counts[("passthrough", "200")] == REQUESTS
    # Each worker's CPU time, as its own series (labelled with its pid).
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{supervisor.url}/_edge/metrics") as r,
    ):
        text = await r.text()
    cpu = next(
        f for f in text_string_to_metric_families(text) if f.name == "edge_assembler_cpu_seconds"
    )
    assert {int(s.labels["pid"]) for s in cpu.samples} == supervisor.workers()
    assert all(s.value > 0 for s in cpu.samples)


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
    assert (await request_counts(supervisor.url))[("passthrough", "200")] == 10


async def test_sigterm_drains_every_worker_then_exits_0(supervisor: Supervisor, origin: Origin):
    workers = supervisor.workers()
    async with fresh_connections() as session:

        async def slow() -> tuple[int, str, int]:
            async with session.get(f"{supervisor.url}/slow/1.5") as r:
                return r.status, await r.text(), int(r.headers[WORKER])

        requests = [asyncio.ensure_future(slow()) for _ in range(SLOW)]
        async with asyncio.timeout(10):
            while origin.state.hits["/slow/1.5"] < SLOW:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        supervisor.proc.send_signal(signal.SIGTERM)
        answers = await asyncio.gather(*requests)
    assert [(status, text) for status, text, _ in answers] == [(200, "finally\n")] * SLOW
    assert {pid for _, _, pid in answers} == workers
    _, err = await asyncio.wait_for(supervisor.proc.communicate(), timeout=10)
    assert supervisor.proc.returncode == 0, err.decode()
    assert not workers & live_pids()
