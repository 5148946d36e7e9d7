"""The app factory: one aiohttp application per node configuration."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from cachetools import LRUCache

from edge_assembler import __version__
from edge_assembler.bundles.manager import BundleManager
from edge_assembler.bundles.sources import sources_for
from edge_assembler.config import NodeConfig
from edge_assembler.core.routing import Router
from edge_assembler.metrics import Metrics
from edge_assembler.origin.cache import ManifestCache
from edge_assembler.origin.client import OriginClient
from edge_assembler.server import admin, proxy
from edge_assembler.server.middleware import cors_on_prepare, edge_middleware
from edge_assembler.server.personalise import Personaliser
from edge_assembler.server.state import (
    BUNDLES,
    CACHE,
    CONFIG,
    LEARNED,
    METRICS,
    ORIGINS,
    PERSONALISE,
    READINESS,
    ROUTER,
    Readiness,
)
from edge_assembler.tasks import spawn

CPU_REFRESH = 5.0  # seconds between updates of the cpu_seconds gauge


def create_app(
    config: NodeConfig,
    metrics: Metrics | None = None,
    *,
    bundles: BundleManager | None = None,
    extra_routes: Callable[[web.Application], None] | None = None,
) -> web.Application:
    """``bundles`` replaces the manager built from ``config.bundles`` (e.g. with a test clock).
    ``extra_routes`` adds routes ahead of the proxy's catch-all (the demo page)."""
    app = web.Application(middlewares=[edge_middleware], client_max_size=64 * 1024)
    app[CONFIG] = config
    app[METRICS] = metrics or Metrics()
    app[ROUTER] = Router(config.origin_routes())
    app[READINESS] = Readiness()
    app[LEARNED] = LRUCache(config.cache.learned_manifests)
    app[PERSONALISE] = Personaliser(config, app[METRICS], app[ROUTER])
    app.cleanup_ctx.append(_origins)
    app.cleanup_ctx.append(_personaliser)
    app.cleanup_ctx.append(_cpu_clock)
    if bundles is None and config.bundles.enabled:
        bundles = BundleManager(config.bundles, metrics=app[METRICS])
    if bundles is not None:
        app[BUNDLES] = bundles
        if not bundles.settings.allow_start_without_bundle:
            app[READINESS].has_bundle = lambda: bundles.has_activated
        app.cleanup_ctx.append(_bundles)
    app.on_response_prepare.append(cors_on_prepare)
    admin.add_routes(app, config.admin_prefix)
    if extra_routes is not None:
        extra_routes(app)
    app.router.add_route("*", r"/{tail:[\s\S]*}", proxy.dispatch)
    return app


async def _origins(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    client = OriginClient.open(config, app[METRICS])
    app[ORIGINS] = client
    app[CACHE] = ManifestCache(
        client.fetch,
        config.cache.policy(),
        max_entries=config.cache.max_entries,
        max_bytes=config.cache.max_bytes,
        clock=time.monotonic,
        metrics=app[METRICS],
        user_agent=f"edge-assembler/{__version__}",
    )
    app[READINESS].started = True
    yield
    app[READINESS].started = False
    await client.close()


async def _personaliser(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[PERSONALISE].close()


async def _cpu_clock(app: web.Application) -> AsyncIterator[None]:
    """Keep ``cpu_seconds`` current: a scrape may reach another worker of the node."""
    gauge = app[METRICS].cpu_seconds

    async def tick() -> None:
        while True:
            gauge.set(time.process_time())
            await asyncio.sleep(CPU_REFRESH)

    task = spawn(tick())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _bundles(app: web.Application) -> AsyncIterator[None]:
    """Re-verify the persisted bundle, then run the sources until shutdown (BUNDLES §4.8)."""
    manager = app[BUNDLES]
    await manager.start()
    tasks = [spawn(source.run()) for source in sources_for(manager)]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
