"""Prometheus collectors of one edge app. Label values come from closed sets only
(routes, outcomes, status codes, reason codes), never from URLs or viewers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (the worker processes of ``serve --workers N``),
prometheus_client keeps every value in a file of that directory, and the exposition merges
the files of all workers; each gauge's ``multiprocess_mode`` says how."""

import os
from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# The *_created series double the exposition size and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "edge_assembler_requests",
            "Requests answered, by route and status code",
            ["route", "status"],
            registry=r,
        )
        self.request_duration = Histogram(
            "edge_assembler_request_duration_seconds",
            "Time to answer a request (to the end of the body), by route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.rejected = Counter(
            "edge_assembler_rejected_requests",
            "Requests refused before reaching an origin, by reason",
            ["reason"],
            registry=r,
        )
        # Gauges of one worker's own state add up over the live workers: a dead worker
        # answers nothing and holds no cache.
        self.in_flight = Gauge(
            "edge_assembler_in_flight_requests",
            "Requests being answered",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.origin_fetches = Counter(
            "edge_assembler_origin_fetches",
            "Origin requests by kind (manifest, passthrough) and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.origin_duration = Histogram(
            "edge_assembler_origin_fetch_duration_seconds",
            "Origin time to response headers (passthrough) or whole body (manifest)",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.cache_lookups = Counter(
            "edge_assembler_cache_lookups",
            "Manifest cache lookups by result (hit, miss, stale, revalidated, expired)",
            ["result"],
            registry=r,
        )
        self.coalesced = Counter(
            "edge_assembler_coalesced_waiters",
            "Requests that waited on another request's origin fetch",
            registry=r,
        )
        # 1 while this worker's readiness endpoint answers 200; the node reads as ready only
        # when every live worker is.
        self.ready = Gauge(
            "edge_assembler_ready",
            "1 while the readiness endpoint answers 200 (started, a bundle active, not draining)",
            registry=r,
            multiprocess_mode="livemin",
        )
        # One series per worker ("all" labels each with its pid): the node's CPU by worker.
        self.cpu_seconds = Gauge(
            "edge_assembler_cpu_seconds",
            "CPU time (user + system) this process has used, refreshed every few seconds",
            registry=r,
            multiprocess_mode="all",
        )
        self.cache_entries = Gauge(
            "edge_assembler_cache_entries",
            "Manifests held in the cache",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.cache_bytes = Gauge(
            "edge_assembler_cache_bytes",
            "Bytes of manifests held in the cache",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.bytes_streamed = Counter(
            "edge_assembler_streamed_bytes",
            "Body bytes streamed to clients on the passthrough route",
            registry=r,
        )
        self.stream_aborts = Counter(
            "edge_assembler_stream_aborts",
            "Passthrough bodies cut short, by side (client, origin)",
            ["side"],
            registry=r,
        )
        # Signed rule bundles (BUNDLES §4.8); `code` is a bundle reason code or "".
        self.bundle_activations = Counter(
            "edge_assembler_bundle_activations",
            "Bundle offers by result (activated, not_modified, rejected) and reason code",
            ["result", "code"],
            registry=r,
        )
        # Every worker activates bundles on its own: the bundle gauges show the laggard
        # worker (lowest revision, soonest expiry, oldest success, stale if any is), so the
        # node reads as up to date only once all of its workers are.
        self.bundle_active_revision = Gauge(
            "edge_assembler_bundle_active_revision",
            "Revision of the active rule bundle (0: none)",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.bundle_expiry_seconds = Gauge(
            "edge_assembler_bundle_expiry_seconds",
            "Seconds until the active bundle expires (negative once expired)",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.bundle_last_success_timestamp = Gauge(
            "edge_assembler_bundle_last_success_timestamp",
            "Unix time of the last activation or confirmed unchanged check",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.bundle_stale = Gauge(
            "edge_assembler_bundle_stale",
            "1 while the active bundle is past its expiry",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.bundle_stale_requests = Counter(
            "edge_assembler_bundle_stale_requests",
            "Manifest requests while the active bundle was expired, by stale policy action",
            ["action"],
            registry=r,
        )
        self.bundle_trust_reloads = Counter(
            "edge_assembler_bundle_trust_reloads",
            "Trust file loads by result (ok, error)",
            ["result"],
            registry=r,
        )
        # Per-viewer manifests (DESIGN §2, §4); `reason` is a fail-open reason code.
        self.fail_open = Counter(
            "edge_assembler_fail_open",
            "Manifests served unpersonalised, or without an asset, by reason",
            ["reason"],
            registry=r,
        )
        # Live break history (DESIGN §4): reads, breaks this node recorded first, breaks
        # another node recorded first, and calls that failed (the request fails open).
        self.live_history = Counter(
            "edge_assembler_live_history",
            "Live break history operations by result (read, recorded, raced, unavailable)",
            ["result"],
            registry=r,
        )
        self.parsed_models = Counter(
            "edge_assembler_parsed_models",
            "Parsed manifest lookups by origin body version (hit: shared parse, miss)",
            ["result"],
            registry=r,
        )
        self.cohort_renders = Counter(
            "edge_assembler_cohort_renders",
            "Personalised renders by result (hit: bytes shared with an equal plan, miss)",
            ["result"],
            registry=r,
        )
        self.personalise_duration = Histogram(
            "edge_assembler_personalise_duration_seconds",
            "Time spent in decide, apply, check and render for one manifest (no fetches)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

        self._observed: list[tuple[Gauge, Callable[[], float]]] = []

    def observe(self, gauge: Gauge, value: Callable[[], float]) -> None:
        """Report ``value()`` as ``gauge``: read at each scrape in a single process; in
        multiprocess mode (where a scrape reads the workers' files) stored by :meth:`refresh`."""
        if os.environ.get(MULTIPROC_DIR_ENV):
            self._observed.append((gauge, value))
            gauge.set(value())
        else:
            gauge.set_function(value)

    def refresh(self) -> None:
        """Store the current value of every observed gauge (multiprocess mode)."""
        for gauge, value in self._observed:
            gauge.set(value())

    def exposition(self) -> bytes:
        """The Prometheus text exposition: of this process, or of every worker when
        prometheus_client runs in multiprocess mode."""
        directory = os.environ.get(MULTIPROC_DIR_ENV)
        if not directory:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(merged)
