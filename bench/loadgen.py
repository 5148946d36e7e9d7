"""Load tools: the maximum throughput (closed loop, Debian's wrk) and the latency at a fixed
arrival rate (open loop, coordinated-omission corrected, in this process's event loop).

Closed loop: wrk keeps every connection busy and reports what it completed; a slow response
delays the requests behind it, so its latencies are not corrected. Open loop: request i is due
at ``start + i / rate`` whatever happened before it; its latency runs from that intended time
to the end of its response, so waiting for a free connection behind a slow response counts
(Gil Tene, "How NOT to Measure Latency"). Event-loop timers count milliseconds, so the
generator wakes a little early and spins through the rest of the wait, yielding the CPU at
every turn (sched_yield(2)) so that the origins sharing it run at once: a request leaves
within microseconds of its intended time, and the timer's millisecond does not blur the
latencies of servers that answer in less. ``late_sends`` counts requests that left more than
1 ms late while a connection was free for them.
"""

import asyncio
import json
import os
import re
import subprocess
import tempfile
from array import array
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import cast
from urllib.parse import urlsplit

from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

from bench.model import ClosedLoop, OpenLoop, Percentiles
from edge_assembler.tasks import spawn

WRK = Path("/usr/bin/wrk")
WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")
LOWEST_US, HIGHEST_US, DIGITS = 1, 60_000_000, 3  # HDR histogram: 1 µs .. 60 s, 3 digits
LATE_SECONDS = 0.001  # a send later than this after it was possible counts as a late send
DRAIN_SECONDS = 10.0  # after the last intended time, unfinished requests are errors
RECONNECT_SECONDS = 0.05
TIMER_SECONDS = 0.001  # event loop timers count milliseconds
SPIN_SECONDS = 2 * TIMER_SECONDS  # a shorter wait spins; a timer may fire a tick late


class LoadToolMissing(RuntimeError):
    """The closed-loop tool is not installed."""


@dataclass(frozen=True, slots=True)
class Target:
    """One server (host and port) and the request targets to cycle through."""

    host: str
    port: int
    paths: tuple[str, ...]

    @classmethod
    def of(cls, urls: Sequence[str]) -> "Target":
        if not urls:
            raise ValueError("no URLs to request")
        parts = [urlsplit(url) for url in urls]
        if any(p.scheme != "http" or p.hostname is None for p in parts):
            raise ValueError("only http://host:port/... URLs are supported")
        if len({p.netloc for p in parts}) != 1:
            raise ValueError("all URLs must name the same scheme://host:port")
        paths = tuple((p.path or "/") + (f"?{p.query}" if p.query else "") for p in parts)
        return cls(parts[0].hostname or "", parts[0].port or 80, paths)

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def requests(self) -> list[bytes]:
        """Each path's whole HTTP/1.1 request, encoded once."""
        return [
            f"GET {path} HTTP/1.1\r\nHost: {self.netloc}\r\n\r\n".encode("ascii")
            for path in self.paths
        ]


def wrk_version() -> str:
    """wrk's upstream version ("4.1.0" for Debian's 4.1.0-3+b2)."""
    _require_wrk()
    banner = subprocess.run([str(WRK), "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"^wrk (?:\S*/)?(\d+(?:\.\d+)+)", banner.stdout, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"unexpected wrk --version output: {banner.stdout!r}")
    return found[1]


def _require_wrk() -> None:
    if not WRK.is_file():
        raise LoadToolMissing(
            f"{WRK} not found: install Debian's wrk package (apt-get install wrk; make bench does)"
        )


def closed_loop(
    urls: Sequence[str], *, seconds: float, connections: int, threads: int = 1
) -> ClosedLoop:
    """Run wrk for ``seconds`` (whole seconds, at least 1) over ``connections`` connections,
    cycling through ``urls``; errors are socket errors and responses with status >= 400."""
    target = Target.of(urls)
    _require_wrk()
    if not 1 <= threads <= connections:
        raise ValueError("wrk needs 1 <= threads <= connections")
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        paths_file = Path(tmp, "paths")
        paths_file.write_text("".join(f"{path}\n" for path in target.paths), encoding="ascii")
        done = subprocess.run(
            [
                str(WRK),
                f"--threads={threads}",
                f"--connections={connections}",
                f"--duration={max(1, round(seconds))}s",
                "--latency",
                f"--script={WRK_SCRIPT}",
                f"http://{target.netloc}/",
                "--",
                str(paths_file),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("wrk-json ")]
    if done.returncode != 0 or len(lines) != 1:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    summary = json.loads(lines[0].removeprefix("wrk-json "))
    run_seconds = summary["duration_us"] / 1e6
    errors = sum(summary[k] for k in ("connect", "read", "write", "timeout", "status"))
    return ClosedLoop(
        rps=summary["requests"] / run_seconds,
        requests=summary["requests"],
        errors=errors,
        connections=connections,
        seconds=run_seconds,
        latency=Percentiles(*(summary[k] / 1000 for k in ("p50", "p90", "p99", "p999", "max"))),
    )


@dataclass(frozen=True, slots=True)
class OpenSample:
    """One open-loop run's raw outcome; ``combine`` makes the figures of one or more."""

    rate: float
    requests: int
    responses: int  # finished with a whole response, whatever its status
    errors: int
    late_sends: int
    seconds: float  # from the first intended time to the last response
    latencies: "array[float]"  # seconds, from each request's intended time


async def open_loop(
    urls: Sequence[str], *, rate: float, seconds: float, connections: int = 32
) -> OpenLoop:
    """Send ``rate * seconds`` GETs cycling through ``urls`` at their intended times over
    ``connections`` keep-alive connections; a request waits for a free connection when none
    is, and that wait is part of its latency. Errors: failed requests and responses other
    than 2xx or 304 (their latency is recorded too)."""
    return combine([await open_sample(urls, rate=rate, seconds=seconds, connections=connections)])


async def open_sample(
    urls: Sequence[str], *, rate: float, seconds: float, connections: int = 32
) -> OpenSample:
    """``open_loop``'s run, unsummarised: runs at the same rate can be ``combine``d."""
    if rate <= 0 or seconds <= 0 or connections < 1:
        raise ValueError("rate, seconds and connections must be positive")
    target = Target.of(urls)
    loop = asyncio.get_running_loop()
    run = _Run(loop, target, rate, max(1, round(rate * seconds)))
    try:
        for _ in range(connections):
            await run.connect()
        run.start = perf_counter()  # not loop.time(): uvloop's counts whole milliseconds
        run.pump(run.start)
        try:
            deadline = run.intended(run.total - 1) + DRAIN_SECONDS
            async with asyncio.timeout(deadline - perf_counter()):
                await run.done
        except TimeoutError:
            run.abandon(perf_counter())
    finally:
        await run.close()
    return OpenSample(
        rate=rate,
        requests=run.total,
        responses=run.responses,
        errors=run.errors,
        late_sends=run.late_sends,
        seconds=max(run.last - run.start, 1 / rate),
        latencies=run.latencies,
    )


def combine(samples: Sequence[OpenSample]) -> OpenLoop:
    """The figures of one or more open-loop runs, their latencies in one HDR histogram."""
    if not samples:
        raise ValueError("no open-loop runs to combine")
    histogram = HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)
    for sample in samples:
        for seconds in sample.latencies:
            histogram.record_value(min(max(round(seconds * 1e6), LOWEST_US), HIGHEST_US))
    requests = sum(s.requests for s in samples)
    elapsed = sum(s.seconds for s in samples)

    def ms(us: int) -> float:
        return us / 1000

    return OpenLoop(
        target_rps=requests / sum(s.requests / s.rate for s in samples),
        achieved_rps=sum(s.responses for s in samples) / elapsed,
        requests=requests,
        errors=sum(s.errors for s in samples),
        seconds=elapsed,
        latency=Percentiles(
            p50=ms(histogram.get_value_at_percentile(50)),
            p90=ms(histogram.get_value_at_percentile(90)),
            p99=ms(histogram.get_value_at_percentile(99)),
            p999=ms(histogram.get_value_at_percentile(99.9)),
            max=ms(histogram.get_max_value()),
        ),
        histogram=[
            (float(step.percentile_level_iterated_to), ms(step.value_iterated_to))
            for step in histogram.get_percentile_iterator(5)
        ],
        late_sends=sum(s.late_sends for s in samples),
    )


# Response reader states (RFC 9112 §6: message body length).
_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _TRAILERS, _UNTIL_CLOSE = range(6)


class _Run:
    """The schedule, the free connections and the results of one open-loop run."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, target: Target, rate: float, total: int
    ) -> None:
        self.loop = loop
        self.target = target
        self.requests = target.requests()
        self.rate = rate
        self.total = total
        self.start = 0.0
        self.sent = 0  # requests 0 .. sent-1 are on the wire or finished
        self.finished = 0
        self.responses = 0  # finished with a whole response, whatever its status
        self.errors = 0
        self.late_sends = 0
        self.last = 0.0
        self.latencies = array("d")  # seconds, recorded into the histogram after the run
        self.idle: deque[_Connection] = deque()  # oldest free first: spreads over connections
        self.connections: set[_Connection] = set()
        self.timer: asyncio.Handle | None = None
        self.done: asyncio.Future[None] = loop.create_future()
        self.closing = False
        self.reconnecting: set[asyncio.Task[None]] = set()

    def intended(self, i: int) -> float:
        return self.start + i / self.rate

    async def connect(self) -> None:
        _, conn = await self.loop.create_connection(
            lambda: _Connection(self), self.target.host, self.target.port
        )
        conn.idle_since = perf_counter()
        self.idle.append(conn)

    def pump(self, now: float) -> None:
        """Send every due request on a free connection; wake up when the next one is due."""
        idle, requests = self.idle, self.requests
        while idle and self.sent < self.total:
            intended = self.start + self.sent / self.rate
            if intended > now:
                if self.timer is None:
                    wait = intended - now
                    if wait > SPIN_SECONDS:
                        self.timer = self.loop.call_later(wait - SPIN_SECONDS, self._tick)
                    else:
                        self.timer = self.loop.call_soon(self._spin)
                return
            conn = idle.popleft()
            if now - max(intended, conn.idle_since) > LATE_SECONDS:
                self.late_sends += 1
            conn.send(requests[self.sent % len(requests)], intended)
            self.sent += 1

    def _tick(self) -> None:
        self.timer = None
        self.pump(perf_counter())

    def _spin(self) -> None:
        """One turn of the wait for a request due within ``SPIN_SECONDS``: the loop polls
        its sockets between turns."""
        os.sched_yield()
        self._tick()

    def record(self, intended: float, now: float, ok: bool, response: bool) -> None:
        self.latencies.append(now - intended)
        if not ok:
            self.errors += 1
        if response:
            self.responses += 1
        self.finished += 1
        self.last = now
        if self.finished == self.total and not self.done.done():
            self.done.set_result(None)

    def released(self, conn: "_Connection", now: float) -> None:
        conn.idle_since = now
        self.idle.append(conn)
        self.pump(now)

    def lost(self, conn: "_Connection") -> None:
        self.connections.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        if not self.closing:
            task = spawn(self._reconnect())
            self.reconnecting.add(task)
            task.add_done_callback(self.reconnecting.discard)

    async def _reconnect(self) -> None:
        while True:
            try:
                await self.connect()
            except OSError:
                await asyncio.sleep(RECONNECT_SECONDS)
            else:
                self.pump(perf_counter())
                return

    def abandon(self, now: float) -> None:
        """Count every request still unanswered at the deadline as an error."""
        for conn in self.connections:
            if conn.busy:
                conn.busy = False
                self.record(conn.intended, now, ok=False, response=False)
        while self.sent < self.total:
            self.record(self.intended(self.sent), now, ok=False, response=False)
            self.sent += 1

    async def close(self) -> None:
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()
        for task in list(self.reconnecting):
            task.cancel()
        await asyncio.gather(*self.reconnecting, return_exceptions=True)
        closed = [conn.closed for conn in self.connections]
        for conn in list(self.connections):
            conn.abort()
        await asyncio.gather(*closed)


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with at most one request in flight, and a minimal
    response reader: status line, headers, then a Content-Length, chunked or until-close body
    (RFC 9112 §6.3)."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = run.loop.create_future()
        self.busy = False
        self.intended = 0.0
        self.idle_since = 0.0
        self.state = _HEAD
        self.remaining = 0  # bytes left of the body or the current chunk (with its CRLF)
        self.status = 0
        self.keep_alive = True
        self.partial = b""  # an incomplete head or chunk line

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.run.connections.add(self)

    def send(self, request: bytes, intended: float) -> None:
        assert self.transport is not None
        self.busy = True
        self.intended = intended
        self.state = _HEAD
        self.transport.write(request)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if not self.busy:  # nothing was asked: the connection is out of step
            self.abort()
            return
        if self.partial:
            data, self.partial = self.partial + data, b""
        pos, end = 0, len(data)
        while True:
            state = self.state
            if state in (_BODY, _CHUNK_DATA):
                take = min(self.remaining, end - pos)
                pos += take
                self.remaining -= take
                if self.remaining:
                    return
                if state == _BODY:
                    break
                self.state = _CHUNK_SIZE
            elif state == _UNTIL_CLOSE:
                return
            elif state == _HEAD:
                stop = data.find(b"\r\n\r\n", pos)
                if stop < 0:
                    self.partial = data[pos:]
                    return
                if not self._head(data[pos:stop]):
                    self._fail()
                    return
                pos = stop + 4
            else:  # a chunk-size line or a trailer line
                stop = data.find(b"\r\n", pos)
                if stop < 0:
                    self.partial = data[pos:]
                    return
                line, pos = data[pos:stop], stop + 2
                if state == _TRAILERS:
                    if not line:
                        break
                    continue
                try:
                    size = int(line.split(b";", 1)[0], 16)
                except ValueError:
                    self._fail()
                    return
                self.state, self.remaining = (_CHUNK_DATA, size + 2) if size else (_TRAILERS, 0)
        self._finish(extra=pos < end)

    def _head(self, head: bytes) -> bool:
        """Read the status line and the framing headers; False if it is not HTTP/1.x."""
        if not head.startswith(b"HTTP/1.") or len(head) < 12 or not head[9:12].isdigit():
            return False
        self.status = status = int(head[9:12])
        if status < 200:  # interim response (RFC 9110 §15.2): the real one follows
            return True
        lower = head.lower()
        connection = _header(lower, b"connection")
        self.keep_alive = (
            b"close" not in connection if head[7:8] == b"1" else b"keep-alive" in connection
        )
        if status in (204, 304):
            self.state, self.remaining = _BODY, 0
        elif b"chunked" in _header(lower, b"transfer-encoding"):
            self.state = _CHUNK_SIZE
        elif length := _header(lower, b"content-length"):
            if not length.isdigit():
                return False
            self.state, self.remaining = _BODY, int(length)
        else:
            self.state, self.keep_alive = _UNTIL_CLOSE, False
        return True

    def _finish(self, *, extra: bool = False) -> None:
        """The response is complete; bytes after it (``extra``) mean the connection is out
        of step and is closed."""
        now = perf_counter()
        self.busy = False
        status = self.status
        self.run.record(self.intended, now, 200 <= status < 300 or status == 304, True)
        if self.keep_alive and not extra:
            self.run.released(self, now)
        else:
            self.abort()

    def _fail(self) -> None:
        self.busy = False
        self.run.record(self.intended, perf_counter(), ok=False, response=False)
        self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.busy:
            if self.state == _UNTIL_CLOSE and exc is None:
                self._finish()
            else:
                self._fail()
        self.closed.set_result(None)
        self.run.lost(self)


def _header(lower_head: bytes, name: bytes) -> bytes:
    """The value of header ``name`` in a lower-cased response head, or b""."""
    start = lower_head.find(b"\r\n" + name + b":")
    if start < 0:
        return b""
    start += len(name) + 3
    stop = lower_head.find(b"\r\n", start)
    return lower_head[start : stop if stop >= 0 else len(lower_head)].strip()
