"""The app factory: one aiohttp application per node configuration."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from cachetools import LRUCache

from edge_assembler import __version__
from edge_assembler.bundles import sources
from edge_assembler.bundles.manager import BundleManager
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

GAUGE_REFRESH = 5.0  # seconds between stores of the observed gauges (multiprocess mode)


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
    app.cleanup_ctx.append(_gauges)
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


async def _gauges(app: web.Application) -> AsyncIterator[None]:
    """The gauges read from this process's state; in multiprocess mode they are stored every
    few seconds, since a scrape may reach another worker of the node."""
    metrics, readiness = app[METRICS], app[READINESS]
    metrics.observe(metrics.cpu_seconds, time.process_time)
    metrics.observe(metrics.ready, lambda: float(readiness.ready))

    async def tick() -> None:
        while True:
            metrics.refresh()
            await asyncio.sleep(GAUGE_REFRESH)

    task = spawn(tick())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _bundles(app: web.Application) -> AsyncIterator[None]:
    """Re-verify the persisted bundle, then run the sources until shutdown (BUNDLES §4.8).
    Of the processes sharing the state directory, the one that claims it writes; the others
    follow it (the workers of ``serve --workers N``)."""
    manager = app[BUNDLES]
    await manager.start(writer=await asyncio.to_thread(manager.store.claim_writer))
    task = spawn(sources.run(manager))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    manager.store.release_writer()
