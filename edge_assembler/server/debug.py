"""``GET {admin_prefix}/debug/render?path=<manifest path and query>``: the manifest route's
answer to one path, explained (README "Dry run and debug endpoint").

The request runs the manifest pipeline of a real one (same rules snapshot, origin cache,
session handling); the viewer's headers (User-Agent, Accept-Language, the geo header) are
the debug request's own. Off (404) while ``[debug].token`` is empty; otherwise the caller
sends ``Authorization: Bearer <token>`` (401 without one, 403 with another).
"""

import difflib
import hmac

import msgspec
from aiohttp import web
from yarl import URL

from edge_assembler.bundles.manager import ActiveBundle, Serving
from edge_assembler.core.errors import BadRequest, NotFound
from edge_assembler.core.routing import is_manifest_path
from edge_assembler.core.target import parse_target
from edge_assembler.server.personalise import Answer
from edge_assembler.server.state import (
    BUNDLES,
    CACHE,
    CONFIG,
    LEARNED,
    PERSONALISE,
    ROUTE,
    ROUTER,
)

_NO_STORE = {"Cache-Control": "no-store"}


async def render(request: web.Request) -> web.Response:
    """JSON: ``url`` (origin), ``status``, ``decision`` (X-Edge-Decision), ``revision``,
    ``trace`` (the rules' decision with its trace), ``origin`` and ``edited`` bodies and
    their unified ``diff``."""
    request[ROUTE] = "admin"
    _authorize(request)
    path = request.query.get("path", "")
    if not path.startswith("/"):
        raise BadRequest("bad_param", "path: expected a manifest path, e.g. /vod/a/master.m3u8")
    viewer = request.clone(rel_url=URL(path, encoded=True))
    target = parse_target(viewer.raw_path)
    upstream = request.app[ROUTER].resolve(target)
    if upstream is None:
        raise NotFound("no_origin", "no origin serves this path")
    if not (is_manifest_path(target.path) or target.path in request.app[LEARNED]):
        raise BadRequest("not_manifest", f"{target.path[:200]}: not a manifest path")
    snap = _snapshot(request)
    cache = request.app[CACHE]
    answer: Answer | None = None
    if snap is None:
        lookup = await cache.get(upstream.route.index, upstream.url)
    else:
        pipeline = request.app[PERSONALISE]
        session = pipeline.session(viewer)
        upstream = pipeline.origin_upstream(upstream, session, viewer.path)
        lookup = await cache.get(upstream.route.index, upstream.url)
        answer = await pipeline.answer(viewer, upstream, lookup, snap, session, cache)
    entry = lookup.entry
    origin = entry.body.decode("utf-8", "replace")
    rendered = answer.rendered if answer is not None else None
    edited = origin if rendered is None else rendered.body.decode("utf-8", "replace")
    plan = answer.plan if answer is not None else None
    diff = difflib.unified_diff(
        origin.splitlines(keepends=True),
        edited.splitlines(keepends=True),
        fromfile=f"origin {upstream.url}",
        tofile=f"edge {path}",
    )
    report = {
        "url": upstream.url,
        "status": entry.status,
        "decision": answer.decision if answer is not None else None,
        "revision": snap.revision if snap is not None else None,
        "trace": plan.to_builtins() if plan is not None else None,
        "origin": origin,
        "edited": edited,
        "diff": "".join(diff),
    }
    return web.Response(
        body=msgspec.json.encode(report),
        headers={"Content-Type": "application/json", **_NO_STORE},
    )


def _authorize(request: web.Request) -> None:
    token = request.app[CONFIG].debug.token
    if not token:
        raise web.HTTPNotFound(text="404 not found\n", headers=_NO_STORE)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise web.HTTPUnauthorized(
            text="401 a bearer token is required\n",
            headers={"WWW-Authenticate": 'Bearer realm="edge-debug"', **_NO_STORE},
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise web.HTTPForbidden(text="403 wrong token\n", headers=_NO_STORE)


def _snapshot(request: web.Request) -> ActiveBundle | None:
    """The rules snapshot a manifest request would use (BUNDLES §4.8 stale policy)."""
    manager = request.app.get(BUNDLES)
    if manager is None:
        return None
    snap = manager.current
    serving = manager.serving(snap)
    if serving is Serving.FAIL:
        raise web.HTTPServiceUnavailable(
            text="503 the rules bundle has expired\n",
            headers={"X-Edge-Error": "bundle_expired", **_NO_STORE},
        )
    return snap if serving is Serving.RULES else None
