"""One benchmark run: the pure-core micro benchmarks, then every load scenario against the
edge and its baselines, in the same run on the same machine, into one run dict
(``bench.report``; /tmp/… paths never leave this module).

For each system of a scenario: a warm-up, the maximum sustainable throughput (closed loop,
wrk), then latency at fixed arrival rates of 25/50/75 % of that maximum (open loop,
coordinated-omission corrected, ``bench.loadgen``). Then the scenarios without a ramp: a
bundle hot swap under load and the edge's cold start.
"""

import asyncio
import contextlib
import os
import platform
import statistics
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import aiohttp

from bench import loadgen, servers, stack
from bench.micro import micro_rows
from bench.model import ClosedLoop, OpenLoop
from bench.report import Progress, half_index
from bench.scenarios import (
    NGINX,
    REWRITER,
    SCENARIOS,
    SPECIAL,
    STATIC,
    Baseline,
    Context,
    Scenario,
    Settings,
)
from edge_assembler.demo.media import ensure_media

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
MEDIA_CACHE: Final = REPO_ROOT / ".cache" / "demo-media"
SWAP_FRACTION: Final = 0.5
COLD_STARTS: Final = 3
PROBE_LOOP: Final = 2_000_000  # iterations of the CPU probe's loop: about 0.1 s
Json = dict[str, Any]


async def run(settings: Settings, names: Sequence[str], logs: Path) -> Json:
    """Measure the scenarios ``names`` (all when empty) and return the run dict."""
    started = time.monotonic()
    began = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    serving, loading = stack.split_cpus()
    os.sched_setaffinity(0, loading)  # this process, its threads, wrk and the origins
    chosen = [s for s in SCENARIOS if not names or s.name in names]
    special = [name for name in SPECIAL if not names or name in names]
    steps = 1 + len(chosen) * settings.repeats * (1 + len(settings.fractions)) + len(special)
    progress = Progress(steps)
    progress.step("micro benchmarks")
    micro = micro_rows(settings.micro_rounds)
    steadiness = cpu_steadiness(min(serving), settings.probe_samples)
    media = ensure_media(MEDIA_CACHE)
    results: list[Json] = []
    async with contextlib.AsyncExitStack() as stack_:
        origin = await stack_.enter_async_context(stack.origin(media, logs))
        files = await stack_.enter_async_context(servers.nginx(media / "hls"))
        edge = await stack_.enter_async_context(
            stack.edge(origin.url, files.url, logs, workers=settings.workers)
        )
        stack.pin(edge.running.pids, serving)
        http = await stack_.enter_async_context(aiohttp.ClientSession())
        ctx = Context(edge.url, origin.url, http, settings)
        for i, scenario in enumerate(chosen):
            settle = 0.0 if i else settings.settle_seconds  # the run's first warm-up only
            # The machine's speed as this scenario starts: a shared VM's can change in a run.
            probe = cpu_steadiness(min(serving), max(2, settings.probe_samples // 4))
            result = await _scenario(scenario, ctx, edge, media, progress, serving, settle)
            results.append({**result, "cpu_probe_ms": probe["median_ms"]})
        if "bundle-hot-swap" in special:
            progress.step("bundle-hot-swap")
            results.append(await _hot_swap(ctx, edge, results))
    if "cold-start" in special:
        progress.step("cold-start")
        results.append(await _cold_start(settings, logs))
    progress.done()
    return {
        "started": began,
        "seconds": round(time.monotonic() - started, 1),
        "quick": settings.quick,
        "machine": {**machine_info(), "cpu_steadiness": steadiness},
        "versions": _versions(),
        "config": {
            "workers": settings.workers,
            "connections": settings.connections,
            "closed_seconds": settings.closed_seconds,
            "open_seconds": settings.open_seconds,
            "load_fractions": list(settings.fractions),
            "sessions": settings.sessions,
            "live_sessions": settings.live_sessions,
            "server_cpus": sorted(serving),
            "load_cpus": sorted(loading),
            "closed_runs": settings.closed_runs,
            "open_slices": settings.open_slices,
            "warmup_seconds": settings.warmup_seconds,
            "settle_seconds": settings.settle_seconds,
            "repeats": settings.repeats,
        },
        "scenarios": results,
        "micro": micro,
        "targets": targets(results, micro),
    }


async def _scenario(
    scenario: Scenario,
    ctx: Context,
    edge: stack.Edge,
    media: Path,
    progress: Progress,
    serving: set[int],
    settle: float,
) -> Json:
    """Every system of ``scenario`` ramped ``repeats`` times, in rounds; within a round the
    systems take turns at every measurement (``_round``). The edge's first warm-up lasts
    at least ``settle`` seconds."""
    repeats = ctx.settings.repeats
    urls = await scenario.urls(ctx)
    url_count = len(urls)
    body = await _answer(ctx.http, urls[0])
    ramps: dict[str, list[Json]] = {"edge": []}
    notes: list[str] = []
    metrics: dict[str, float] = {}
    waited = 0.0
    async with contextlib.AsyncExitStack() as running:
        baselines: dict[str, list[str]] = {}
        for baseline in scenario.baselines:
            server, paths = await running.enter_async_context(_baseline(baseline, body, ctx, media))
            stack.pin(server.pids, serving)
            baselines[baseline.system] = [server.url + p for p in paths]
            ramps[baseline.system] = []
        for round_ in range(repeats):
            of = f" ({round_ + 1}/{repeats})" if repeats > 1 else ""
            if round_:
                # New sessions each round: a live session's cost grows with the breaks
                # since it joined, so every round measures sessions of the same age.
                urls = await scenario.urls(ctx)
            measured, (fetched, served), idle = await _round(
                {"edge": urls, **baselines},
                ctx,
                f"{scenario.name}{of}",
                progress,
                settle=0.0 if round_ else settle,
            )
            waited += idle
            for system, ramp in measured.items():
                ramps[system].append(ramp)
            if round_ == 0 and scenario.coalescing:
                metrics["origin_requests_per_1k"] = round(1000 * fetched / max(served, 1), 3)
                notes.append(f"origin requests: {fetched} for {served} viewer requests")
            if round_ == 0 and scenario.memory:
                metrics["rss_mb_per_worker"] = await _memory(scenario, ctx, edge)
                notes.append(
                    f"RSS: the largest worker after {ctx.settings.live_sessions} sessions "
                    "each loaded their playlist"
                )
    notes.append(f"idle waits between load phases: {waited:.1f} s in all")
    return {
        "name": scenario.name,
        "description": scenario.description,
        "url_count": url_count,
        "systems": {system: _repeated(runs) for system, runs in ramps.items()},
        "notes": notes,
        "metrics": metrics,
    }


async def _round(
    systems: Mapping[str, Sequence[str]],
    ctx: Context,
    label: str,
    progress: Progress,
    *,
    settle: float,
) -> tuple[dict[str, Json], tuple[int, int], float]:
    """One ramp of each system (name: its URLs): a warm-up (the edge's at least
    ``settle`` seconds: a new process's segment pass-through sped up over its first half
    minute of load), the maximum throughput (the median of ``closed_runs`` wrk runs),
    then the open-loop latency at each load fraction of it (``open_slices`` runs, one
    histogram). The systems take turns run by run, so a slow spell of the machine falls
    on all of them and each median draws on the whole round; after each run the CPUs go
    idle (``stack.idle``), so that no system's backlog runs into the next one's. Each
    system's phases go on through its URLs where the last one stopped: a URL comes back
    only after all the others (the cohort-miss scenario relies on it).

    Also returned: the origin requests made after the warm-ups, and the edge's requests
    meanwhile (the baselines ask the origin nothing after their warm-up); the seconds
    spent waiting for idle CPUs."""
    settings = ctx.settings
    orders = {system: _Rotation(urls) for system, urls in systems.items()}
    waited = 0.0
    progress.step(f"{label}: maximum throughput")
    for system, order in orders.items():
        warmup = settings.warmup_seconds
        if system == "edge":
            warmup = max(warmup, settle)
        if warmup:
            await _closed(order, settings, warmup)
            waited += await stack.idle()
    before = await _origin_requests(ctx)
    runs: dict[str, list[ClosedLoop]] = {system: [] for system in systems}
    for _ in range(settings.closed_runs):
        for system, order in orders.items():
            seconds = settings.closed_seconds / settings.closed_runs
            runs[system].append(await _closed(order, settings, seconds))
            waited += await stack.idle()
    maxima = {system: sorted(r, key=lambda c: c.rps)[len(r) // 2] for system, r in runs.items()}
    opened: dict[str, list[OpenLoop]] = {system: [] for system in systems}
    for fraction in settings.fractions:
        progress.step(f"{label}: latency at {fraction:.0%} of the maximum")
        samples: dict[str, list[loadgen.OpenSample]] = {system: [] for system in systems}
        for _ in range(settings.open_slices):
            for system, order in orders.items():
                sample = await loadgen.open_sample(
                    order.next(),
                    rate=max(1.0, maxima[system].rps * fraction),
                    seconds=settings.open_seconds / settings.open_slices,
                    connections=settings.connections,
                )
                order.advance(sample.requests)
                samples[system].append(sample)
                waited += await stack.idle()
        for system, taken in samples.items():
            opened[system].append(loadgen.combine(taken))
    fetched = await _origin_requests(ctx) - before
    served = sum(r.requests for r in runs["edge"]) + sum(o.requests for o in opened["edge"])
    ramps: dict[str, Json] = {
        system: {
            "closed": {
                **asdict(maxima[system]),
                "runs_rps": [round(r.rps, 1) for r in runs[system]],
            },
            "open": [_open(o) for o in opened[system]],
        }
        for system in systems
    }
    return ramps, (fetched, served), waited


async def _closed(order: "_Rotation", settings: Settings, seconds: float) -> ClosedLoop:
    result = await asyncio.to_thread(
        loadgen.closed_loop, order.next(), seconds=seconds, connections=settings.connections
    )
    order.advance(result.requests)
    return result


def _repeated(runs: Sequence[Json]) -> Json:
    """One system's ramps: the one with the median maximum stands for the system (the
    lower middle one of an even count); with more than one, ``repeats`` lists each ramp's
    maximum and latencies, and ``spread`` the range of each over its median."""
    ordered = sorted(runs, key=lambda r: float(r["closed"]["rps"]))
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    if len(runs) < 2:
        return chosen
    chosen["repeats"] = [
        {
            "rps": r["closed"]["rps"],
            "open": [
                {"target_rps": o["target_rps"], **{q: o["latency"][q] for q in ("p50", "p99")}}
                for o in r["open"]
            ],
        }
        for r in runs
    ]
    spread: Json = {"max_rps": _spread([float(r["closed"]["rps"]) for r in runs])}
    for i, fraction in enumerate(_fractions(runs[0])):
        for q in ("p50", "p99"):
            values = [float(r["open"][i]["latency"][q]) for r in runs]
            spread[f"{q}@{fraction:g}"] = _spread(values)
    chosen["spread"] = spread
    return chosen


def _fractions(ramp: Json) -> list[float]:
    rps = float(ramp["closed"]["rps"])
    return [round(float(o["target_rps"]) / rps, 2) for o in ramp["open"]]


def _spread(values: Sequence[float]) -> float:
    """(largest - smallest) / median, as a fraction."""
    middle = statistics.median(values)
    return round((max(values) - min(values)) / middle, 4) if middle else 0.0


@contextlib.asynccontextmanager
async def _baseline(
    baseline: Baseline, body: bytes, ctx: Context, media: Path
) -> AsyncIterator[tuple[servers.Running, list[str]]]:
    """The running baseline and the paths to ask it for."""
    if baseline.system == NGINX:
        async with servers.nginx(media / "hls") as running:
            yield running, [baseline.path]
    elif baseline.system == STATIC:
        async with servers.static_body(body, "application/octet-stream") as running:
            yield running, ["/"]
    elif baseline.system == REWRITER:
        async with servers.naive_rewriter(
            ctx.origin, baseline.pod, ad_offsets=baseline.offsets
        ) as running:
            yield running, [baseline.path]
    else:
        raise ValueError(f"unknown baseline {baseline.system}")


class _Rotation:
    """A URL list read on from where the last load phase stopped."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self.at = 0

    def next(self) -> list[str]:
        return self.urls[self.at :] + self.urls[: self.at]

    def advance(self, requests: int) -> None:
        self.at = (self.at + requests) % len(self.urls)


def _open(result: OpenLoop) -> Json:
    data = asdict(result)
    data["histogram"] = [list(point) for point in result.histogram]
    return data


async def _answer(http: aiohttp.ClientSession, url: str) -> bytes:
    async with http.get(url) as r:
        body = await r.read()
        if r.status != 200:
            raise RuntimeError(f"{url}: {r.status}")
        return body


async def _origin_requests(ctx: Context) -> int:
    async with ctx.http.get(f"{ctx.origin}/_count") as r:
        return int((await r.json())["requests"])


async def _memory(scenario: Scenario, ctx: Context, edge: stack.Edge) -> float:
    """The largest edge worker's RSS once ``live_sessions`` sessions loaded the playlist."""
    held = replace(ctx.settings, sessions=ctx.settings.live_sessions)
    many = Context(ctx.edge, ctx.origin, ctx.http, held)
    urls = await scenario.urls(many)
    await loadgen.open_loop(urls, rate=2000.0, seconds=len(urls) / 2000.0, connections=32)
    workers = [pid for pid in edge.running.pids if pid != edge.running.pid] or [edge.running.pid]
    return round(max(stack.rss_mb(workers)), 1)


async def _hot_swap(ctx: Context, edge: stack.Edge, results: Sequence[Json]) -> Json:
    """Open-loop load on the personalised VOD media playlists while a new bundle revision
    is dropped in half way; compared with the same rate without a swap."""
    scenario = next(s for s in SCENARIOS if s.name == "vod-media-cohort-hit")
    urls = await scenario.urls(ctx)
    measured = next((r for r in results if r["name"] == scenario.name), None)
    if measured is not None:
        rate = measured["systems"]["edge"]["closed"]["rps"] * SWAP_FRACTION
    else:
        closed = await asyncio.to_thread(
            loadgen.closed_loop, urls, seconds=ctx.settings.closed_seconds, connections=32
        )
        rate = closed.rps * SWAP_FRACTION
    seconds = max(ctx.settings.open_seconds, 4.0)
    before = await _revision(ctx)
    load = asyncio.ensure_future(loadgen.open_loop(urls, rate=rate, seconds=seconds))
    await asyncio.sleep(seconds / 2)
    await asyncio.to_thread(edge.swap_bundle)
    result = await load
    after = await _revision(ctx)
    return {
        "name": "bundle-hot-swap",
        "description": "vod-media-cohort-hit at half its maximum while a new bundle revision "
        "is signed and dropped into the watched directory half way through.",
        "url_count": len(urls),
        "systems": {"edge": {"closed": None, "open": [_open(result)]}},
        "notes": [f"bundle revision {before} -> {after} during the run"],
        "metrics": {"swapped": float(after != before)},
    }


async def _revision(ctx: Context) -> int:
    async with ctx.http.get(f"{ctx.edge}/_edge/bundles") as r:
        return int((await r.json())["active_revision"])


async def _cold_start(settings: Settings, logs: Path) -> Json:
    """Seconds from starting an edge process to its first personalised answer (median of
    ``COLD_STARTS``), with a fresh origin."""
    media = ensure_media(MEDIA_CACHE)
    times: list[float] = []
    async with contextlib.AsyncExitStack() as running:
        origin = await running.enter_async_context(stack.origin(media, logs))
        files = await running.enter_async_context(servers.nginx(media / "hls"))
        http = await running.enter_async_context(aiohttp.ClientSession())
        for _ in range(COLD_STARTS):
            begun = time.monotonic()
            async with stack.edge(origin.url, files.url, logs, workers=settings.workers) as edge:
                await _answer(http, f"{edge.url}/bench/vod/master.m3u8?sid=cold")
                times.append(time.monotonic() - begun)
    return {
        "name": "cold-start",
        "description": "From starting `edge-assembler serve` (bundle verified and activated) "
        "to its first personalised answer.",
        "url_count": 1,
        "systems": {},
        "notes": [f"runs: {', '.join(f'{t:.2f} s' for t in times)}"],
        "metrics": {"cold_start_seconds": round(statistics.median(times), 3)},
    }


# -- DESIGN §6 targets ---------------------------------------------------------------------


def targets(results: Sequence[Json], micro: Sequence[Mapping[str, Any]]) -> list[Json]:
    """Each DESIGN §6 target this run measured, met or not: the micro benchmarks' own
    targets, then those of the load scenarios."""
    out: list[Json] = []
    for row in micro:
        if row.get("target_us") is not None:
            us, target = float(row["us"]), float(row["target_us"])
            what = f"{row['suite']}: {row['scenario']}: {row['step']}"
            out.append(_target(what, f"≤ {target:g} µs", f"{us:.3g} µs", us <= target))
    by_name = {r["name"]: r for r in results}
    for name in ("vod-media-cohort-hit", "live-media"):
        ratio = _rps_ratio(by_name.get(name), STATIC)
        if ratio is not None:
            what = f"{name}: personalised req/s over the same body served static, one worker"
            out.append(_target(what, "≥ 0.6x", f"{ratio:.3g}x", ratio >= 0.6))
    added = _added_p99(by_name.get("vod-media-cohort-hit"), by_name.get("manifest-passthrough"))
    if added is not None:
        what = (
            "p99 added over pass-through at half of max load (vod-media-cohort-hit, against "
            "manifest-passthrough at the nearest rate)"
        )
        out.append(_target(what, "≤ 2 ms", f"{added:.3g} ms", added <= 2))
    metrics = by_name["live-media"]["metrics"] if "live-media" in by_name else {}
    if "origin_requests_per_1k" in metrics:
        per_1k = float(metrics["origin_requests_per_1k"])
        what = "live-media: origin requests per 1k viewer requests (single flight)"
        # Each of the origin's playlist updates (one per 2 s) is fetched once.
        out.append(_target(what, "one per origin update", f"{per_1k:.3g}", per_1k < 10))
    if "rss_mb_per_worker" in metrics:
        rss = float(metrics["rss_mb_per_worker"])
        what = "RSS per worker with the live sessions held"
        out.append(_target(what, "≤ 200 MB", f"{rss:.3g} MB", rss <= 200))
    return out


def _target(what: str, target: str, measured: str, met: bool) -> Json:
    return {"what": what, "target": target, "measured": measured, "met": met}


def _rps_ratio(result: Json | None, baseline: str) -> float | None:
    if result is None or baseline not in result["systems"]:
        return None
    edge, base = result["systems"]["edge"]["closed"], result["systems"][baseline]["closed"]
    return float(edge["rps"]) / float(base["rps"])


def _added_p99(personalised: Json | None, passthrough: Json | None) -> float | None:
    """The p99 of the personalised playlist at half its maximum throughput, less that of
    pass-through at the open-loop rate nearest to it (milliseconds)."""
    if personalised is None or passthrough is None:
        return None
    mine = _half(personalised["systems"]["edge"])
    rates = passthrough["systems"]["edge"]["open"]
    if mine is None or not rates:
        return None
    rate = float(mine["target_rps"])
    nearest = min(rates, key=lambda o: abs(float(o["target_rps"]) - rate))
    return float(mine["latency"]["p99"]) - float(nearest["latency"]["p99"])


def _half(system: Json) -> Json | None:
    """The open loop at half the maximum throughput."""
    i = half_index(float(system["closed"]["rps"]), system["open"])
    return None if i is None else system["open"][i]


def cpu_steadiness(cpu: int, samples: int) -> Json:
    """A fixed pure-Python loop timed ``samples`` times on ``cpu``, before the load: how
    steady the servers' CPU is. ``sample_spread`` is (slowest - fastest) / median of single
    samples (about 0.1 s each); ``half_medians`` the medians of the first and second half,
    which is what medians of many short measurements can hope for."""
    times = [probe_seconds(cpu) for _ in range(samples)]
    half = len(times) // 2
    middle = statistics.median(times)
    return {
        "samples": samples,
        "median_ms": round(1000 * middle, 1),
        "sample_spread": round((max(times) - min(times)) / middle, 4),
        "half_medians_ms": [
            round(1000 * statistics.median(times[:half]), 1),
            round(1000 * statistics.median(times[half:]), 1),
        ],
    }


def probe_seconds(cpu: int) -> float:
    """One timed pass of a fixed loop, in this thread pinned to ``cpu`` for the while."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        began = time.perf_counter()
        total = 0
        for i in range(PROBE_LOOP):
            total += i * i % 7
        return time.perf_counter() - began
    finally:
        os.sched_setaffinity(0, before)


def machine_info() -> Json:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _versions() -> Json:
    out: Json = {
        name: version(name) for name in ("edge-assembler", "aiohttp", "uvloop", "m3u8", "msgspec")
    }
    out["nginx"] = servers.nginx_version()
    out["wrk"] = loadgen.wrk_version()
    return out
