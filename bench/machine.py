"""``python -m bench --machine-check MINUTES``: can this machine repeat a median within
``REPEAT_TOLERANCE`` at all? Nothing of the edge runs. nginx serves the ad's playlist and a
520 kB segment; one 1 s wrk run of each (the CPUs idle after each, as in a scenario), then
one pass of the CPU probe, over and over for the minutes given. The medians of windows of
consecutive samples, as long as a scenario's maximum and longer, are compared pairwise: the
share of pairs within the tolerance and the worst pair. A machine whose nginx figures move
more than that between windows cannot show the edge's within it either.
"""

import asyncio
import itertools
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from bench import loadgen, servers, stack
from bench.report import REPEAT_TOLERANCE, difference, num, percent, table
from bench.run import MEDIA_CACHE, machine_info, probe_seconds
from edge_assembler.demo.media import ensure_media

# Sample series: what nginx is asked for (below the media's ``hls`` directory).
PATHS: Final = {
    "playlist req/s": "/ad/720p/index.m3u8",
    "segment req/s": "/content/720p/seg_003.ts",
}
PROBE: Final = "CPU probe ms"
WINDOWS: Final = (15, 40)  # samples per window: a scenario's 15 closed-loop runs, and more
CONNECTIONS: Final = 32
Json = dict[str, Any]


async def machine_check(seconds: float, windows: Sequence[int] = WINDOWS) -> Json:
    """Sample for ``seconds`` (the last sample started before they ran out); the samples
    and their windows' agreement (``agreement``)."""
    serving, loading = stack.split_cpus()
    os.sched_setaffinity(0, loading)
    media = ensure_media(MEDIA_CACHE)
    began = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    samples: list[Json] = []
    async with servers.nginx(media / "hls") as files:
        stack.pin(files.pids, serving)
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            sample: Json = {"t": round(time.monotonic() - start, 2)}
            for series, path in PATHS.items():
                result = await asyncio.to_thread(
                    loadgen.closed_loop, [files.url + path], seconds=1, connections=CONNECTIONS
                )
                if result.errors:
                    raise RuntimeError(f"nginx answered {path} with {result.errors} errors")
                await stack.idle()
                sample[series] = round(result.rps, 1)
            sample[PROBE] = round(1000 * probe_seconds(min(serving)), 2)
            samples.append(sample)
    return {
        "started": began,
        "seconds": round(time.monotonic() - start, 1),
        "machine": machine_info(),
        "nginx": servers.nginx_version(),
        "windows": list(windows),
        "samples": samples,
        "agreement": agreement(samples, windows),
    }


def agreement(samples: Sequence[Mapping[str, float]], windows: Sequence[int]) -> list[Json]:
    """Per series and window length (in samples): the medians of consecutive windows, and
    over every pair of them the share within ``REPEAT_TOLERANCE`` of each other (|a - b| /
    mean) and the worst. A window length that fits fewer than two windows is left out."""
    rows: list[Json] = []
    for series in (*PATHS, PROBE):
        values = [float(s[series]) for s in samples]
        for window in windows:
            medians = [
                statistics.median(values[i : i + window])
                for i in range(0, len(values) - window + 1, window)
            ]
            if len(medians) < 2:
                continue
            differences = [difference(a, b) for a, b in itertools.combinations(medians, 2)]
            rows.append(
                {
                    "series": series,
                    "window": window,
                    "medians": [round(m, 2) for m in medians],
                    "pairs": len(differences),
                    "within": sum(1 for d in differences if d <= REPEAT_TOLERANCE),
                    "worst": round(max(differences), 4),
                }
            )
    return rows


def markdown(check: Mapping[str, Any]) -> str:
    samples: Sequence[Mapping[str, float]] = check["samples"]
    rows: Sequence[Mapping[str, Any]] = check["agreement"]
    lines = [
        "# Machine check",
        "",
        f"Started {check['started']}: {len(samples)} samples in {num(check['seconds'])} s, "
        f"nginx {check['nginx']}, {check['machine']['cpus']} CPUs "
        f"({check['machine']['cpu_model'] or 'unknown model'}).",
        "",
    ]
    if not rows:
        shortest = min(check["windows"])
        return "\n".join(
            [*lines, f"Too few samples for two windows of {shortest}: run it for longer.", ""]
        )
    step = float(check["seconds"]) / max(len(samples), 1)
    cells = (
        (
            r["series"],
            f"{r['window']} ({num(r['window'] * step)} s)",
            f"{num(min(r['medians']))} to {num(max(r['medians']))}",
            f"{r['within']} of {r['pairs']}",
            percent(r["worst"]),
        )
        for r in rows
    )
    header = ("series", "window: samples (s)", "window medians", "pairs within", "worst pair")
    steady = all(r["within"] == r["pairs"] for r in rows)
    verdict = (
        f"Every pair of windows agreed within {REPEAT_TOLERANCE:.0%}: the machine can repeat "
        "a median that closely."
        if steady
        else f"Some windows' medians differ by more than {REPEAT_TOLERANCE:.0%} with nothing "
        "but nginx running: on this machine, runs of the benchmark cannot be expected to "
        "agree that closely either."
    )
    return "\n".join([*lines, *table(header, cells), "", verdict, ""])
