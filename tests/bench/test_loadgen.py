"""The load tools against real loopback servers: wrk's summary comes back whole, the open
loop keeps its arrival rate, reads every framing, counts errors, and shows a stall in the
latency of the requests queued behind it (coordinated-omission correction)."""

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from time import perf_counter

import pytest
from aiohttp import web

from bench import loadgen
from bench.loadgen import LoadToolMissing, closed_loop, combine, open_loop, open_sample, wrk_version
from bench.model import OpenLoop
from edge_assembler.server.runner import urls

DELAY = 0.005


@dataclass
class Served:
    url: str
    paths: Counter[str] = field(default_factory=Counter)
    stall_at: int = 0  # the request number that stalls the server (0: never)
    stall_until: float = 0.0


@pytest.fixture
async def server() -> AsyncIterator[Served]:
    served = Served("")

    async def delayed(request: web.Request) -> web.Response:
        served.paths[request.path] += 1
        loop = asyncio.get_running_loop()
        if sum(served.paths.values()) == served.stall_at:
            served.stall_until = loop.time() + 0.5
        await asyncio.sleep(max(served.stall_until - loop.time(), 0) + DELAY)
        return web.Response(text="ok")

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"first ", b"second ", b"x" * 70_000):
            await response.write(part)
        await response.write_eof()
        return response

    async def closing(request: web.Request) -> web.Response:
        response = web.Response(text="bye")
        response.force_close()
        return response

    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=500, text="no")

    app = web.Application()
    app.router.add_get("/delay/{name}", delayed)
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/close", closing)
    app.router.add_get("/fail", failing)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    served.url = urls(runner)[0]
    yield served
    await runner.cleanup()


async def test_closed_loop_reports_wrk_summary(server: Served) -> None:
    paths = ["/delay/a", "/delay/b", "/delay/c?x=1"]
    result = await asyncio.to_thread(
        closed_loop, [server.url + p for p in paths], seconds=1, connections=4
    )
    assert result.requests > 0
    assert result.rps > 0
    assert result.errors == 0
    assert result.connections == 4
    assert 0.9 < result.seconds < 2
    assert result.latency.p50 >= DELAY * 1000
    assert result.latency.p50 <= result.latency.p99 <= result.latency.max
    assert set(server.paths) == {"/delay/a", "/delay/b", "/delay/c"}


def test_closed_loop_names_the_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loadgen, "WRK", loadgen.WRK.with_name("no-such-wrk"))
    with pytest.raises(LoadToolMissing, match="wrk package"):
        closed_loop(["http://127.0.0.1:9/"], seconds=1, connections=1)
    with pytest.raises(LoadToolMissing, match="wrk package"):
        wrk_version()


def test_wrk_version_is_the_upstream_release() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", wrk_version())


def test_urls_must_share_one_server() -> None:
    with pytest.raises(ValueError, match="same"):
        closed_loop(["http://127.0.0.1:1/a", "http://127.0.0.1:2/b"], seconds=1, connections=1)


def assert_sorted_histogram(result: OpenLoop) -> None:
    percentiles = [p for p, _ in result.histogram]
    latencies = [ms for _, ms in result.histogram]
    assert percentiles == sorted(percentiles)
    assert latencies == sorted(latencies)
    assert percentiles[-1] == 100
    assert latencies[-1] == pytest.approx(result.latency.max)


async def test_open_loop_keeps_the_arrival_rate(server: Served) -> None:
    result = await open_loop(
        [server.url + "/delay/a", server.url + "/delay/b"], rate=200, seconds=2
    )
    assert result.requests == 400
    assert result.errors == 0
    assert result.achieved_rps == pytest.approx(200, rel=0.1)
    assert result.latency.p50 >= DELAY * 1000
    assert result.latency.p50 <= result.latency.p90 <= result.latency.p99 <= result.latency.max
    assert server.paths == {"/delay/a": 200, "/delay/b": 200}
    assert_sorted_histogram(result)


async def test_open_loop_sends_each_request_at_its_intended_time(
    server: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests 1 ms apart leave within a fraction of a millisecond of their intended times,
    not at the event loop's next millisecond tick: the generator's own lateness would be in
    every latency it reports."""
    lateness: list[float] = []
    send = loadgen._Connection.send

    def timed(conn: loadgen._Connection, request: bytes, intended: float) -> None:
        lateness.append(perf_counter() - intended)
        send(conn, request, intended)

    monkeypatch.setattr(loadgen._Connection, "send", timed)
    result = await open_loop([server.url + "/delay/t"], rate=1000, seconds=1, connections=16)
    assert result.errors == 0
    # A pause of the virtual machine makes the few requests due during it late; 1 % at most.
    assert result.late_sends <= 10
    assert len(lateness) == 1000
    lateness.sort()
    assert lateness[0] >= 0  # never early
    assert lateness[500] < 0.0002
    assert lateness[900] < 0.0005


async def test_open_loop_counts_the_wait_behind_a_stall(server: Served) -> None:
    """The server stops for 0.5 s a quarter of the way in. Of 400 requests, the 8 in flight
    see the stall; the ~100 due during it wait for a connection, and that wait is theirs too:
    without the correction only 2 % of the requests would be slow and p90 would stay ~5 ms."""
    server.stall_at = 100
    result = await open_loop([server.url + "/delay/s"], rate=200, seconds=2, connections=8)
    assert result.errors == 0
    assert result.latency.max >= 500
    assert result.latency.p99 >= 400
    assert result.latency.p90 >= 100


async def test_open_loop_runs_combine_into_one_histogram(server: Served) -> None:
    """Runs taken apart (the benchmark interleaves the systems) make one result: counts add
    up and the percentiles are those of all their latencies together; a stall in one run
    shows in the whole."""
    calm = await open_sample([server.url + "/delay/c"], rate=200, seconds=1, connections=8)
    server.stall_at = sum(server.paths.values()) + 50
    stalled = await open_sample([server.url + "/delay/s"], rate=200, seconds=1, connections=8)
    both = combine([calm, stalled])
    assert both.requests == calm.requests + stalled.requests == 400
    assert both.errors == 0
    assert both.target_rps == pytest.approx(200)
    assert both.seconds == pytest.approx(calm.seconds + stalled.seconds)
    assert both.achieved_rps == pytest.approx(400 / both.seconds)
    every = sorted([*calm.latencies, *stalled.latencies])
    assert both.latency.max == pytest.approx(every[-1] * 1000, rel=0.01)
    assert both.latency.p50 == pytest.approx(every[len(every) // 2 - 1] * 1000, rel=0.01)
    assert combine([calm]).latency.max < 100 <= both.latency.p90  # 100 ms: not in ``calm``
    assert_sorted_histogram(both)
    with pytest.raises(ValueError, match="no open-loop runs"):
        combine([])


@pytest.mark.parametrize(
    ("path", "errors"),
    [("/chunked", 0), ("/close", 0), ("/fail", 40)],
    ids=["chunked-body", "connection-close", "status-500"],
)
async def test_open_loop_reads_each_response(server: Served, path: str, errors: int) -> None:
    result = await open_loop([server.url + path], rate=200, seconds=0.2, connections=2)
    assert result.requests == 40
    assert result.errors == errors
    assert result.achieved_rps > 100


Responder = Callable[[asyncio.StreamWriter], Awaitable[None]]
RawServer = Callable[[Responder], Awaitable[str]]


@pytest.fixture
async def raw_server() -> AsyncIterator[RawServer]:
    """A loopback server writing hand-made responses (framings aiohttp does not send)."""
    servers: list[asyncio.Server] = []

    async def start(respond: Responder) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while await reader.readuntil(b"\r\n\r\n"):
                    await respond(writer)
                    if writer.is_closing():
                        break
            except asyncio.IncompleteReadError:
                pass
            finally:
                writer.close()
                await writer.wait_closed()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def write_in_pieces(writer: asyncio.StreamWriter, data: bytes, cuts: list[int]) -> None:
    """Write ``data`` split at ``cuts`` with a pause between pieces, so that the reader gets
    heads, chunk lines and bodies in fragments."""
    for start, stop in zip([0, *cuts], [*cuts, len(data)], strict=True):
        writer.write(data[start:stop])
        await writer.drain()
        await asyncio.sleep(0.002)


CHUNKED = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
)


async def test_open_loop_reads_fragmented_and_interim_responses(raw_server: RawServer) -> None:
    async def respond(writer: asyncio.StreamWriter) -> None:
        await write_in_pieces(writer, CHUNKED, [10, 30, 62, 70, 95, 100])

    url = await raw_server(respond)
    result = await open_loop([url], rate=100, seconds=0.2, connections=2)
    assert (result.requests, result.errors) == (20, 0)


async def test_open_loop_reads_a_body_that_ends_with_the_connection(raw_server: RawServer) -> None:
    async def respond(writer: asyncio.StreamWriter) -> None:
        await write_in_pieces(writer, b"HTTP/1.0 200 OK\r\nServer: raw\r\n\r\nuntil close", [40])
        writer.close()

    url = await raw_server(respond)
    result = await open_loop([url], rate=100, seconds=0.2, connections=2)
    assert (result.requests, result.errors) == (20, 0)
