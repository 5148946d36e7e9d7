"""bench/machine.py: the windows' agreement on made-up series, the Markdown's verdict, and
short checks against the real nginx and wrk, one through ``python -m bench``."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import machine
from bench.machine import PATHS, PROBE


def _samples(values: list[float]) -> list[dict[str, float]]:
    return [{"t": 2.5 * i, **dict.fromkeys((*PATHS, PROBE), v)} for i, v in enumerate(values)]


def _check(values: list[float], windows: list[int]) -> dict[str, object]:
    samples = _samples(values)
    return {
        "started": "2026-11-28T23:00:00Z",
        "seconds": 2.5 * len(samples),
        "machine": {"cpus": 2, "cpu_model": "Test CPU"},
        "nginx": "1.22.1",
        "windows": windows,
        "samples": samples,
        "agreement": machine.agreement(samples, windows),
    }


def test_a_step_in_speed_splits_the_windows() -> None:
    # 30 samples at 100, then 30 at 80, one outlier each: windows of 15 have medians
    # 100, 100, 80, 80; of 2 pairs within 10 % of 6, the worst 20 / 90.
    values = [100.0] * 14 + [300.0] + [100.0] * 15 + [80.0] * 15 + [5.0] + [80.0] * 14
    rows = machine.agreement(_samples(values), (15, 40))

    assert [(r["series"], r["window"]) for r in rows] == [
        (series, 15) for series in (*PATHS, PROBE)
    ]  # 60 samples: one window of 40 only, left out
    row = rows[0]
    assert row["medians"] == [100, 100, 80, 80]
    assert (row["pairs"], row["within"]) == (6, 2)
    assert row["worst"] == pytest.approx(20 / 90, abs=1e-4)
    text = machine.markdown(_check(values, [15, 40]))
    assert "| segment req/s | 15 (37.5 s) | 80 to 100 | 2 of 6 | 22.2 % |" in text
    assert "cannot be expected to agree that closely either" in text


def test_a_steady_machine_agrees_everywhere() -> None:
    values = [100.0 + (i % 5) for i in range(80)]
    rows = machine.agreement(_samples(values), (15, 40))

    assert {(r["window"], r["pairs"]) for r in rows} == {(15, 10), (40, 1)}
    assert all(r["within"] == r["pairs"] and r["worst"] < 0.02 for r in rows)
    assert "Every pair of windows agreed within 10%" in machine.markdown(_check(values, [15, 40]))


def test_too_short_a_check_says_so() -> None:
    text = machine.markdown(_check([100.0] * 20, [15, 40]))
    assert "Too few samples for two windows of 15: run it for longer." in text


async def test_a_short_check_samples_nginx_and_the_probe() -> None:
    # A sample lasts at most about 6 s (two 1 s runs, each followed by at most 2 s of
    # waiting for idle CPUs): a second one starts within 8 s.
    check = await machine.machine_check(8.0, windows=(1,))

    samples = check["samples"]
    assert len(samples) >= 2
    for sample in samples:
        assert all(sample[series] > 0 for series in PATHS), sample
        assert sample[PROBE] > 0
    assert [r["series"] for r in check["agreement"]] == [*PATHS, PROBE]
    assert all(r["pairs"] == len(samples) * (len(samples) - 1) // 2 for r in check["agreement"])
    assert check["nginx"][0].isdigit()


def test_the_command_writes_the_check(tmp_path: Path) -> None:
    def bench(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bench", *args, "--out", str(tmp_path)],
            cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip

    refused = bench("--machine-check", "0")
    assert refused.returncode == 2
    assert "--machine-check needs a number of minutes above 0" in refused.stderr

    done = bench("--machine-check", "0.05")
    assert done.returncode == 0, done.stderr[-2000:]
    check = json.loads((tmp_path / "machine-check.json").read_text(encoding="utf-8"))
    assert check["samples"]
    assert check["windows"] == list(machine.WINDOWS)
    assert (tmp_path / "machine-check.md").read_text(encoding="utf-8") == done.stdout[:-1]
    assert "Too few samples for two windows of 15" in done.stdout
