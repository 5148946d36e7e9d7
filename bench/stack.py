"""The system under test, on loopback: the benchmark's origins (nginx for the VOD files,
``bench.origin`` for the rest) and the edge (``edge-assembler serve --workers N``) with the
benchmark's signed rules bundle, each a process of its own, so that the load generator in
this process competes with them only for the CPU, as a client on the same machine would.

The bundle source is a directory the edge watches: a new bundle written into it is the
hot swap of the ``bundle-hot-swap`` scenario.
"""

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp

from bench.servers import Running, free_port, stop_process
from edge_assembler.demo.run import signed_bundle

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
RULES: Final = REPO_ROOT / "bench" / "rules"
BUNDLE_NAME: Final = "bench"
START_SECONDS: Final = 30.0
IDLE_WINDOW: Final = 0.1  # seconds the CPUs must stay all but idle, between load phases
IDLE_BUSY: Final = 0.02  # CPU-seconds busy within that window that still count as idle
IDLE_TIMEOUT: Final = 2.0  # a backlog drains in well under a second
SESSION_KEY: Final = "bench-session-key-of-at-least-32-bytes"


@dataclass(frozen=True, slots=True)
class Edge:
    """A running edge: its base URL, processes, and the directory its bundles come from."""

    running: Running
    bundles: Path
    keys: Path  # the signing key and trust file (``signed_bundle``)

    @property
    def url(self) -> str:
        return self.running.url

    def swap_bundle(self) -> None:
        """Sign the rules again (a new revision) and drop the bundle where the edge looks."""
        built = signed_bundle(self.keys, RULES, BUNDLE_NAME)
        target = self.bundles / built.bundle.name
        staging = self.bundles.parent / f".{built.bundle.name}.tmp"
        shutil.copyfile(built.bundle, staging)
        os.replace(staging, target)


async def _launch(args: Sequence[str], ready: str, log: Path) -> asyncio.subprocess.Process:
    """Start ``args`` (its output into ``log``) and wait until ``ready`` answers 200."""
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *args, cwd=REPO_ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
        )
    deadline = time.monotonic() + START_SECONDS
    async with aiohttp.ClientSession() as http:
        while True:
            if process.returncode is not None or time.monotonic() > deadline:
                await stop_process(process)
                raise RuntimeError(f"{args[2]} did not start:\n{_tail(log)}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(ready) as r:
                    if r.status == 200:
                        return process
            await asyncio.sleep(0.05)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


@contextlib.asynccontextmanager
async def origin(media: Path, logs: Path) -> AsyncIterator[Running]:
    """``python -m bench.origin`` serving ``media`` (``ensure_media``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "bench.origin", "--media", str(media), "--port", str(port)]
    process = await _launch(args, f"{url}/_count", logs / "origin.log")
    try:
        yield Running(url, process.pid)
    finally:
        await stop_process(process)


@contextlib.asynccontextmanager
async def edge(origin_url: str, files_url: str, logs: Path, *, workers: int) -> AsyncIterator[Edge]:
    """``edge-assembler serve`` with the benchmark's rules, in front of two origins, as a
    packager's files and its live service often are: ``files_url`` (nginx) serves the VOD
    files of ``/vod/`` (the media's ``hls`` directory), ``origin_url`` everything else."""
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp:
        root = Path(tmp)
        keys, bundles = root / "keys", root / "bundles"
        bundles.mkdir()
        built = signed_bundle(keys, RULES, BUNDLE_NAME)
        shutil.copyfile(built.bundle, bundles / built.bundle.name)
        config = root / "edge.toml"
        config.write_text(
            f'[[origins]]\nurl = "{files_url}"\nprefix = "/vod/"\nstrip_prefix = true\n\n'
            f'[[origins]]\nurl = "{origin_url}"\n'
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        args = [
            sys.executable, "-m", "edge_assembler", "serve",
            "--config", str(config),
            "--listen", f"127.0.0.1:{port}",
            "--workers", str(workers),
            "--bundle", str(bundles),
            "--trust", str(built.trust),
            "--state-dir", str(root / "state"),
            "--set", f'session.keys={{bench = "{SESSION_KEY}"}}',
            "--set", "session.active_key=bench",
            "--set", "log.access_log=false",
            "--set", "bundles.watch_interval=0.5",
        ]  # fmt: skip
        process = await _launch(args, f"{url}/_edge/readyz", logs / "edge.log")
        running = Running(url, process.pid)
        try:
            deadline = time.monotonic() + START_SECONDS
            while workers > 1 and len(running.pids) <= workers:  # the supervisor and each
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the edge started {len(running.pids) - 1} workers")
                await asyncio.sleep(0.05)
            yield Edge(running, bundles, keys)
        finally:
            await stop_process(process)


def split_cpus() -> tuple[set[int], set[int]]:
    """(CPUs for the servers under test, CPUs for the load tools and the origins): the last
    CPU for the load, the others for the servers, so that a run does not depend on how the
    scheduler mixes them; one CPU is shared."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(cpus), set(cpus)
    return set(cpus[:-1]), {cpus[-1]}


def pin(pids: Sequence[int], cpus: set[int]) -> None:
    """Run ``pids`` on ``cpus`` (a process gone meanwhile is skipped)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, cpus)


def rss_mb(pids: Sequence[int]) -> list[float]:
    """Resident set size of each process, in MiB (``/proc/<pid>/status``)."""
    out = []
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]) / 1024)
    return out


def busy_seconds() -> float:
    """CPU-seconds all CPUs have spent busy since boot: the user, nice, system, irq,
    softirq and steal clock ticks of ``/proc/stat`` (proc(5))."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = f.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


async def idle() -> float:
    """Wait until the machine's CPUs stay all but idle for ``IDLE_WINDOW`` (at most
    ``IDLE_TIMEOUT`` seconds); return the seconds waited. wrk stops with requests in flight,
    and a server goes on with them after it: without this wait, a slow system's backlog
    (the m3u8 rewriter's, 32 requests of 7 ms) would run into the next system's
    measurement."""
    began = time.monotonic()
    before = busy_seconds()
    while time.monotonic() - began < IDLE_TIMEOUT:
        await asyncio.sleep(IDLE_WINDOW)
        now = busy_seconds()
        if now - before <= IDLE_BUSY:
            break
        before = now
    return time.monotonic() - began
