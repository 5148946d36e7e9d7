"""A real aiohttp origin for integration tests, with knobs: per-path hit counters,
configurable manifests, delays, failures and slow bodies. Loopback only."""

import asyncio
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

PLAYLIST = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg_000.ts\n#EXT-X-ENDLIST\n"
MPEGURL = "application/vnd.apple.mpegurl"


@dataclass
class Manifest:
    body: bytes = PLAYLIST
    status: int = 200
    content_type: str = MPEGURL
    cache_control: str | None = "max-age=60"
    etag: bool = True
    delay: float = 0.0
    extra_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class OriginState:
    """What the origin serves and what it saw; tests mutate it between requests."""

    files: Path
    manifests: dict[str, Manifest] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    seen_queries: list[str] = field(default_factory=list)  # of manifest requests
    fail_with: int | None = None  # answer every manifest with this status
    drip_closed: asyncio.Event = field(default_factory=asyncio.Event)

    def manifest(self, path: str, **kwargs: object) -> Manifest:
        m = Manifest(**kwargs)  # type: ignore[arg-type]
        self.manifests[path] = m
        return m


STATE = web.AppKey("state", OriginState)


def create_origin(state: OriginState) -> web.Application:
    app = web.Application()
    app[STATE] = state
    app.router.add_get("/files/{name}", files)
    app.router.add_get("/echo", echo)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow/{seconds}", slow)
    app.router.add_get("/drip", drip)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/truncated", truncated)
    app.router.add_get("/{path:.+}", manifest)
    return app


async def files(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    state.hits[request.path] += 1
    path = state.files / request.match_info["name"]
    if not path.is_file():
        raise web.HTTPNotFound(text="no such file")
    return web.FileResponse(path, headers={"Content-Type": "video/mp2t"})


async def echo(request: web.Request) -> web.Response:
    """Records the request headers exactly as received, including repeats."""
    state = request.app[STATE]
    state.hits[request.path] += 1
    state.seen_headers.append({k.lower(): v for k, v in request.headers.items()})
    return web.json_response(
        {"headers": [[k, v] for k, v in request.headers.items()], "path": request.raw_path},
        headers={
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "must not pass",
            "Keep-Alive": "timeout=5",
            "X-End-To-End": "passes",
        },
    )


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    request.app[STATE].hits[request.path] += 1
    return web.Response(status=code, text=f"origin says {code}\n")


async def slow(request: web.Request) -> web.Response:
    request.app[STATE].hits[request.path] += 1
    await asyncio.sleep(float(request.match_info["seconds"]))
    return web.Response(text="finally\n")


async def drip(request: web.Request) -> web.StreamResponse:
    """A body that never ends: one small chunk every 50 ms until the reader goes away."""
    state = request.app[STATE]
    state.hits[request.path] += 1
    response = web.StreamResponse(headers={"Content-Type": "video/mp2t"})
    await response.prepare(request)
    try:
        while True:
            await response.write(b"x" * 1024)
            await asyncio.sleep(0.05)
    finally:
        state.drip_closed.set()


async def truncated(request: web.Request) -> web.StreamResponse:
    """Promises 1 MB, sends 100 kB, then drops the connection."""
    response = web.StreamResponse(headers={"Content-Type": "video/mp2t"})
    response.content_length = 1_000_000
    await response.prepare(request)
    await response.write(b"t" * 100_000)
    await asyncio.sleep(0.05)
    assert request.transport is not None
    request.transport.close()
    return response


async def redirect(request: web.Request) -> web.Response:
    host = request.host
    raise web.HTTPFound(f"http://{host}/files/seg.ts")


async def manifest(request: web.Request) -> web.Response:
    state = request.app[STATE]
    path = "/" + request.match_info["path"]
    state.hits[path] += 1
    state.seen_headers.append({k.lower(): v for k, v in request.headers.items()})
    state.seen_queries.append(request.query_string)
    m = state.manifests.get(path)
    if m is None:
        raise web.HTTPNotFound(text="unknown manifest")
    if m.delay:
        await asyncio.sleep(m.delay)
    if state.fail_with is not None:
        return web.Response(status=state.fail_with, text="origin failure\n")
    headers = {"Content-Type": m.content_type, **m.extra_headers}
    if m.cache_control is not None:
        headers["Cache-Control"] = m.cache_control
    if m.etag:
        etag = '"' + hashlib.sha256(m.body).hexdigest()[:16] + '"'
        headers["ETag"] = etag
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
    return web.Response(status=m.status, body=m.body, headers=headers)
