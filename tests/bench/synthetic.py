"""A synthetic benchmark run dict, shaped as ``bench.run.run`` returns it: two scenarios,
the edge at 4,000 req/s and aiohttp-static at 20,000, each with an open loop at 25, 50 and
75 % of its maximum."""

from typing import Any

SCENARIOS = ("personalised-vod-media", "segment-pass-through")
SYSTEMS = {"edge": 4000.0, "aiohttp-static": 20000.0}


def percentiles(base: float) -> dict[str, float]:
    return {"p50": base, "p90": base * 2, "p99": base * 5, "p999": base * 9, "max": base * 20}


def open_loop(max_rps: float, fraction: float) -> dict[str, Any]:
    base = 0.4 / (1 - fraction)
    histogram = [[p, base * (1 + p / 10)] for p in (0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0)]
    return {
        "target_rps": max_rps * fraction,
        "achieved_rps": max_rps * fraction * 0.99,
        "requests": int(max_rps * fraction * 10),
        "errors": 0,
        "seconds": 10.0,
        "latency": percentiles(base),
        "histogram": histogram,
        "late_sends": 0,
    }


def synthetic_run() -> dict[str, Any]:
    scenarios = []
    for name in SCENARIOS:
        systems = {
            system: {
                "closed": {
                    "rps": rps,
                    "requests": int(rps * 10),
                    "errors": 3 if system == "edge" else 0,
                    "connections": 32,
                    "seconds": 10.0,
                    "latency": percentiles(1.5),
                },
                "open": [open_loop(rps, f) for f in (0.25, 0.5, 0.75)],
            }
            for system, rps in SYSTEMS.items()
        }
        scenarios.append(
            {
                "name": name,
                "description": f"Synthetic {name}.",
                "url_count": 1000,
                "systems": systems,
                "notes": [f"origin requests per 1k viewer requests in {name}: 1.0"],
                "metrics": {"origin_requests_per_1k": 1.0, "rss_mb_per_worker": 85.2},
            }
        )
    return {
        "started": "2026-11-28T10:30:00Z",
        "seconds": 412.3,
        "quick": False,
        "machine": {"cpus": 2, "cpu_model": "Test | CPU", "memory_gb": 24, "python": "3.11.7"},
        "versions": {"edge_assembler": "0.1.0", "nginx": "1.22.1", "wrk": "4.1.0"},
        "config": {
            "workers": 1,
            "connections": 32,
            "closed_seconds": 15.0,
            "closed_runs": 15,
            "open_seconds": 10.0,
            "open_slices": 5,
            "warmup_seconds": 2.0,
            "settle_seconds": 30.0,
            "load_fractions": [0.25, 0.5, 0.75],
        },
        "scenarios": scenarios,
        "micro": [
            {
                "suite": "hls",
                "scenario": "live window",
                "step": "cold",
                "us": 44.1,
                "baseline_us": 1000.0,
                "target_us": 50.0,
            },
            {
                "suite": "hls",
                "scenario": "1 h VOD",
                "step": "parse",
                "us": 812.0,
                "baseline_us": None,
                "target_us": None,
            },
        ],
        "targets": [
            {"what": "live cold", "target": "≤ 50 µs", "measured": "44.1 µs", "met": True},
            {"what": "req/s vs static", "target": "≥ 0.6x", "measured": "0.2x", "met": False},
        ],
    }
