"""Admin endpoints under the configured prefix: liveness, readiness, Prometheus metrics,
rule bundle status, the dry-run endpoint, interstitial asset lists, the empty WebVTT
document of subtitles padding."""

import msgspec
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from edge_assembler.server import debug, interstitials, subtitles
from edge_assembler.server.personalise import ASSET_LIST_PATH
from edge_assembler.server.sources import EMPTY_VTT_PATH
from edge_assembler.server.state import BUNDLES, METRICS, READINESS, ROUTE


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(f"{prefix}/healthz", healthz)
    app.router.add_get(f"{prefix}/readyz", readyz)
    app.router.add_get(f"{prefix}/metrics", metrics)
    app.router.add_get(f"{prefix}/bundles", bundles)
    app.router.add_get(f"{prefix}/debug/render", debug.render)
    app.router.add_get(f"{prefix}{ASSET_LIST_PATH}", interstitials.asset_list)
    app.router.add_get(f"{prefix}{EMPTY_VTT_PATH}", subtitles.empty_vtt)


async def healthz(request: web.Request) -> web.Response:
    request[ROUTE] = "admin"
    return web.Response(text="ok\n", headers={"Cache-Control": "no-store"})


async def readyz(request: web.Request) -> web.Response:
    request[ROUTE] = "admin"
    readiness = request.app[READINESS]
    if readiness.ready:
        return web.Response(text="ready\n", headers={"Cache-Control": "no-store"})
    why = "draining" if readiness.draining else "starting"
    if readiness.started and not readiness.draining:
        why = readiness.why_not_bundle() or why
    return web.Response(
        status=503, text=f"not ready: {why}\n", headers={"Cache-Control": "no-store"}
    )


async def metrics(request: web.Request) -> web.Response:
    request[ROUTE] = "admin"
    return web.Response(
        body=request.app[METRICS].exposition(),
        headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"},
    )


async def bundles(request: web.Request) -> web.Response:
    """The rule bundle status (BUNDLES §4.8), or ``{"enabled": false}``."""
    request[ROUTE] = "admin"
    manager = request.app.get(BUNDLES)
    status = {"enabled": False} if manager is None else {"enabled": True, **manager.status()}
    return web.Response(
        body=msgspec.json.encode(status),
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )
