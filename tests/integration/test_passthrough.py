"""Transparent proxying of non-manifest requests against a real loopback origin."""

import asyncio
import hashlib

import aiohttp
import pytest

from tests.conftest import Edge, EdgeFactory, Origin, free_port


async def test_segment_bytes_and_headers_pass_through(edge: Edge, origin: Origin, client):
    original = (origin.state.files / "seg.ts").read_bytes()
    async with client.get(f"{edge.url}/files/seg.ts") as r:
        body = await r.read()
        assert r.status == 200
        assert r.headers["Content-Type"] == "video/mp2t"
        assert r.headers["Content-Length"] == str(len(original))
        assert r.headers["Via"].endswith("1.1 edge-assembler")
        assert "ETag" in r.headers
        assert "Last-Modified" in r.headers
    assert hashlib.sha256(body).digest() == hashlib.sha256(original).digest()
    assert edge.metric("edge_assembler_streamed_bytes_total") == len(original)


async def test_range_gives_206_with_the_exact_bytes(edge: Edge, origin: Origin, client):
    original = (origin.state.files / "seg.ts").read_bytes()
    async with client.get(f"{edge.url}/files/seg.ts", headers={"Range": "bytes=1000-1999"}) as r:
        assert r.status == 206
        assert r.headers["Content-Range"] == f"bytes 1000-1999/{len(original)}"
        assert await r.read() == original[1000:2000]


async def test_head_has_get_headers_and_no_body(edge: Edge, origin: Origin, client):
    async with client.head(f"{edge.url}/files/seg.ts") as r:
        assert r.status == 200
        assert r.headers["Content-Length"] == str(256 * 1024)
        assert await r.read() == b""


async def test_conditional_requests_get_304(edge: Edge, client):
    async with client.get(f"{edge.url}/files/seg.ts") as r:
        etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
        await r.read()
    async with client.get(f"{edge.url}/files/seg.ts", headers={"If-None-Match": etag}) as r:
        assert r.status == 304
        assert await r.read() == b""
    async with client.get(f"{edge.url}/files/seg.ts", headers={"If-Modified-Since": modified}) as r:
        assert r.status == 304


@pytest.mark.parametrize("code", [404, 410, 500, 503])
async def test_origin_status_codes_are_kept(edge: Edge, client, code: int):
    async with client.get(f"{edge.url}/status/{code}") as r:
        assert r.status == code
        assert await r.text() == f"origin says {code}\n"


async def test_hop_by_hop_dropped_and_forwarding_headers_added(edge: Edge, origin: Origin, client):
    async with client.get(
        f"{edge.url}/echo",
        headers={
            "Connection": "keep-alive, X-Client-Hop",
            "X-Client-Hop": "drop me",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Proxy-Authorization": "Basic Zm9vOmJhcg==",
            "X-Forwarded-For": "203.0.113.7",
            "Via": "1.1 player-proxy",
            "X-Custom": "kept",
        },
    ) as r:
        assert r.status == 200
        assert r.headers["X-End-To-End"] == "passes"
        assert "X-Secret-Hop" not in r.headers
        assert "Keep-Alive" not in r.headers
        await r.read()
    seen = origin.state.seen_headers[-1]
    for hop in ("x-client-hop", "keep-alive", "te", "proxy-authorization"):
        assert hop not in seen
    assert seen["x-custom"] == "kept"
    assert seen["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert seen["via"] == "1.1 player-proxy, 1.1 edge-assembler"
    assert seen["host"] == origin.url.removeprefix("http://")
    assert seen["x-forwarded-proto"] == "http"


async def test_redirects_to_the_origin_are_made_relative(edge: Edge, client):
    async with client.get(f"{edge.url}/redirect", allow_redirects=False) as r:
        assert r.status == 302
        assert r.headers["Location"] == "/files/seg.ts"


async def test_origin_timeout_is_504(edge_factory: EdgeFactory, client):
    edge = await edge_factory("timeouts.first_byte=0.3")
    async with client.get(f"{edge.url}/slow/3") as r:
        assert r.status == 504
        assert r.headers["X-Edge-Error"] == "timeout"
    assert (
        edge.metric("edge_assembler_origin_fetches_total", kind="passthrough", outcome="timeout")
        == 1
    )


async def test_origin_down_is_502(edge_factory: EdgeFactory, client):
    edge = await edge_factory(origin_url=f"http://127.0.0.1:{free_port()}")
    for path in ("/files/seg.ts", "/live/index.m3u8"):
        async with client.get(f"{edge.url}{path}") as r:
            assert r.status == 502, path
            assert r.headers["X-Edge-Error"] == "connect_failed"
            assert "unreachable" in await r.text()


async def test_client_disconnect_cancels_the_origin_fetch(edge: Edge, origin: Origin):
    reader, writer = await asyncio.open_connection("127.0.0.1", int(edge.url.rsplit(":", 1)[1]))
    writer.write(b"GET /drip HTTP/1.1\r\nHost: edge\r\n\r\n")
    await writer.drain()
    assert b"200 OK" in await reader.readuntil(b"\r\n")
    await reader.read(4096)
    writer.close()
    await asyncio.wait_for(origin.state.drip_closed.wait(), timeout=5)


async def test_client_disconnect_before_headers_cancels_the_origin_wait(edge: Edge, origin: Origin):
    _, writer = await asyncio.open_connection("127.0.0.1", int(edge.url.rsplit(":", 1)[1]))
    writer.write(b"GET /slow/30 HTTP/1.1\r\nHost: edge\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    for _ in range(50):
        if edge.metric("edge_assembler_requests_total", route="passthrough", status="499"):
            break
        await asyncio.sleep(0.1)
    assert edge.metric("edge_assembler_requests_total", route="passthrough", status="499") == 1


async def _raw_status(edge: Edge, target: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", int(edge.url.rsplit(":", 1)[1]))
    writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n")
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (b"/files/../etc/passwd", b"'..'"),
        (b"/files/%2e%2e/etc/passwd", b"'..'"),
        (b"/files/%252e%252e/etc/passwd", b"'..'"),
        (b"/files/..%2f..%2fetc/passwd", b"'..'"),
        (b"/files/..%5cetc", b"backslash"),
        (b"http://evil.example/files/seg.ts", b"origin-form"),
        (b"//evil.example/files/seg.ts", b"scheme-relative"),
        (b"/files/seg.ts%0d%0aX-Injected:%20yes", b"control character"),
        (b"/files/seg.ts?x=%0d%0aX-Injected:%20yes", b"control character"),
        (b"/files/seg\r\nX-Injected: yes", b"HTTP/0.9"),
        (b"/files/%zz", b"percent-encoding"),
    ],
)
async def test_escaping_targets_are_400_and_never_reach_the_origin(
    edge: Edge, origin: Origin, target: bytes, reason: bytes
):
    status, body = await _raw_status(edge, target)
    assert status == 400
    assert reason in body
    assert sum(origin.state.hits.values()) == 0


async def test_absolute_form_never_reaches_another_host(edge: Edge, origin: Origin, client):
    # Even a well-formed absolute URI naming the origin itself is refused: the edge
    # chooses the origin host, never the request.
    status, _ = await _raw_status(edge, f"{origin.url}/files/seg.ts".encode())
    assert status == 400
    assert sum(origin.state.hits.values()) == 0


async def test_methods_other_than_get_head_options_are_405(edge: Edge, origin: Origin, client):
    async with client.post(f"{edge.url}/files/seg.ts", data=b"x") as r:
        assert r.status == 405
        assert "GET" in r.headers["Allow"]
    assert sum(origin.state.hits.values()) == 0


async def test_cors_preflight_and_response_headers(edge: Edge, origin: Origin, client):
    async with client.options(
        f"{edge.url}/files/seg.ts",
        headers={
            "Origin": "https://player.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
        },
    ) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "Range" in r.headers["Access-Control-Allow-Headers"]
    async with client.get(
        f"{edge.url}/files/seg.ts", headers={"Origin": "https://player.example"}
    ) as r:
        await r.read()
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert "Content-Range" in r.headers["Access-Control-Expose-Headers"]
    assert origin.state.hits["/files/seg.ts"] == 1  # the preflight never reached it


async def test_cors_policy_with_an_origin_list(edge_factory: EdgeFactory, client):
    edge = await edge_factory('cors.allow_origins=["https://good.example"]')
    async with client.get(
        f"{edge.url}/files/seg.ts", headers={"Origin": "https://good.example"}
    ) as r:
        await r.read()
        assert r.headers["Access-Control-Allow-Origin"] == "https://good.example"
        assert "Origin" in r.headers["Vary"]
    async with client.get(
        f"{edge.url}/files/seg.ts", headers={"Origin": "https://evil.example"}
    ) as r:
        await r.read()
        assert "Access-Control-Allow-Origin" not in r.headers
    async with client.options(
        f"{edge.url}/files/seg.ts",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    ) as r:
        assert r.status == 400
        assert r.headers["X-Edge-Error"] == "cors_refused"


async def test_paths_outside_every_origin_prefix_are_404(edge_factory: EdgeFactory, origin, client):
    edge = await edge_factory(f'origins=[{{url="{origin.url}", prefix="/vod", strip_prefix=true}}]')
    async with client.get(f"{edge.url}/vod/files/seg.ts") as r:
        assert r.status == 200
        assert len(await r.read()) == 256 * 1024
    async with client.get(f"{edge.url}/other/files/seg.ts") as r:
        assert r.status == 404
        assert r.headers["X-Edge-Error"] == "no_origin"


async def test_origin_dropping_mid_body_cuts_the_client_connection(
    edge: Edge, origin: Origin, client
):
    async with client.get(f"{edge.url}/truncated") as r:
        assert r.status == 200
        assert r.headers["Content-Length"] == str(1_000_000)
        with pytest.raises(aiohttp.ClientPayloadError):
            await r.read()
    assert edge.metric("edge_assembler_stream_aborts_total", side="origin") == 1
