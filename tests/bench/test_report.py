"""bench/report.py on a synthetic run: the JSON is the run, the Markdown names every
scenario, system and target verdict, the plots are PNG files; the progress line."""

import io
import json
from pathlib import Path
from typing import Any

import pytest

from bench.report import Progress, write_report
from bench.run import _repeated, _Rotation
from tests.bench.synthetic import SCENARIOS, open_loop, percentiles, synthetic_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_report_files(tmp_path: Path) -> None:
    run = synthetic_run()
    written = write_report(tmp_path / "out", run)

    names = sorted(p.name for p in written)
    assert names == sorted(
        [
            "report.json",
            "report.md",
            "throughput-latency.png",
            *(f"latency-{name}.png" for name in SCENARIOS),
        ]
    )
    assert json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8")) == run
    for path in written:
        if path.suffix == ".png":
            assert path.read_bytes().startswith(PNG_SIGNATURE)
            assert path.stat().st_size > 10_000


def test_report_markdown(tmp_path: Path) -> None:
    md = next(p for p in write_report(tmp_path, synthetic_run()) if p.name == "report.md")
    text = md.read_text(encoding="utf-8")

    assert "## Targets (DESIGN.md §6)" in text
    assert "| live cold | ≤ 50 µs | 44.1 µs | met |" in text
    assert "| req/s vs static | ≥ 0.6x | 0.2x | **MISSED** |" in text
    for name in SCENARIOS:
        assert f"## {name}" in text
        assert f"![{name} latency by percentile](latency-{name}.png)" in text
        assert f"- origin requests per 1k viewer requests in {name}: 1.0" in text
    # The edge row at 25 % of 4000 req/s: ratios to the edge, 3 significant digits.
    assert (
        "| edge | 4,000 (3 errors) | 1x | 1,000 | 990 | 0.533 | 1.07 | 2.67 | 4.8 | 10.7 | 0 | 0 |"
        in (text)
    )
    assert "| aiohttp-static | 20,000 | 0.2x | 5,000 |" in text
    assert "| aiohttp-static |  |  | 10,000 | 9,900 |" in text
    assert "| rss_mb_per_worker | 85.2 |" in text
    assert "| cpu_model | Test \\| CPU |" in text
    assert "| hls | live window | cold | 44.1 | 22.7x | ≤ 50 | met |" in text
    assert "| hls | 1 h VOD | parse | 812 | - | - | - |" in text
    assert "| load_fractions | 0.25, 0.5, 0.75 |" in text
    method = text.split("## Method", 1)[1].split("\n## ", 1)[0]
    assert "warmed up for 2 s first (the edge's first warm-up of the run: 30 s)" in method
    assert "the median of 15 closed-loop runs of 1 s per system" in method
    assert "5 open-loop runs of 2 s per system, in one histogram" in method
    assert "After every run the CPUs go idle before the next one" in method


def test_report_partial_results(tmp_path: Path) -> None:
    """A scenario measured by the closed loop only, a system with no closed loop and an
    open loop where every request failed: rows say so, no plot without open-loop data."""
    run = synthetic_run()
    only_closed = run["scenarios"][1]
    only_closed["name"] = "cold-start"
    for result in only_closed["systems"].values():
        result["open"] = []
    systems = run["scenarios"][0]["systems"]
    del systems["aiohttp-static"]["closed"]
    failed = systems["edge"]["open"][0]
    failed.update(achieved_rps=0.0, errors=failed["requests"])

    names = {p.name for p in write_report(tmp_path, run)}
    text = (tmp_path / "report.md").read_text(encoding="utf-8")

    assert "latency-cold-start.png" not in names
    assert {"latency-personalised-vod-media.png", "throughput-latency.png"} <= names
    assert "| edge | 4,000 (3 errors) | 1x | - | - | - | - | - | - | - | - | - |" in text
    assert "| aiohttp-static | - | - | 5,000 | 4,950 |" in text
    assert "| edge | 4,000 (3 errors) | 1x | 1,000 | 0 | 0.533 |" in text
    assert "| 10,000 | 0 |" in text


def test_report_rejects_unsafe_scenario_name(tmp_path: Path) -> None:
    run = synthetic_run()
    run["scenarios"][0]["name"] = "../escape"
    with pytest.raises(ValueError, match="escape"):
        write_report(tmp_path, run)
    assert not list(tmp_path.iterdir())


def test_progress_plain_lines() -> None:
    stream = io.StringIO()
    progress = Progress(3, stream)
    for label in ("warm up", "closed loop", "open loop 25 %"):
        progress.step(label)
    progress.done()

    lines = stream.getvalue().splitlines()
    assert lines == [
        "[1/3] warm up (elapsed 0m00s)",
        "[2/3] closed loop (elapsed 0m00s)",
        "[3/3] open loop 25 % (elapsed 0m00s)",
        "[3/3] done (elapsed 0m00s)",
    ]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_terminal_line() -> None:
    stream = _Terminal()
    progress = Progress(4, stream, width=8)
    progress.step("edge")
    progress.step("nginx")
    progress.done()

    out = stream.getvalue()
    assert "\n" not in out[:-1]
    assert out.endswith("\n")
    frames = [f.removesuffix("\x1b[K") for f in out.rstrip("\n").split("\r")[1:]]
    assert frames == [
        "[........] 1/4 edge (elapsed 0m00s)",
        "[##......] 2/4 nginx (elapsed 0m00s)",
        "[########] 4/4 done (elapsed 0m00s)",
    ]


def _ramp(rps: float, p50_half: float) -> dict[str, Any]:
    closed = {"rps": rps, "requests": int(rps * 10), "errors": 0, "connections": 32,
              "seconds": 10.0, "latency": percentiles(1.5)}  # fmt: skip
    ramp = {"closed": closed, "open": [open_loop(rps, f) for f in (0.25, 0.5, 0.75)]}
    ramp["open"][1]["latency"] = percentiles(p50_half)
    return ramp


def test_repeated_ramps_keep_the_median_one_and_their_spread() -> None:
    system = _repeated([_ramp(4200.0, 1.1), _ramp(4000.0, 1.0), _ramp(3000.0, 2.0)])
    assert system["closed"]["rps"] == 4000.0  # the median ramp stands for the system
    assert [r["rps"] for r in system["repeats"]] == [4200.0, 4000.0, 3000.0]
    assert system["spread"]["max_rps"] == pytest.approx((4200 - 3000) / 4000, abs=1e-4)
    assert system["spread"]["p50@0.5"] == pytest.approx((2.0 - 1.0) / 1.1, abs=1e-4)
    assert system["spread"]["p99@0.5"] == pytest.approx((10.0 - 5.0) / 5.5, abs=1e-4)
    assert system["repeats"][2]["open"][1] == {"target_rps": 1500.0, "p50": 2.0, "p99": 10.0}
    # Two ramps: the lower one stands; one ramp: no repeat fields.
    assert _repeated([_ramp(4200.0, 1.0), _ramp(4000.0, 1.0)])["closed"]["rps"] == 4000.0
    assert "spread" not in _repeated([_ramp(4200.0, 1.0)])


def test_report_states_the_repeatability(tmp_path: Path) -> None:
    run = synthetic_run()
    edge = run["scenarios"][0]["systems"]["edge"]
    edge.update(_repeated([_ramp(4000.0, 1.0), _ramp(4300.0, 1.05)]))
    write_report(tmp_path, run)
    text = (tmp_path / "report.md").read_text()
    section = text.split("## Repeatability", 1)[1].split("\n## ", 1)[0]
    assert "2 of 2 maximum and median figures are within 10%" in section
    row = next(line for line in section.splitlines() if line.startswith("| personalised"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["personalised-vod-media", "edge", "4,000 / 4,300", "7.2 %", "1 / 1.05",
                     "4.9 %", "4.9 %"]  # fmt: skip
    assert "## Repeatability" not in _markdown_of(tmp_path, synthetic_run())


def _markdown_of(tmp_path: Path, run: dict[str, Any]) -> str:
    out = tmp_path / "plain"
    write_report(out, run)
    return (out / "report.md").read_text()


def test_load_phases_go_on_through_the_urls_where_the_last_one_stopped() -> None:
    order = _Rotation(["a", "b", "c", "d", "e"])
    assert order.next() == ["a", "b", "c", "d", "e"]
    order.advance(7)  # a phase went once round and two more
    assert order.next() == ["c", "d", "e", "a", "b"]
    order.advance(3)
    assert order.next() == ["a", "b", "c", "d", "e"]


def test_report_flags_scenarios_begun_on_a_changed_machine(tmp_path: Path) -> None:
    run = synthetic_run()
    run["machine"]["cpu_steadiness"] = {"median_ms": 100.0}
    run["scenarios"][0]["cpu_probe_ms"] = 125.0
    run["scenarios"][1]["cpu_probe_ms"] = 105.0

    text = _markdown_of(tmp_path, run)

    changed = text.split("## Machine speed changed", 1)[1].split("\n## ", 1)[0]
    assert f"| {SCENARIOS[0]} | 125 | +25.0 % |" in changed
    assert SCENARIOS[1] not in changed
    assert "CPU probe as the scenario started: 105 ms." in text
    run["scenarios"][0]["cpu_probe_ms"] = 91.0
    assert "## Machine speed changed" not in _markdown_of(tmp_path, run)
