"""The proxy routes: manifests through the origin cache, everything else streamed through."""

import logging

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from edge_assembler.bundles.manager import ActiveBundle, Serving
from edge_assembler.core.errors import BadRequest, NotFound
from edge_assembler.core.headers import (
    accepts_gzip,
    downstream_response_headers,
    not_modified,
    upstream_request_headers,
)
from edge_assembler.core.routing import Upstream, is_manifest_path, is_manifest_type
from edge_assembler.core.target import parse_target
from edge_assembler.origin.cache import Lookup
from edge_assembler.origin.client import Fetched, map_origin_errors
from edge_assembler.server import cors
from edge_assembler.server.personalise import Answer, Session
from edge_assembler.server.state import (
    BUNDLES,
    CACHE,
    CACHE_STATUS,
    CONFIG,
    LEARNED,
    METRICS,
    ORIGIN_SECONDS,
    ORIGINS,
    PERSONALISE,
    ROUTE,
    ROUTER,
    RULES,
)

log = logging.getLogger("edge_assembler.proxy")

_CHUNK = 64 * 1024
_METHODS = ("GET", "HEAD")
# Response headers a manifest answer repeats from the origin (RFC 9110 §15.4.5 lists
# those a 304 must carry).
_NOT_MODIFIED_HEADERS = ("Cache-Control", "Expires", "Vary", "Content-Location")
_EDGE_HEADERS = ("ETag", "Via", "X-Cache", "Age", "X-Rules-Revision", "X-Edge-Decision")
# Origin headers a personalised answer replaces (README "Personalisation pipeline").
_ORIGIN_CACHING = ("Cache-Control", "Expires", "Last-Modified")


async def dispatch(request: web.Request) -> web.StreamResponse:
    if request.method == "OPTIONS":
        return preflight(request)
    request[ROUTE] = "rejected"
    if request.method not in _METHODS:
        raise web.HTTPMethodNotAllowed(request.method, [*_METHODS, "OPTIONS"])
    if request.version < (1, 0):
        # A bare CR/LF in the request line makes the rest parse as HTTP/0.9 headers.
        raise BadRequest("http_version", "HTTP/0.9 requests are not served")
    target = parse_target(request.raw_path)
    upstream = request.app[ROUTER].resolve(target)
    if upstream is None:
        raise NotFound("no_origin", "no origin serves this path")
    is_manifest = is_manifest_path(target.path) or target.path in request.app[LEARNED]
    request[RULES] = _rules_snapshot(request, is_manifest=is_manifest)
    if is_manifest:
        return await manifest(request, upstream)
    return await passthrough(request, upstream)


def _rules_snapshot(request: web.Request, *, is_manifest: bool) -> ActiveBundle | None:
    """The active bundle, read once for the whole request (BUNDLES §4.8), after the stale
    policy: None when manifests pass through unmodified."""
    manager = request.app.get(BUNDLES)
    if manager is None:
        return None
    snap = manager.current
    serving = manager.serving(snap)
    if serving is Serving.RULES:
        return snap
    if serving is Serving.FAIL and is_manifest:
        request[ROUTE] = "manifest"
        raise web.HTTPServiceUnavailable(
            text="503 the rules bundle has expired\n",
            headers={"X-Edge-Error": "bundle_expired", "Cache-Control": "no-store"},
        )
    return None


def preflight(request: web.Request) -> web.Response:
    request[ROUTE] = "preflight"
    policy = request.app[CONFIG].cors
    if "Access-Control-Request-Method" not in request.headers:
        return web.Response(status=204, headers={"Allow": "GET, HEAD, OPTIONS"})
    headers = cors.preflight_headers(policy, request.headers)
    if headers is None:
        raise BadRequest("cors_refused", "CORS preflight not allowed by this edge's policy")
    return web.Response(status=204, headers=headers)


async def manifest(request: web.Request, upstream: Upstream) -> web.Response:
    request[ROUTE] = "manifest"
    snap = request.get(RULES)
    if snap is None:
        lookup = await request.app[CACHE].get(upstream.route.index, upstream.url)
        return manifest_response(request, lookup)
    session = request.app[PERSONALISE].session(request)  # a bad token: 403, origin not asked
    upstream = request.app[PERSONALISE].origin_upstream(upstream, session, request.path)
    lookup = await request.app[CACHE].get(upstream.route.index, upstream.url)
    return await _personalised(request, upstream, lookup, snap, session)


async def _adopted_response(
    request: web.Request, upstream: Upstream, lookup: Lookup
) -> web.Response:
    """A manifest found by its content type, personalised like any other."""
    snap = request.get(RULES)
    if snap is None:
        return manifest_response(request, lookup)
    session = request.app[PERSONALISE].session(request)
    return await _personalised(request, upstream, lookup, snap, session)


async def _personalised(
    request: web.Request, upstream: Upstream, lookup: Lookup, snap: ActiveBundle, session: Session
) -> web.Response:
    app = request.app
    answer = await app[PERSONALISE].answer(request, upstream, lookup, snap, session, app[CACHE])
    return manifest_response(request, lookup, answer)


def manifest_response(
    request: web.Request, lookup: Lookup, answer: Answer | None = None
) -> web.Response:
    """The cached manifest as this client asked for it: 304, gzip or plain; ``answer``
    (when rules apply) gives the personalised body and caching headers."""
    config = request.app[CONFIG]
    entry = lookup.entry
    request[CACHE_STATUS] = lookup.status.value
    request[ORIGIN_SECONDS] = lookup.origin_seconds
    headers = CIMultiDict((k, v) for k, v in entry.headers.items() if k.lower() != "etag")
    headers["Via"] = config.via
    headers["X-Cache"] = lookup.status.value
    headers["Age"] = str(max(0, int(request.app[CACHE].age(entry))))
    headers["Vary"] = "Accept-Encoding"
    snap = request.get(RULES)
    if snap is not None:
        headers["X-Rules-Revision"] = str(snap.revision)
    etag: str | None = entry.etag
    if answer is not None:
        headers["X-Edge-Decision"] = answer.decision
        if answer.vary:
            headers["Vary"] = ", ".join(("Accept-Encoding", *answer.vary))
        if answer.cache_control is not None:
            for name in _ORIGIN_CACHING:
                headers.popall(name, None)
            headers["Cache-Control"] = answer.cache_control
            etag = answer.etag
    if 200 <= entry.status < 300 and etag is not None:
        headers["ETag"] = etag
        if not_modified(
            if_none_match=request.headers.get("If-None-Match"),
            if_modified_since=request.headers.get("If-Modified-Since"),
            etag=etag,
            last_modified=headers.get("Last-Modified"),
        ):
            kept = {k: headers[k] for k in (*_NOT_MODIFIED_HEADERS, *_EDGE_HEADERS) if k in headers}
            return web.Response(status=304, headers=kept)
    rendered = answer.rendered if answer is not None else None
    body = entry.body if rendered is None else rendered.body
    if len(body) >= config.gzip_min_bytes and accepts_gzip(request.headers.get("Accept-Encoding")):
        body = entry.gzipped() if rendered is None else rendered.gzipped()
        headers["Content-Encoding"] = "gzip"
    return web.Response(status=entry.status, body=body, headers=headers)


async def passthrough(request: web.Request, upstream: Upstream) -> web.StreamResponse:
    """Stream the origin's answer through, untouched, with backpressure."""
    request[ROUTE] = "passthrough"
    config = request.app[CONFIG]
    headers = upstream_request_headers(
        request.headers.items(),
        client_ip=request.remote,
        host=_host(upstream.route.base),
        proto=request.scheme,
        via=config.via,
    )
    async with request.app[ORIGINS].stream(
        upstream.route.index, request.method, upstream.url, headers
    ) as origin:
        if _looks_like_manifest(request, origin):
            fetched = await _read_whole(request, origin)
            if fetched is not None:
                request[ROUTE] = "manifest"
                request.app[LEARNED][request.path] = True
                lookup = request.app[CACHE].adopt(upstream.url, fetched)
                return await _adopted_response(request, upstream, lookup)
        return await _relay(request, origin, upstream)


def _looks_like_manifest(request: web.Request, origin: aiohttp.ClientResponse) -> bool:
    return (
        request.method == "GET"
        and origin.status == 200
        and "Range" not in request.headers
        and "Content-Encoding" not in origin.headers
        and is_manifest_type(origin.headers.get("Content-Type"))
    )


async def _read_whole(request: web.Request, origin: aiohttp.ClientResponse) -> Fetched | None:
    """The body if it fits a manifest's size cap, else None (the caller streams it)."""
    limit = request.app[CONFIG].max_manifest_bytes
    if origin.content_length is None or origin.content_length > limit:
        return None
    with map_origin_errors("manifest body"):
        body = await origin.read()
    return Fetched(origin.status, origin.headers, body, 0.0)


async def _relay(
    request: web.Request, origin: aiohttp.ClientResponse, upstream: Upstream
) -> web.StreamResponse:
    config = request.app[CONFIG]
    response = web.StreamResponse(status=origin.status, reason=origin.reason)
    for name, value in downstream_response_headers(origin.headers.items(), via=config.via):
        response.headers.add(name, value)
    _rewrite_location(response, upstream)
    if origin.content_length is not None:
        response.content_length = origin.content_length
    metrics = request.app[METRICS]
    try:
        await response.prepare(request)
        if request.method == "HEAD" or origin.status in (204, 304):
            await response.write_eof()
            return response
        while chunk := await _origin_chunk(request, origin):
            await response.write(chunk)  # waits while the client's socket is full
            metrics.bytes_streamed.inc(len(chunk))
        await response.write_eof()
    except _OriginBodyFailed:
        # Headers are gone already: cut the connection so the client sees a short body
        # rather than a complete-looking one.
        metrics.stream_aborts.labels("origin").inc()
        _abort(request)
    except ConnectionError:  # the client went away (aiohttp's own class is one too)
        metrics.stream_aborts.labels("client").inc()
    return response


class _OriginBodyFailed(Exception):
    """The origin's body broke off mid-stream."""


async def _origin_chunk(request: web.Request, origin: aiohttp.ClientResponse) -> bytes:
    """The origin body's next chunk (b"" at its end); a failure is logged and raised as
    ``_OriginBodyFailed``, kept apart from the client's connection errors."""
    try:
        return await origin.content.read(_CHUNK)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("origin body failed mid-stream for %s: %r", request.path[:200], exc)
        raise _OriginBodyFailed from exc


def _rewrite_location(response: web.StreamResponse, upstream: Upstream) -> None:
    """A redirect to the origin's own URL space is made relative to the edge."""
    location = response.headers.get("Location")
    route = upstream.route
    base = route.base.rstrip("/")
    if location and location.startswith(base + "/"):
        prefix = route.prefix.rstrip("/") if route.strip_prefix else ""
        response.headers["Location"] = prefix + location[len(base) :]


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


def _host(base: str) -> str:
    return URL(base).raw_authority
