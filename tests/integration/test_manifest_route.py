"""The manifest route: origin cache, single-flight, stale-if-error, TTLs, gzip, 304."""

import asyncio
import gzip

import aiohttp
import pytest

from tests.conftest import Edge, EdgeFactory, Origin
from tests.integration.origin_app import PLAYLIST

BIG_PLAYLIST = (
    b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
    + b"".join(b"#EXTINF:2.0,\nseg_%05d.ts\n" % i for i in range(600))
    + b"#EXT-X-ENDLIST\n"
)


async def get(client: aiohttp.ClientSession, url: str, **headers: str):
    async with client.get(url, headers=headers) as r:
        return r.status, r.headers, await r.read()


async def test_manifest_answers_with_the_origin_bytes(edge: Edge, origin: Origin, client):
    origin.state.manifest("/vod/master.m3u8")
    status, headers, body = await get(client, f"{edge.url}/vod/master.m3u8")
    assert (status, body) == (200, PLAYLIST)
    assert headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert headers["X-Cache"] == "MISS"
    assert headers["Cache-Control"] == "max-age=60"
    assert headers["ETag"].startswith('"')


async def test_concurrent_requests_make_exactly_one_origin_fetch(
    edge: Edge, origin: Origin, client
):
    origin.state.manifest("/live/index.m3u8", delay=0.3, cache_control="max-age=2")
    results = await asyncio.gather(
        *(get(client, f"{edge.url}/live/index.m3u8") for _ in range(100))
    )
    assert origin.state.hits["/live/index.m3u8"] == 1
    assert all(status == 200 and body == PLAYLIST for status, _, body in results)
    assert edge.metric("edge_assembler_coalesced_waiters_total") == 99


async def test_a_waiter_disconnecting_cancels_nobody_else(edge: Edge, origin: Origin, client):
    origin.state.manifest("/live/index.m3u8", delay=0.5)
    first = asyncio.ensure_future(get(client, f"{edge.url}/live/index.m3u8"))
    others = [asyncio.ensure_future(get(client, f"{edge.url}/live/index.m3u8")) for _ in range(5)]
    await asyncio.sleep(0.15)
    first.cancel()
    results = await asyncio.gather(*others)
    assert [status for status, _, _ in results] == [200] * 5
    assert origin.state.hits["/live/index.m3u8"] == 1
    # The abandoned fetch still filled the cache.
    status, headers, _ = await get(client, f"{edge.url}/live/index.m3u8")
    assert (status, headers["X-Cache"]) == (200, "HIT")


async def test_max_age_is_honoured(edge: Edge, origin: Origin, client):
    origin.state.manifest("/live/index.m3u8", cache_control="max-age=1", etag=False)
    assert (await get(client, f"{edge.url}/live/index.m3u8"))[1]["X-Cache"] == "MISS"
    assert (await get(client, f"{edge.url}/live/index.m3u8"))[1]["X-Cache"] == "HIT"
    assert origin.state.hits["/live/index.m3u8"] == 1
    await asyncio.sleep(1.1)
    _, headers, _ = await get(client, f"{edge.url}/live/index.m3u8")
    assert headers["X-Cache"] == "EXPIRED"
    assert origin.state.hits["/live/index.m3u8"] == 2


async def test_s_maxage_wins_over_max_age(edge: Edge, origin: Origin, client):
    origin.state.manifest("/a.m3u8", cache_control="max-age=60, s-maxage=0")
    await get(client, f"{edge.url}/a.m3u8")
    await get(client, f"{edge.url}/a.m3u8")
    assert origin.state.hits["/a.m3u8"] == 2


@pytest.mark.parametrize("cache_control", ["no-store", "private, max-age=60"])
async def test_uncacheable_responses_are_fetched_every_time(
    edge: Edge, origin: Origin, client, cache_control: str
):
    origin.state.manifest("/a.m3u8", cache_control=cache_control)
    for _ in range(3):
        status, headers, _ = await get(client, f"{edge.url}/a.m3u8")
        assert (status, headers["X-Cache"]) == (200, "MISS")
    assert origin.state.hits["/a.m3u8"] == 3


async def test_without_cache_headers_the_default_ttl_applies(
    edge_factory: EdgeFactory, origin: Origin, client
):
    edge = await edge_factory("cache.default_ttl=30")
    origin.state.manifest("/a.m3u8", cache_control=None)
    await get(client, f"{edge.url}/a.m3u8")
    assert (await get(client, f"{edge.url}/a.m3u8"))[1]["X-Cache"] == "HIT"
    assert origin.state.hits["/a.m3u8"] == 1


async def test_expired_entries_revalidate_with_the_origin_etag(edge: Edge, origin: Origin, client):
    origin.state.manifest("/a.m3u8", cache_control="no-cache")
    _, first, _ = await get(client, f"{edge.url}/a.m3u8")
    status, headers, body = await get(client, f"{edge.url}/a.m3u8")
    assert (status, body, headers["X-Cache"]) == (200, PLAYLIST, "REVALIDATED")
    assert headers["ETag"] == first["ETag"]
    assert origin.state.seen_headers[-1]["if-none-match"].startswith('"')
    assert origin.state.hits["/a.m3u8"] == 2


async def test_stale_if_error_then_recovery(edge_factory: EdgeFactory, origin: Origin, client):
    edge = await edge_factory("cache.stale_if_error=1.5")
    m = origin.state.manifest("/live/index.m3u8", cache_control="max-age=0", etag=False)
    assert (await get(client, f"{edge.url}/live/index.m3u8"))[0] == 200
    origin.state.fail_with = 503
    status, headers, body = await get(client, f"{edge.url}/live/index.m3u8")
    assert (status, headers["X-Cache"], body) == (200, "STALE", PLAYLIST)
    assert edge.metric("edge_assembler_cache_lookups_total", result="stale") == 1
    # Recovery: the origin's new body is served at once.
    origin.state.fail_with = None
    m.body = PLAYLIST.replace(b"seg_000", b"seg_001")
    status, headers, body = await get(client, f"{edge.url}/live/index.m3u8")
    assert (status, headers["X-Cache"], body) == (200, "EXPIRED", m.body)
    # Past the stale window the origin's failure shows.
    origin.state.fail_with = 503
    await asyncio.sleep(1.6)
    status, headers, _ = await get(client, f"{edge.url}/live/index.m3u8")
    assert (status, headers["X-Cache"]) == (503, "EXPIRED")


async def test_stale_if_error_covers_an_unreachable_origin(
    edge_factory: EdgeFactory, origin: Origin, client
):
    origin.state.manifest("/a.m3u8", cache_control="max-age=0, stale-if-error=60", etag=False)
    edge = await edge_factory("timeouts.first_byte=0.3")
    await get(client, f"{edge.url}/a.m3u8")
    origin.state.manifests["/a.m3u8"].delay = 2  # now the origin times out
    status, headers, body = await get(client, f"{edge.url}/a.m3u8")
    assert (status, headers["X-Cache"], body) == (200, "STALE", PLAYLIST)


async def test_must_revalidate_forbids_stale(edge: Edge, origin: Origin, client):
    origin.state.manifest("/a.m3u8", cache_control="max-age=0, must-revalidate", etag=False)
    await get(client, f"{edge.url}/a.m3u8")
    origin.state.fail_with = 500
    status, _, _ = await get(client, f"{edge.url}/a.m3u8")
    assert status == 500


async def test_manifest_origin_timeout_is_504_and_errors_pass_through(
    edge_factory: EdgeFactory, origin: Origin, client
):
    edge = await edge_factory("timeouts.first_byte=0.2")
    origin.state.manifest("/slow.m3u8", delay=2)
    status, headers, _ = await get(client, f"{edge.url}/slow.m3u8")
    assert (status, headers["X-Edge-Error"]) == (504, "timeout")
    status, _, body = await get(client, f"{edge.url}/missing.m3u8")
    assert (status, body) == (404, b"unknown manifest")


async def test_404_is_cached_briefly(edge_factory: EdgeFactory, origin: Origin, client):
    edge = await edge_factory("cache.error_ttl=30")
    for _ in range(3):
        assert (await get(client, f"{edge.url}/missing.m3u8"))[0] == 404
    assert origin.state.hits["/missing.m3u8"] == 1


async def test_oversized_manifest_is_502(edge_factory: EdgeFactory, origin: Origin, client):
    edge = await edge_factory("max_manifest_bytes=1000")
    origin.state.manifest("/big.m3u8", body=BIG_PLAYLIST)
    status, headers, body = await get(client, f"{edge.url}/big.m3u8")
    assert (status, headers["X-Edge-Error"]) == (502, "too_large")
    assert b"larger than 1000 bytes" in body


async def test_gzip_for_clients_that_accept_it(edge: Edge, origin: Origin, client):
    origin.state.manifest("/big.m3u8", body=BIG_PLAYLIST)
    status, headers, body = await get(client, f"{edge.url}/big.m3u8", **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == BIG_PLAYLIST
    assert len(body) < len(BIG_PLAYLIST) / 4
    _, headers, body = await get(client, f"{edge.url}/big.m3u8", **{"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in headers
    assert body == BIG_PLAYLIST


async def test_conditional_manifest_requests_get_304(edge: Edge, origin: Origin, client):
    origin.state.manifest(
        "/a.m3u8", extra_headers={"Last-Modified": "Tue, 01 Sep 2026 10:00:00 GMT"}
    )
    _, headers, _ = await get(client, f"{edge.url}/a.m3u8")
    status, h304, body = await get(
        client, f"{edge.url}/a.m3u8", **{"If-None-Match": headers["ETag"]}
    )
    assert (status, body) == (304, b"")
    assert h304["ETag"] == headers["ETag"]
    assert h304["Cache-Control"] == "max-age=60"
    status, _, _ = await get(
        client, f"{edge.url}/a.m3u8", **{"If-Modified-Since": "Tue, 01 Sep 2026 10:00:00 GMT"}
    )
    assert status == 304
    status, _, _ = await get(client, f"{edge.url}/a.m3u8", **{"If-None-Match": '"other"'})
    assert status == 200


async def test_head_on_a_manifest(edge: Edge, origin: Origin, client):
    origin.state.manifest("/a.m3u8")
    async with client.head(f"{edge.url}/a.m3u8") as r:
        assert r.status == 200
        assert r.headers["Content-Length"] == str(len(PLAYLIST))
        assert await r.read() == b""


async def test_manifest_found_by_content_type_moves_to_the_manifest_route(
    edge: Edge, origin: Origin, client
):
    origin.state.manifest("/playlist", content_type="application/dash+xml", body=b"<MPD/>")
    for expected in ("MISS", "HIT", "HIT"):
        status, headers, body = await get(client, f"{edge.url}/playlist")
        assert (status, body, headers["X-Cache"]) == (200, b"<MPD/>", expected)
    assert origin.state.hits["/playlist"] == 1
    assert edge.metric("edge_assembler_requests_total", route="manifest", status="200") == 3


async def test_query_strings_are_part_of_the_cache_key(edge: Edge, origin: Origin, client):
    origin.state.manifest("/a.m3u8")
    await get(client, f"{edge.url}/a.m3u8?v=1")
    await get(client, f"{edge.url}/a.m3u8?v=2")
    await get(client, f"{edge.url}/a.m3u8?v=1")
    assert origin.state.hits["/a.m3u8"] == 2


async def test_cache_entry_cap_evicts_least_recently_used(
    edge_factory: EdgeFactory, origin: Origin, client
):
    edge = await edge_factory("cache.max_entries=2")
    for name in ("a", "b", "c"):
        origin.state.manifest(f"/{name}.m3u8")
        await get(client, f"{edge.url}/{name}.m3u8")
    assert edge.metric("edge_assembler_cache_entries") == 2
    await get(client, f"{edge.url}/a.m3u8")
    assert origin.state.hits["/a.m3u8"] == 2
