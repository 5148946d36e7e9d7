"""The micro benchmarks (pure core, no network) as rows, and their tables.

A row is one timed step: ``{"suite": "hls"|"dash"|"decide", "scenario", "step", "us",
"baseline_us", "target_us"}``, microseconds per call. ``baseline_us`` is the same run's
baseline for the scenario (the ``m3u8`` library's loads+dumps for HLS, ``mpegdash``'s
parse+toprettyxml for DASH; none for decide); ``target_us`` is the DESIGN.md §6 target the
step is held to, if any.
"""

from collections.abc import Iterable, Mapping
from itertools import groupby
from typing import Any

from bench import core, dash, decide
from bench.core import Timing

_TITLES = {
    "hls": ("HLS benchmark", "m3u8"),
    "dash": ("DASH benchmark", "mpegdash"),
    "decide": ("decide benchmark", ""),
}


def micro_rows(rounds: int | None = None, *, min_seconds: float = 0.2) -> list[dict[str, object]]:
    """Every suite's rows; each step timed over ``rounds`` rounds (7 when None) of at least
    ``min_seconds`` each."""
    timing = Timing(min_seconds=min_seconds) if rounds is None else Timing(rounds, min_seconds)
    return [*core.rows(timing), *dash.rows(timing), *decide.rows(timing)]


def print_rows(rows: Iterable[Mapping[str, Any]]) -> int:
    """Print one table per scenario; the exit status: 1 when a step misses its target."""
    missed = 0
    for suite, suite_rows in groupby(rows, key=lambda row: row["suite"]):
        title, baseline_name = _TITLES[suite]
        table = list(suite_rows)
        width = max(len(row["step"]) for row in table) + 4
        print(f"{title}: microseconds per call, median of the rounds\n")
        for scenario, scenario_rows in groupby(table, key=lambda row: row["scenario"]):
            steps = list(scenario_rows)
            ratios = any(row["baseline_us"] is not None for row in steps)
            targets = any(row["target_us"] is not None for row in steps)
            print(scenario)
            print(
                f"  {'step':<{width}}{'µs':>10}"
                + (f"{'x faster than ' + baseline_name:>26}" if ratios else "")
                + (f"{'target µs':>11}" if targets else "")
            )
            for row in steps:
                line = f"  {row['step']:<{width}}{row['us']:>10.1f}"
                if ratios:
                    line += f"{row['baseline_us'] / row['us']:>25.1f}x"
                if row["target_us"] is not None:
                    met = row["us"] <= row["target_us"]
                    missed += not met
                    line += f"{row['target_us']:>11g} {'met' if met else 'MISSED'}"
                print(line)
            print()
    return 1 if missed else 0
