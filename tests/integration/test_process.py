"""The `edge-assembler serve` process: config errors, streaming memory, SIGTERM drain."""

import asyncio
import hashlib
import json
import os
import platform
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from edge_assembler.config import NodeConfig, Origin as OriginConfig, load_config
from edge_assembler.server.memory import operator_tuned
from tests.conftest import Origin, free_port

BIG = 60 * 1024 * 1024
CLI = [sys.executable, "-m", "edge_assembler"]


class EdgeProcess:
    def __init__(self, proc: asyncio.subprocess.Process, url: str) -> None:
        self.proc = proc
        self.url = url

    def page_faults(self) -> int:
        """Minor page faults so far (proc(5), /proc/PID/stat field 10)."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[7])

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(
            next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]
        )


async def start_edge(
    origin_url: str, *extra: str, env: dict[str, str] | None = None
) -> EdgeProcess:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "serve",
        "--origin",
        origin_url,
        "--listen",
        f"127.0.0.1:{port}",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            try:
                async with session.get(f"{url}/_edge/readyz") as r:
                    if r.status == 200:
                        return EdgeProcess(proc, url)
            except aiohttp.ClientConnectionError:
                pass
            if proc.returncode is not None:
                break
            await asyncio.sleep(0.1)
    proc.kill()
    _, err = await proc.communicate()
    raise AssertionError(f"edge did not become ready: {err.decode()}")


@pytest.fixture
async def edge_process(origin: Origin) -> AsyncIterator[EdgeProcess]:
    edge = await start_edge(origin.url, "--workers", "1")  # the serving process itself
    yield edge
    if edge.proc.returncode is None:
        edge.proc.kill()
        await edge.proc.wait()


async def test_bad_config_exits_2_naming_the_field(tmp_path: Path):
    config = tmp_path / "edge.toml"
    config.write_text('[[origins]]\nurl = "ftp://origin.example"\n')
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", "--config", str(config), stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    assert proc.returncode == 2
    assert "$.origins[0].url: must be an http(s) URL" in err.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "timeouts.connect=-1"], "$.timeouts.connect: Expected `float` > 0.0"),
        (["--set", "cache.sizes=3"], "$.cache: Object contains unknown field `sizes`"),
        (["--listen", "nowhere"], "$.listen[0]: must be HOST:PORT"),
    ],
)
async def test_bad_flags_exit_2(args: list[str], message: str):
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", "--origin", "http://127.0.0.1:9", *args, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    assert proc.returncode == 2
    assert message in err.decode()


async def test_big_body_is_streamed_byte_identical_with_bounded_memory(
    edge_process: EdgeProcess, origin: Origin
):
    big = origin.state.files / "big.ts"
    digest = hashlib.sha256()
    with big.open("wb") as f:
        for _ in range(BIG // (1024 * 1024)):
            block = os.urandom(1024 * 1024)
            digest.update(block)
            f.write(block)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{edge_process.url}/files/seg.ts") as r:
            await r.read()  # warm up: first-request allocations are not streaming cost
        baseline = edge_process.rss_kib()
        peak = baseline
        received = hashlib.sha256()
        size = 0
        async with session.get(f"{edge_process.url}/files/big.ts") as r:
            assert r.status == 200
            # A reader slower than the origin: without backpressure the edge would buffer.
            while chunk := await r.content.read(256 * 1024):
                received.update(chunk)
                size += len(chunk)
                if size % (4 * 1024 * 1024) < 256 * 1024:
                    peak = max(peak, edge_process.rss_kib())
                await asyncio.sleep(0.002)
    assert size == BIG
    assert received.hexdigest() == digest.hexdigest()
    growth_mib = (peak - baseline) / 1024
    assert growth_mib < 24, f"RSS grew by {growth_mib:.1f} MiB for a {BIG >> 20} MiB body"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
@pytest.mark.parametrize(("env", "most"), [({}, 5), ({"MALLOC_PERTURB_": "0"}, None)])
async def test_relaying_segments_reuses_the_heap_unless_the_operator_tunes_malloc(
    origin: Origin, env: dict[str, str], most: int | None
):
    """The kept heap (``server/memory.py``) takes next to no page faults per relayed segment
    once warm; glibc's default, which an operator's MALLOC_* setting keeps, takes dozens."""
    (origin.state.files / "seg.ts").write_bytes(os.urandom(520 * 1024))
    quiet = ("--set", "log.access_log=false")  # nothing reads its stdout
    inherited = {k: v for k, v in os.environ.items() if not operator_tuned({k: v})}
    edge = await start_edge(origin.url, "--workers", "1", *quiet, env=inherited | env)
    try:
        async with aiohttp.ClientSession() as session:

            async def fetch() -> None:
                async with session.get(f"{edge.url}/files/seg.ts") as r:
                    assert len(await r.read()) == 520 * 1024

            async def rounds(n: int) -> None:
                for _ in range(n):
                    await asyncio.gather(*(fetch() for _ in range(32)))
                    await asyncio.sleep(0.01)  # the requests in flight fall to none

            await rounds(5)
            before = edge.page_faults()
            await rounds(20)
            per_request = (edge.page_faults() - before) / (20 * 32)
    finally:
        edge.proc.kill()
        await edge.proc.wait()
    if most is None:
        assert per_request > 20
    else:
        assert per_request < most


async def test_sigterm_drains_in_flight_requests_then_exits_0(
    edge_process: EdgeProcess, origin: Origin
):
    async with aiohttp.ClientSession() as session:
        slow = asyncio.ensure_future(session.get(f"{edge_process.url}/slow/1.5"))
        await asyncio.sleep(0.3)
        edge_process.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(f"{edge_process.url}/files/seg.ts") as r:
                await r.read()
        response = await slow
        assert response.status == 200
        assert await response.text() == "finally\n"
        response.release()
    out, err = await asyncio.wait_for(edge_process.proc.communicate(), timeout=10)
    assert edge_process.proc.returncode == 0, err.decode()
    lines = [json.loads(line) for line in out.decode().splitlines()]
    slow_line = next(line for line in lines if line["path"] == "/slow/1.5")
    assert slow_line["status"] == 200
    assert slow_line["route"] == "passthrough"
    assert slow_line["duration_ms"] > 1000
    assert set(slow_line) >= {"method", "bytes", "cache", "origin_ms", "time"}


async def test_config_command_prints_the_effective_config(tmp_path: Path):
    config = tmp_path / "edge.toml"
    config.write_text('[[origins]]\nurl = "http://127.0.0.1:9000"\n[timeouts]\nconnect = 0.5\n')
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        "config",
        "--config",
        str(config),
        "--set",
        "cache.default_ttl=4",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "EDGE_ASSEMBLER__TIMEOUTS__TOTAL": "7"},
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    effective = json.loads(out)
    assert effective["timeouts"] == {"connect": 0.5, "first_byte": 5.0, "total": 7.0, "idle": 30.0}
    assert effective["cache"]["default_ttl"] == 4.0


def test_the_shipped_example_config_states_the_defaults():
    text = (Path(__file__).parents[2] / "deploy" / "edge.toml").read_text()
    config = load_config(text, source="deploy/edge.toml")
    assert config == NodeConfig(origins=(OriginConfig(url="http://127.0.0.1:9000"),))
