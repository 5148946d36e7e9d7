"""Running the edge: listening sockets, uvloop, and a bounded drain on SIGTERM."""

import asyncio
import logging
import os
import signal
import socket
import sys

from aiohttp import web

from edge_assembler.config import NodeConfig
from edge_assembler.server.app import create_app
from edge_assembler.server.logs import ACCESS_LOGGER, AccessLogger
from edge_assembler.server.memory import freeze_startup, keep_heap
from edge_assembler.server.state import READINESS

log = logging.getLogger("edge_assembler.server")

# Names the worker process that answered (``serve --workers N``, N > 1).
WORKER_HEADER = "X-Edge-Worker"
BACKLOG = 1024
# How long connections taken from the accept queue at shutdown get for their request to
# arrive (seconds): the client sent it right after connecting.
QUEUED_REQUEST_WAIT = 0.05
LISTENERS = web.AppKey("listeners", list[socket.socket])


async def start(
    app: web.Application,
    config: NodeConfig,
    access_log_class: type[AccessLogger] = AccessLogger,
    *,
    reuse_port: bool = False,
) -> web.AppRunner:
    """Start serving ``app`` on every configured listen address; with ``reuse_port`` the
    ports are shared with the other processes that bind them (SO_REUSEPORT)."""
    runner = web.AppRunner(
        app,
        handler_cancellation=True,  # a client that goes away cancels its origin fetch
        shutdown_timeout=config.drain_timeout,
        access_log_class=access_log_class,
        access_log=logging.getLogger(ACCESS_LOGGER) if config.log.access_log else None,
    )
    sockets = app[LISTENERS] = []  # set before the app is frozen, filled after
    await runner.setup()
    try:
        for host, port in config.listen_addresses():
            bind(sockets, host, port, share=reuse_port, probe=False)
        for sock in sockets:
            await web.SockSite(runner, sock, backlog=BACKLOG).start()
    except BaseException:
        for sock in sockets:
            sock.close()
        await runner.cleanup()
        raise
    return runner


def bind(sockets: list[socket.socket], host: str, port: int, *, share: bool, probe: bool) -> int:
    """Bind ``host`` (every interface when empty) on ``port``, or on one free port for all
    of its addresses when ``port`` is 0, appending the sockets to ``sockets``; the port.
    ``share`` sets SO_REUSEPORT; ``probe`` first binds without it, so that a port held by
    another process is an error."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    for family, kind, proto, _, address in sorted(set(infos), key=lambda info: info[0]):
        if probe:
            with socket.socket(family, kind, proto) as trial:
                _set_options(trial, reuse_port=False)
                trial.bind((address[0], port, *address[2:]))
                port = trial.getsockname()[1]
        sock = socket.socket(family, kind, proto)
        sockets.append(sock)
        _set_options(sock, reuse_port=share)
        sock.bind((address[0], port, *address[2:]))
        port = sock.getsockname()[1]
    return port


def _set_options(sock: socket.socket, *, reuse_port: bool) -> None:
    """The options asyncio's ``create_server`` sets, so the workers' sockets can join."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)


async def stop_listening(app: web.Application, runner: web.AppRunner) -> None:
    """Stop accepting without resetting the connections already in the kernel's accept
    queues, as closing a listening socket would: with a backlog of 0 the kernel drops new
    SYNs (the client retries, and is refused once the socket is closed), the queued
    connections are accepted and handed to the server, then their requests get a moment to
    arrive before the drain closes idle connections."""
    loop, server = asyncio.get_running_loop(), runner.server
    assert server is not None, "the runner is set up"
    accepted = 0
    for sock in app[LISTENERS]:
        try:
            sock.setblocking(False)
            sock.listen(0)
        except OSError:
            continue  # closed already
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:  # BlockingIOError: the queue is empty
                break
            conn.setblocking(False)
            await loop.connect_accepted_socket(server, conn)
            accepted += 1
    for site in list(runner.sites):
        await site.stop()
    if accepted:
        log.info("accepted %d queued connections before closing the listeners", accepted)
        await asyncio.sleep(QUEUED_REQUEST_WAIT)


def urls(runner: web.AppRunner) -> list[str]:
    """The base URL of every bound socket (ports resolved when 0 was asked for)."""
    out = []
    for address in runner.addresses:
        host, port = address[0], address[1]
        out.append(f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}")
    return out


async def serve(
    config: NodeConfig, access_log_class: type[AccessLogger], *, worker: bool = False
) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting, drain in-flight requests for at
    most ``drain_timeout`` seconds, and return.

    As a ``worker`` of ``serve --workers N``: the ports are shared with the other workers,
    answers carry the process id in ``X-Edge-Worker``, and the end of stdin (the supervisor
    is gone) stops the worker as SIGTERM does."""
    keep_heap()
    app = create_app(config)
    if worker:
        app.on_response_prepare.append(_worker_header)
    runner = await start(app, config, access_log_class, reuse_port=worker)
    freeze_startup()
    log.info("edge listening on %s", ", ".join(urls(runner)))
    await wait_for_signal(eof_fd=sys.stdin.fileno() if worker else None)
    log.info("draining (at most %.1f s)", config.drain_timeout)
    app[READINESS].draining = True
    await stop_listening(app, runner)
    await runner.cleanup()
    log.info("stopped")


async def _worker_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[WORKER_HEADER] = str(os.getpid())


async def wait_for_signal(eof_fd: int | None = None) -> None:
    """Wait for SIGTERM or SIGINT, or for the end of the file ``eof_fd`` reads from."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if eof_fd is not None:
        loop.add_reader(eof_fd, _stop_at_eof, eof_fd, stop)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if eof_fd is not None:
            loop.remove_reader(eof_fd)


def _stop_at_eof(fd: int, stop: asyncio.Event) -> None:
    if not os.read(fd, 4096):
        stop.set()
