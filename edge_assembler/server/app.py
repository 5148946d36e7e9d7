"""The app factory: one aiohttp application per node configuration."""

import time
from collections.abc import AsyncIterator

from aiohttp import web
from cachetools import LRUCache

from edge_assembler import __version__
from edge_assembler.config import NodeConfig
from edge_assembler.core.routing import Router
from edge_assembler.metrics import Metrics
from edge_assembler.origin.cache import ManifestCache
from edge_assembler.origin.client import OriginClient
from edge_assembler.server import admin, proxy
from edge_assembler.server.middleware import cors_on_prepare, edge_middleware
from edge_assembler.server.state import (
    CACHE,
    CONFIG,
    LEARNED,
    METRICS,
    ORIGINS,
    READINESS,
    ROUTER,
    Readiness,
)


def create_app(config: NodeConfig, metrics: Metrics | None = None) -> web.Application:
    app = web.Application(middlewares=[edge_middleware], client_max_size=64 * 1024)
    app[CONFIG] = config
    app[METRICS] = metrics or Metrics()
    app[ROUTER] = Router(config.origin_routes())
    app[READINESS] = Readiness()
    app[LEARNED] = LRUCache(config.cache.learned_manifests)
    app.cleanup_ctx.append(_origins)
    app.on_response_prepare.append(cors_on_prepare)
    admin.add_routes(app, config.admin_prefix)
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
