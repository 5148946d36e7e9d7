"""bench/compare.py on synthetic runs: each system's maximum and half-load p50 side by
side, the edge's maxima over its baselines' (untouched when the whole machine slows
down), the machine's change, and the reports it reads."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bench import compare
from bench.report import write_report
from tests.bench.synthetic import SCENARIOS, synthetic_run


def _scaled(run: dict[str, Any], factor: float, systems: set[str] | None = None) -> dict[str, Any]:
    """``run`` with these systems' (all when None) throughput times ``factor`` and their
    latency over it, as on a machine that much faster."""
    out = copy.deepcopy(run)
    for scenario in out["scenarios"]:
        for name, result in scenario["systems"].items():
            if systems is not None and name not in systems:
                continue
            result["closed"]["rps"] *= factor
            for o in result["open"]:
                o["target_rps"] *= factor
                o["latency"] = {q: v / factor for q, v in o["latency"].items()}
    return out


def _by_key(rows: list[compare.Figure]) -> dict[tuple[str, str, str], compare.Figure]:
    return {(r.scenario, r.system, r.figure): r for r in rows}


def test_the_same_run_twice_agrees_on_every_figure() -> None:
    run = synthetic_run()
    rows = compare.figures(run, copy.deepcopy(run))

    # Per scenario: edge and aiohttp-static, max and p50 at 50 %; the edge ÷ static ratio.
    assert [(r.system, r.figure) for r in rows[:5]] == [
        ("edge", "max req/s"),
        ("edge", "p50 ms at 50 %"),
        ("aiohttp-static", "max req/s"),
        ("aiohttp-static", "p50 ms at 50 %"),
        ("edge", "edge ÷ aiohttp-static"),
    ]
    assert len(rows) == 5 * len(SCENARIOS)
    assert all(r.difference == 0 for r in rows)
    ratio = _by_key(rows)[(SCENARIOS[0], "edge", "edge ÷ aiohttp-static")]
    assert ratio.a == pytest.approx(0.2)
    assert compare.machine_change(rows) == pytest.approx(0.0)
    text = compare.markdown(run, run, ("a", "b"))
    assert "- 8 of 8 medians within 10%; the edge's: 4 of 4;" in text
    assert "over its baselines': 2 of 2." in text
    assert "**over**" not in text


def test_a_slower_machine_moves_every_maximum_but_no_ratio() -> None:
    a = synthetic_run()
    b = _scaled(a, 0.8)
    rows = _by_key(compare.figures(a, b))

    edge_max = rows[(SCENARIOS[0], "edge", "max req/s")]
    assert (edge_max.a, edge_max.b) == pytest.approx((4000, 3200))
    assert edge_max.difference == pytest.approx(800 / 3600)
    assert rows[(SCENARIOS[0], "edge", "p50 ms at 50 %")].difference == pytest.approx(0.2 / 0.9)
    assert rows[(SCENARIOS[1], "edge", "edge ÷ aiohttp-static")].difference == pytest.approx(0)
    assert compare.machine_change(list(rows.values())) == pytest.approx(-0.2)
    text = compare.markdown(a, b, ("a", "b"))
    assert "- 0 of 8 medians within 10%; the edge's: 0 of 4;" in text
    assert "over its baselines': 2 of 2." in text
    assert "moved by a median -20.0 % from A to B" in text
    assert "| segment-pass-through | edge | max req/s | 4,000 | 3,200 | 22.2 % **over** |" in text


def test_a_slower_edge_on_the_same_machine_shows_in_its_ratios() -> None:
    a = synthetic_run()
    b = _scaled(a, 0.85, {"edge"})
    rows = compare.figures(a, b)
    by_key = _by_key(rows)

    ratio = by_key[(SCENARIOS[0], "edge", "edge ÷ aiohttp-static")]
    assert (ratio.a, ratio.b) == pytest.approx((0.2, 0.17))
    assert ratio.difference == pytest.approx(0.03 / 0.185)
    assert by_key[(SCENARIOS[0], "aiohttp-static", "max req/s")].difference == 0
    assert compare.machine_change(rows) == pytest.approx(0.0)


def test_only_what_both_runs_ramped_is_compared() -> None:
    a = synthetic_run()
    b = copy.deepcopy(a)
    b["scenarios"][1]["name"] = "cold-start"  # not in a
    del b["scenarios"][0]["systems"]["aiohttp-static"]
    b["scenarios"][0]["systems"]["nginx"] = copy.deepcopy(a["scenarios"][0]["systems"]["edge"])
    a["scenarios"][0]["systems"]["edge"]["open"] = a["scenarios"][0]["systems"]["edge"]["open"][:1]

    rows = compare.figures(a, b)

    # Edge's max only (a has no half-load run), and no ratio: no baseline in both.
    assert [(r.scenario, r.system, r.figure) for r in rows] == [(SCENARIOS[0], "edge", "max req/s")]
    assert compare.machine_change(rows) is None
    a["scenarios"][0]["systems"]["edge"]["closed"] = None
    assert compare.figures(a, b) == []
    assert "no ramped scenario in common" in compare.markdown(a, b, ("a", "b"))


def test_cpu_probes_are_set_side_by_side() -> None:
    a = synthetic_run()
    a["machine"]["cpu_steadiness"] = {"median_ms": 100.4}
    a["scenarios"][0]["cpu_probe_ms"] = 101.0
    b = copy.deepcopy(a)
    b["machine"]["cpu_steadiness"] = {"median_ms": 150.0}
    b["scenarios"][0]["cpu_probe_ms"] = 149.0

    text = compare.markdown(a, b, ("a", "b"))

    assert "- The CPU probe's median (before the load): A 100.4 ms, B 150 ms." in text
    assert f"as each scenario started, A / B ms: {SCENARIOS[0]} 101 / 149." in text


def test_load_takes_a_report_folder_or_file(tmp_path: Path) -> None:
    run = synthetic_run()
    write_report(tmp_path / "r", run)
    assert compare.load(tmp_path / "r") == run
    assert compare.load(tmp_path / "r" / "report.json") == run
    (tmp_path / "other.json").write_text(json.dumps({"name": "x"}))
    with pytest.raises(ValueError, match="not a benchmark report"):
        compare.load(tmp_path / "other.json")
    with pytest.raises(FileNotFoundError):
        compare.load(tmp_path / "missing")
