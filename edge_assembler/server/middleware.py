"""The one place where errors become HTTP answers, and where every request is measured."""

import asyncio
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from edge_assembler.core.errors import EdgeError
from edge_assembler.server import cors
from edge_assembler.server.state import CONFIG, METRICS, ROUTE

log = logging.getLogger("edge_assembler.server")

# Status recorded when the client went away before the answer was complete.
CLIENT_CLOSED = 499


@web.middleware
async def edge_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    started = time.perf_counter()
    status = 500
    metrics.in_flight.inc()
    try:
        response = await handler(request)
        status = response.status
        return response
    except EdgeError as exc:
        status = exc.status_hint
        return error_response(request, exc)
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    finally:
        metrics.in_flight.dec()
        route = request.get(ROUTE, "other")
        metrics.requests.labels(route, str(status)).inc()
        metrics.request_duration.labels(route).observe(time.perf_counter() - started)


def error_response(request: web.Request, exc: EdgeError) -> web.Response:
    if exc.status_hint < 500:
        request.app[METRICS].rejected.labels(exc.reason).inc()
        log.info("rejected %s %s: %s", request.method, request.raw_path[:200], exc)
    else:
        log.warning("origin failure for %s: %s", request.path[:200], exc)
    return web.Response(
        status=exc.status_hint,
        text=f"{exc.status_hint} {exc}\n",
        headers={"X-Edge-Error": exc.reason, "Cache-Control": "no-store"},
    )


async def cors_on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """With CORS enabled the edge's policy replaces whatever the origin said."""
    policy = request.app[CONFIG].cors
    if not policy.enabled or request.method == "OPTIONS":
        return
    for name in [n for n in response.headers if n.lower().startswith("access-control-")]:
        del response.headers[name]
    for name, value in cors.response_headers(policy, request.headers.get("Origin")).items():
        if name == "Vary" and "Vary" in response.headers:
            response.headers["Vary"] = f"{response.headers['Vary']}, {value}"
        else:
            response.headers[name] = value
