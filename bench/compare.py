"""``python -m bench --compare A B``: how far two runs' medians lie apart, scenario by
scenario and system by system, as Markdown.

The figures are those of the report's repeatability table: each system's maximum
throughput and its p50 latency at half of it. Difference: |a - b| / mean(a, b), as the
report's spread of two ramps. A shared VM can run slower for a whole run, which moves
every system of it alike; so the edge's maximum is also compared as a ratio to each
baseline of the same run, which such a change leaves alone, and the baselines' own change
is given as the machine's. Scenarios without a throughput ramp (hot swap, cold start) are
left out.
"""

import json
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench.report import (
    REPEAT_TOLERANCE,
    difference,
    half_index,
    num,
    percent,
    start_probe,
    table,
)

EDGE: Final = "edge"
Json = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Figure:
    """One median of one system in both runs; ``figure``: ``max req/s``,
    ``p50 ms at 50 %`` or ``edge ÷ nginx`` (a ratio of maxima within each run)."""

    scenario: str
    system: str
    figure: str
    a: float
    b: float

    @property
    def difference(self) -> float:
        return difference(self.a, self.b)


def load(path: Path) -> Json:
    """A run's ``report.json``, given as the file or the report folder."""
    if path.is_dir():
        path = path / "report.json"
    run: Json = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(run.get("scenarios"), list):
        raise ValueError(f"{path}: not a benchmark report (no scenarios)")
    return run


def figures(a: Json, b: Json) -> list[Figure]:
    """The medians both runs measured, in ``a``'s order: every system's, then the edge's
    maximum over each baseline's."""
    out: list[Figure] = []
    for name, sa, sb in _common_scenarios(a, b):
        for system, ra, rb in _common_systems(sa, sb):
            out.append(Figure(name, system, "max req/s", _max(ra), _max(rb)))
            a_p50, b_p50 = _half_p50(ra), _half_p50(rb)
            if a_p50 is not None and b_p50 is not None:
                out.append(Figure(name, system, "p50 ms at 50 %", a_p50, b_p50))
        edges = sa["systems"].get(EDGE), sb["systems"].get(EDGE)
        if edges[0] is None or edges[1] is None or not _ramped(*edges):
            continue
        for system, ra, rb in _common_systems(sa, sb):
            if system != EDGE:
                a_ratio = _max(edges[0]) / _max(ra)
                b_ratio = _max(edges[1]) / _max(rb)
                out.append(Figure(name, EDGE, f"edge ÷ {system}", a_ratio, b_ratio))
    return out


def machine_change(rows: Sequence[Figure]) -> float | None:
    """How much faster run b's baselines served than run a's: the median of their maxima's
    b / a, minus 1 (negative: b was slower)."""
    ratios = [
        r.b / r.a for r in rows if r.system != EDGE and r.figure == "max req/s" and r.a and r.b
    ]
    return statistics.median(ratios) - 1 if ratios else None


def markdown(a: Json, b: Json, names: tuple[str, str]) -> str:
    rows = figures(a, b)
    if not rows:
        return "The two runs have no ramped scenario in common.\n"
    medians = [r for r in rows if "÷" not in r.figure]
    edge = [r for r in medians if r.system == EDGE]
    ratios = [r for r in rows if "÷" in r.figure]
    lines = [
        f"# Benchmark runs compared: A {names[0]}, B {names[1]}",
        "",
        f"- A started {a.get('started', '?')}, B started {b.get('started', '?')}.",
        f"- {_within(medians)} of {len(medians)} medians within {REPEAT_TOLERANCE:.0%}; the "
        f"edge's: {_within(edge)} of {len(edge)}; the edge's maxima over its baselines': "
        f"{_within(ratios)} of {len(ratios)}.",
    ]
    change = machine_change(rows)
    if change is not None:
        lines.append(
            f"- The machine: the baselines' maxima moved by a median {change * 100:+.1f} % "
            "from A to B."
        )
    probes = start_probe(a), start_probe(b)
    if probes[0] and probes[1]:
        lines.append(
            f"- The CPU probe's median (before the load): A {probes[0]:g} ms, B {probes[1]:g} ms."
        )
    started = [
        f"{name} {num(sa['cpu_probe_ms'])} / {num(sb['cpu_probe_ms'])}"
        for name, sa, sb in _common_scenarios(a, b)
        if sa.get("cpu_probe_ms") and sb.get("cpu_probe_ms")
    ]
    if started:
        lines.append(f"- The CPU probe as each scenario started, A / B ms: {'; '.join(started)}.")
    header = ("scenario", "system", "figure", "A", "B", "difference")
    cells = (
        (
            r.scenario,
            r.system,
            r.figure,
            num(r.a),
            num(r.b),
            percent(r.difference) + ("" if r.difference <= REPEAT_TOLERANCE else " **over**"),
        )
        for r in rows
    )
    return "\n".join([*lines, "", *table(header, cells), ""])


def _within(rows: Sequence[Figure]) -> int:
    return sum(1 for r in rows if r.difference <= REPEAT_TOLERANCE)


def _common_scenarios(a: Json, b: Json) -> Iterator[tuple[str, Json, Json]]:
    others = {s["name"]: s for s in b["scenarios"]}
    for scenario in a["scenarios"]:
        other = others.get(scenario["name"])
        if other is not None:
            yield scenario["name"], scenario, other


def _common_systems(a: Json, b: Json) -> Iterator[tuple[str, Json, Json]]:
    for system, ra in a["systems"].items():
        rb = b["systems"].get(system)
        if rb is not None and _ramped(ra, rb):
            yield system, ra, rb


def _ramped(*results: Json) -> bool:
    return all(r.get("closed") and float(r["closed"]["rps"]) > 0 for r in results)


def _max(result: Json) -> float:
    return float(result["closed"]["rps"])


def _half_p50(result: Json) -> float | None:
    opens = result.get("open") or []
    i = half_index(_max(result), opens)
    return None if i is None else float(opens[i]["latency"]["p50"])
