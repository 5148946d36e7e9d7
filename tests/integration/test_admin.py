"""Admin endpoints: liveness, readiness, and the Prometheus exposition."""

from prometheus_client.parser import text_string_to_metric_families
from yarl import URL

from edge_assembler.server.state import READINESS
from tests.conftest import Edge, EdgeFactory, Origin


async def test_healthz_and_readyz(edge: Edge, client):
    async with client.get(f"{edge.url}/_edge/healthz") as r:
        assert (r.status, await r.text()) == (200, "ok\n")
    async with client.get(f"{edge.url}/_edge/readyz") as r:
        assert r.status == 200
    edge.app[READINESS].draining = True
    async with client.get(f"{edge.url}/_edge/readyz") as r:
        assert (r.status, await r.text()) == (503, "not ready: draining\n")


async def test_admin_prefix_is_configurable_and_never_proxied(
    edge_factory: EdgeFactory, origin: Origin, client
):
    edge = await edge_factory("admin_prefix=/ops/edge")
    async with client.get(f"{edge.url}/ops/edge/healthz") as r:
        assert r.status == 200
    async with client.get(f"{edge.url}/_edge/healthz") as r:
        assert r.status == 404  # now an ordinary path, passed to the origin
    assert origin.state.hits["/_edge/healthz"] == 1


async def test_metrics_cover_requests_origin_cache_and_bytes(edge: Edge, origin: Origin, client):
    origin.state.manifest("/a.m3u8")
    for path in ("/a.m3u8", "/a.m3u8", "/files/seg.ts", "/files/%2e%2e/x"):
        async with client.get(URL(f"{edge.url}{path}", encoded=True)) as r:
            await r.read()
    async with client.get(f"{edge.url}/_edge/metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=")
        text = await r.text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("edge_assembler_requests_total", route="manifest", status="200") == 2
    assert value("edge_assembler_requests_total", route="passthrough", status="200") == 1
    assert value("edge_assembler_requests_total", route="rejected", status="400") == 1
    assert value("edge_assembler_rejected_requests_total", reason="traversal") == 1
    assert value("edge_assembler_cache_lookups_total", result="miss") == 1
    assert value("edge_assembler_cache_lookups_total", result="hit") == 1
    assert value("edge_assembler_origin_fetches_total", kind="manifest", outcome="ok") == 1
    assert value("edge_assembler_origin_fetches_total", kind="passthrough", outcome="ok") == 1
    assert value("edge_assembler_streamed_bytes_total") == 256 * 1024
    assert value("edge_assembler_request_duration_seconds_count", route="manifest") == 2
    assert value("edge_assembler_origin_fetch_duration_seconds_count", kind="manifest") == 1
    assert value("edge_assembler_coalesced_waiters_total") == 0
    assert value("edge_assembler_cpu_seconds") > 0  # this process's CPU time
    assert value("edge_assembler_cache_entries") == 1
