"""The baselines the edge is measured against, each in its own process on a free loopback port.

- ``nginx(root)``: Debian's nginx serving the files under ``root`` (the pass-through floor);
- ``static_body(body, content_type)``: aiohttp + uvloop answering every GET with one body
  (the framework's floor);
- ``naive_rewriter(origin)``: aiohttp + uvloop that, per request, parses the origin's
  playlist with the ``m3u8`` library, splices an ad pod into it and dumps it again (what a
  personalising edge costs without a model or caches of its renders).

Each is an async context manager yielding a ``Running`` (base URL, process ids for RSS); on
exit the processes are stopped and reaped. ``python -m bench.servers static|rewriter ...``
is the entry point of the aiohttp children.
"""

import argparse
import asyncio
import contextlib
import grp
import math
import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import aiohttp
import m3u8
import uvloop
from aiohttp import web

NGINX = Path("/usr/sbin/nginx")
REPO_ROOT = Path(__file__).resolve().parents[1]
POD_PATH = "/vod/spot/720p/index.m3u8"
# The demo rules' VOD ad slots (rules/demo/rules/ads.toml): a pre-roll and a mid-roll at 14 s.
AD_OFFSETS = (0.0, 14.0)
START_SECONDS = 10.0
STOP_SECONDS = 5.0
HLS_TYPE = "application/vnd.apple.mpegurl"
# The media types an HLS/DASH origin announces (RFC 8216bis §4, ISO/IEC 23009-1 Annex C).
MEDIA_TYPES = {
    "m3u8": HLS_TYPE,
    "ts": "video/mp2t",
    "mpd": "application/dash+xml",
    "m4s": "video/iso.segment",
    "mp4": "video/mp4",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "vtt": "text/vtt",
}


@dataclass(frozen=True, slots=True)
class Running:
    """A started baseline: its base URL and its main process."""

    url: str
    pid: int

    @property
    def pids(self) -> list[int]:
        """The main process and its live descendants (nginx's workers), for RSS."""
        return [self.pid, *_descendants(self.pid)]


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # proc(5): "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def stop_process(
    process: asyncio.subprocess.Process, stop_signal: signal.Signals = signal.SIGTERM
) -> None:
    """``stop_signal``, then SIGKILL (to descendants too) if it has not exited in time."""
    if process.returncode is None:
        process.send_signal(stop_signal)
    try:
        await asyncio.wait_for(process.wait(), STOP_SECONDS)
    except TimeoutError:
        for pid in _descendants(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.kill()
        await process.wait()


def nginx_version() -> str:
    """The installed nginx's version ("1.22.1"), or "missing"."""
    if not NGINX.exists():
        return "missing"
    done = subprocess.run([str(NGINX), "-v"], capture_output=True, text=True, check=False)
    return done.stderr.strip().rpartition("/")[2] or "unknown"


def nginx_config(root: Path, port: int, workdir: Path, workers: int) -> str:
    """An nginx.conf serving ``root`` on 127.0.0.1:``port``, every path under ``workdir``."""
    user = ""
    if os.geteuid() == 0:
        # Workers run as the current user, not nginx's default "nobody", so they read ``root``.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
    types = "\n".join(f"        {media} {ext};" for ext, media in MEDIA_TYPES.items())
    temp = "\n".join(
        f"    {kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
master_process on;
worker_processes {workers};
{user}
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
{temp}
    types {{
{types}
    }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


async def _port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


def _prepare_nginx(root: Path, workdir: Path, workers: int) -> tuple[int, Path]:
    """Write the config for a free port; returns the port and the config's path."""
    if not NGINX.exists():
        raise RuntimeError(f"{NGINX} not found: install Debian's nginx (apt-get install nginx)")
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_config(root.resolve(), port, workdir, workers))
    return port, conf


@contextlib.asynccontextmanager
async def nginx(root: Path, *, workers: int = 1) -> AsyncIterator[Running]:
    """Debian's nginx (``/usr/sbin/nginx``) serving ``root`` with ``workers`` workers."""
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        workdir = Path(tmp)
        port, conf = _prepare_nginx(root, workdir, workers)
        error_log = workdir / "error.log"
        process = await asyncio.create_subprocess_exec(
            str(NGINX), "-p", str(workdir), "-e", str(error_log), "-c", str(conf)
        )
        try:
            deadline = asyncio.get_running_loop().time() + START_SECONDS
            # Ready: the master listens and has forked its workers (``pids`` lists them all).
            while len(_descendants(process.pid)) < workers or not await _port_open(port):
                if process.returncode is not None or asyncio.get_running_loop().time() > deadline:
                    log = error_log.read_text(errors="replace")
                    raise RuntimeError(f"nginx did not start on port {port}: {log}")
                await asyncio.sleep(0.02)
            yield Running(f"http://127.0.0.1:{port}", process.pid)
        finally:
            # SIGQUIT: graceful shutdown; the master waits for its workers before it exits.
            await stop_process(process, signal.SIGQUIT)


@contextlib.asynccontextmanager
async def _python_server(*args: str) -> AsyncIterator[Running]:
    """``python -m bench.servers *args``; ready once it prints the port it listens on."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.servers",
        *args,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), START_SECONDS)
        if not line.strip().isdigit():
            raise RuntimeError(f"bench.servers {args[0]} did not start (its stderr says why)")
        yield Running(f"http://127.0.0.1:{int(line)}", process.pid)
    finally:
        await stop_process(process, signal.SIGTERM)


@contextlib.asynccontextmanager
async def static_body(body: bytes, content_type: str) -> AsyncIterator[Running]:
    """aiohttp + uvloop answering every GET with ``body``."""
    with tempfile.NamedTemporaryFile(prefix="bench-body-") as file:
        file.write(body)
        file.flush()
        async with _python_server("static", file.name, content_type) as running:
            yield running


@contextlib.asynccontextmanager
async def naive_rewriter(
    origin: str, pod_path: str = POD_PATH, *, ad_offsets: Sequence[float] = AD_OFFSETS
) -> AsyncIterator[Running]:
    """aiohttp + uvloop splicing the pod at ``pod_path`` into ``origin``'s playlists with the
    ``m3u8`` library, parsing and dumping per request."""
    offsets = [f"--at={offset}" for offset in ad_offsets]
    async with _python_server("rewriter", origin, pod_path, *offsets) as running:
        yield running


def splice(playlist: m3u8.M3U8, pod: Sequence[m3u8.Segment], offsets: Sequence[float]) -> None:
    """Replace each cue-out break of ``playlist`` by ``pod``; with no break (a VOD), insert
    ``pod`` at each of ``offsets`` seconds. A discontinuity opens the pod (its first segment
    carries it) and the content after it (RFC 8216bis §4.4.4.3)."""
    segments: list[m3u8.Segment] = list(playlist.segments)
    spans: list[tuple[int, int]] = []  # [start, end) of each break or insertion point
    start: int | None = None
    for index, segment in enumerate(segments):
        if start is not None and (segment.cue_in or segment.cue_out_start):
            spans.append((start, index))
            start = None
        if start is None and (segment.cue_out_start or segment.cue_out):
            start = index
    if start is not None:
        spans.append((start, len(segments)))
    if not spans:
        starts = [0.0]
        for segment in segments:
            starts.append(starts[-1] + (segment.duration or 0.0))
        for offset in offsets:
            at = next((i for i, s in enumerate(starts[:-1]) if s >= offset), None)
            if at is not None:
                spans.append((at, at))
    for first, end in sorted(set(spans), reverse=True):
        if end < len(segments):
            segments[end].discontinuity = True
        segments[first:end] = pod
    playlist.segments = m3u8.SegmentList(segments)
    durations = [segment.duration or 0.0 for segment in segments]
    playlist.target_duration = max([playlist.target_duration or 0, *map(math.ceil, durations)])


async def _load_pod(
    session: aiohttp.ClientSession, origin: str, pod_path: str
) -> list[m3u8.Segment]:
    async with session.get(origin + pod_path) as response:
        response.raise_for_status()
        pod = m3u8.loads(await response.text())
    segments: list[m3u8.Segment] = list(pod.segments)
    for segment in segments:
        segment.uri = urljoin(pod_path, segment.uri)
    segments[0].discontinuity = True
    return segments


def rewriter_app(
    session: aiohttp.ClientSession,
    origin: str,
    pod: Sequence[m3u8.Segment],
    offsets: Sequence[float],
) -> web.Application:
    """The naive rewriter: origin text cached by path; parse, splice and dump per request."""
    texts: dict[str, str] = {}

    async def handle(request: web.Request) -> web.StreamResponse:
        if not request.path.endswith(".m3u8"):
            raise web.HTTPNotFound(text="the rewriter answers HLS playlists only")
        text = texts.get(request.path)
        if text is None:
            async with session.get(origin + request.path) as response:
                if response.status != 200:
                    return web.Response(status=502, text=f"origin answered {response.status}")
                text = texts[request.path] = await response.text()
        playlist = m3u8.loads(text)
        if not playlist.is_variant:
            splice(playlist, pod, offsets)
        return web.Response(text=playlist.dumps(), content_type=HLS_TYPE)

    app = web.Application()
    app.router.add_get("/{path:.*}", handle)
    return app


def static_app(body: bytes, content_type: str) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type=content_type)

    app = web.Application()
    app.router.add_get("/{path:.*}", handle)
    return app


async def _serve(app: web.Application) -> None:
    """Serve ``app`` on a free loopback port, print the port, stop on SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await stop.wait()
    await runner.cleanup()


async def _static(body: bytes, content_type: str) -> None:
    await _serve(static_app(body, content_type))


async def _rewriter(origin: str, pod_path: str, offsets: Sequence[float]) -> None:
    async with aiohttp.ClientSession() as session:
        pod = await _load_pod(session, origin, pod_path)
        await _serve(rewriter_app(session, origin, pod, offsets))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    static = commands.add_parser("static", help="answer every GET with one body")
    static.add_argument("body_file", type=Path)
    static.add_argument("content_type")
    rewriter = commands.add_parser("rewriter", help="the naive m3u8 rewriter")
    rewriter.add_argument("origin", help="origin base URL, e.g. http://127.0.0.1:8081")
    rewriter.add_argument("pod_path", help="the pod's media playlist on the origin")
    rewriter.add_argument("--at", type=float, action="append", default=[], help="VOD ad offset, s")
    args = parser.parse_args(argv)
    if args.command == "static":
        uvloop.run(_static(args.body_file.read_bytes(), args.content_type))
    else:
        uvloop.run(_rewriter(args.origin.rstrip("/"), args.pod_path, args.at))


if __name__ == "__main__":
    main()
