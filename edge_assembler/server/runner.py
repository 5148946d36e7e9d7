"""Running the edge: listening sockets, uvloop, and a bounded drain on SIGTERM."""

import asyncio
import logging
import signal

from aiohttp import web

from edge_assembler.config import NodeConfig
from edge_assembler.server.app import create_app
from edge_assembler.server.logs import ACCESS_LOGGER, AccessLogger
from edge_assembler.server.state import READINESS

log = logging.getLogger("edge_assembler.server")


async def start(
    app: web.Application,
    config: NodeConfig,
    access_log_class: type[AccessLogger] = AccessLogger,
) -> web.AppRunner:
    """Start serving ``app`` on every configured listen address."""
    runner = web.AppRunner(
        app,
        handler_cancellation=True,  # a client that goes away cancels its origin fetch
        shutdown_timeout=config.drain_timeout,
        access_log_class=access_log_class,
        access_log=logging.getLogger(ACCESS_LOGGER) if config.log.access_log else None,
    )
    await runner.setup()
    for host, port in config.listen_addresses():
        site = web.TCPSite(runner, host or None, port, backlog=1024)
        await site.start()
    return runner


def urls(runner: web.AppRunner) -> list[str]:
    """The base URL of every bound socket (ports resolved when 0 was asked for)."""
    out = []
    for address in runner.addresses:
        host, port = address[0], address[1]
        out.append(f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}")
    return out


async def serve(config: NodeConfig, access_log_class: type[AccessLogger]) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting, drain in-flight requests for at
    most ``drain_timeout`` seconds, and return."""
    app = create_app(config)
    runner = await start(app, config, access_log_class)
    log.info("edge listening on %s", ", ".join(urls(runner)))
    await wait_for_signal()
    log.info("draining (at most %.1f s)", config.drain_timeout)
    app[READINESS].draining = True
    await runner.cleanup()
    log.info("stopped")


async def wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
