"""Running the edge: listening sockets, uvloop, and a bounded drain on SIGTERM."""

import asyncio
import logging
import os
import signal
import sys

from aiohttp import web

from edge_assembler.config import NodeConfig
from edge_assembler.server.app import create_app
from edge_assembler.server.logs import ACCESS_LOGGER, AccessLogger
from edge_assembler.server.state import READINESS

log = logging.getLogger("edge_assembler.server")

# Names the worker process that answered (``serve --workers N``, N > 1).
WORKER_HEADER = "X-Edge-Worker"


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
    await runner.setup()
    for host, port in config.listen_addresses():
        site = web.TCPSite(runner, host or None, port, backlog=1024, reuse_port=reuse_port or None)
        await site.start()
    return runner


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
    app = create_app(config)
    if worker:
        app.on_response_prepare.append(_worker_header)
    runner = await start(app, config, access_log_class, reuse_port=worker)
    log.info("edge listening on %s", ", ".join(urls(runner)))
    await wait_for_signal(eof_fd=sys.stdin.fileno() if worker else None)
    log.info("draining (at most %.1f s)", config.drain_timeout)
    app[READINESS].draining = True
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
