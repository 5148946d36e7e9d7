"""`python -m bench --quick`, as CI runs it: the whole run completes and its report is
complete (every scenario, every system, every rate, the plots), and `--compare` reads it.
A smoke test of the benchmark, not of the edge's speed: no figure is asserted beyond being
measured."""

import json
import subprocess
import sys
from pathlib import Path

from bench.scenarios import SCENARIOS, SPECIAL

REPO_ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def test_a_quick_run_writes_a_complete_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads((out / "report.json").read_text())
    assert run["quick"] is True
    assert run["seconds"] < 150
    steadiness = run["machine"]["cpu_steadiness"]
    assert steadiness["samples"] == 4
    assert steadiness["median_ms"] > 0
    assert len(steadiness["half_medians_ms"]) == 2
    names = [s["name"] for s in run["scenarios"]]
    assert names == [s.name for s in SCENARIOS] + list(SPECIAL)
    for declared, measured in zip(SCENARIOS, run["scenarios"], strict=False):
        systems = measured["systems"]
        assert any(note.startswith("idle waits between load phases") for note in measured["notes"])
        assert measured["cpu_probe_ms"] > 0, declared.name
        assert list(systems) == ["edge", *(b.system for b in declared.baselines)]
        for name, system in systems.items():
            assert system["closed"]["rps"] > 0, (declared.name, name)
            assert system["closed"]["errors"] == 0, (declared.name, name)
            rates = [o["target_rps"] for o in system["open"]]
            assert len(rates) == 3, (declared.name, name)
            assert all(o["requests"] > 0 and o["errors"] == 0 for o in system["open"])
            assert all(o["latency"]["p50"] <= o["latency"]["p99"] for o in system["open"])
    by_name = {s["name"]: s for s in run["scenarios"]}
    live = by_name["live-media"]["metrics"]
    assert live["origin_requests_per_1k"] > 0
    assert live["rss_mb_per_worker"] > 0
    assert by_name["bundle-hot-swap"]["metrics"]["swapped"] == 1
    assert by_name["cold-start"]["metrics"]["cold_start_seconds"] > 0
    assert {row["suite"] for row in run["micro"]} == {"hls", "dash", "decide"}
    assert run["targets"], "no DESIGN §6 target measured"
    report = (out / "report.md").read_text()
    for name in names:
        assert f"## {name}" in report
    for plot in ["throughput-latency.png", *(f"latency-{n}.png" for n in names[:-1])]:
        assert (out / plot).read_bytes().startswith(PNG), plot

    # The run against itself: every figure the same.
    compared = subprocess.run(
        [sys.executable, "-m", "bench", "--compare", str(out), str(out / "report.json")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    ramped = len(SCENARIOS)
    systems = sum(1 + len(s.baselines) for s in SCENARIOS)
    ratios = systems - ramped
    assert (
        f"- {2 * systems} of {2 * systems} medians within 10%; the edge's: {2 * ramped} of "
        f"{2 * ramped}; the edge's maxima over its baselines': {ratios} of {ratios}."
    ) in compared.stdout
