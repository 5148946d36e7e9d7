"""The micro benchmarks as rows, and the tables printed from them."""

import pytest

from bench import core, dash, decide
from bench.micro import micro_rows, print_rows


@pytest.fixture(scope="module")
def rows() -> list[dict[str, object]]:
    return micro_rows(rounds=1, min_seconds=0.005)


def test_rows_cover_every_suite_with_positive_times(rows: list[dict[str, object]]) -> None:
    assert {row["suite"] for row in rows} == {"hls", "dash", "decide"}
    assert set(rows[0]) == {"suite", "scenario", "step", "us", "baseline_us", "target_us"}
    for row in rows:
        assert isinstance(row["us"], float)
        assert row["us"] > 0
    scenarios = {row["scenario"] for row in rows}
    assert {s.name for s in core.SCENARIOS} | {dash.SCENARIO} <= scenarios
    assert len(rows) == 2 * 7 + 1 + 2 * len(dash.PLANS) + 2 + 3


def test_baselines_are_the_scenario_baseline_rows(rows: list[dict[str, object]]) -> None:
    first: dict[object, dict[str, object]] = {}
    for row in rows:
        first.setdefault(row["scenario"], row)
    for row in rows:
        head = first[row["scenario"]]
        if row["suite"] == "decide":
            assert row["baseline_us"] is None
        else:
            assert "(baseline)" in str(head["step"])
            assert row["baseline_us"] == head["us"]


def test_hls_targets_follow_design(rows: list[dict[str, object]]) -> None:
    targets = {
        (row["scenario"], row["step"]): row["target_us"]
        for row in rows
        if row["suite"] == "hls" and row["target_us"] is not None
    }
    live, vod = (s.name for s in core.SCENARIOS)
    assert targets == {
        (live, "cold: parse+detect+edit+render"): 50.0,
        (live, "per-viewer render (cohort hit)"): 10.0,
        (vod, "cold: parse+detect+edit+render"): 2000.0,
        (vod, "cached model: edit+render"): 300.0,
    }
    decide_targets = [row["target_us"] for row in rows if row["suite"] == "decide"]
    assert decide_targets == [decide.TARGET_US, None, None]


def test_print_rows_prints_every_scenario_and_the_verdict(
    rows: list[dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    status = print_rows(rows)
    out = capsys.readouterr().out
    for row in rows:
        assert str(row["scenario"]) in out
        assert str(row["step"]) in out
    missed = any(
        isinstance(row["target_us"], float)
        and isinstance(row["us"], float)
        and row["us"] > row["target_us"]
        for row in rows
    )
    assert status == int(missed)
    assert ("MISSED" in out) == missed


def test_print_rows_fails_on_a_missed_target(capsys: pytest.CaptureFixture[str]) -> None:
    row = {
        "suite": "decide",
        "scenario": "one rule",
        "step": "warm rules",
        "us": 30.0,
        "baseline_us": None,
        "target_us": 20.0,
    }
    assert print_rows([row]) == 1
    assert print_rows([{**row, "us": 10.0}]) == 0
    out = capsys.readouterr().out
    assert "MISSED" in out
    assert "met" in out
