"""bench/machine.py: the windows' agreement on made-up series, the Markdown's verdict, and
a short check against the real nginx and wrk."""

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
    check = await machine.machine_check(4.0, windows=(1,))

    samples = check["samples"]
    assert len(samples) >= 2
    for sample in samples:
        assert all(sample[series] > 0 for series in PATHS), sample
        assert sample[PROBE] > 0
    assert [r["series"] for r in check["agreement"]] == [*PATHS, PROBE]
    assert all(r["pairs"] == len(samples) * (len(samples) - 1) // 2 for r in check["agreement"])
    assert check["nginx"][0].isdigit()
