"""Core benchmark: parse, edit and render on the DESIGN.md §6 inputs, timed next to the
`m3u8` library's loads+dumps of the same text and a plain line scan, all in one run.

Ratios are the result (this machine is noisy); absolute figures are printed for the
targets of DESIGN.md §6 (live: cold, and per-viewer on a cohort hit; VOD: cold, and
cached model). The edits are fixed plans (what the rules engine would decide):
each break replaced by an ad pod. Each row, per call:

- "m3u8 loads+dumps": the `m3u8` library reads and writes the text (the baseline);
- "line scan": split the text into lines and join them again (a floor);
- "parse": bytes to model;
- "render (unedited)": the parsed model back to bytes;
- "cold": a new origin version: parse a fresh bytes object, find its breaks, apply the
  plan and render (nothing is known of it beforehand);
- "cached model": a cohort miss (DESIGN §4): the playlist was parsed before, so what is
  derived from it (its breaks, dates, where its keys and maps are, its source lines) is
  known; the edits and the render are done again;
- "per-viewer render (cohort hit)": ``render_plan`` with a plan already rendered for this
  origin version and these fetched sources: a viewer of a cohort gets its bytes (DESIGN
  §4, §6).
"""

import statistics
import timeit
from collections.abc import Callable
from dataclasses import dataclass

import m3u8

from edge_assembler.core.edits import AnyEdit, apply, render_plan
from edge_assembler.core.edits.replace_break import ReplaceBreak
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.cues import detect_breaks


@dataclass(frozen=True)
class Timing:
    """How calls are timed: the median over ``rounds`` of the mean time per call, each round
    making as many calls as last at least ``min_seconds`` (the rule of ``Timer.autorange``)."""

    rounds: int = 7
    min_seconds: float = 0.2

    def per_call_us(self, fn: Callable[[], object]) -> float:
        timer = timeit.Timer(fn)
        number = self._calls_per_round(timer)
        return statistics.median(t / number * 1e6 for t in timer.repeat(self.rounds, number))

    def _calls_per_round(self, timer: timeit.Timer) -> int:
        """1, 2, 5, 10, 20, 50, ... calls until one batch lasts ``min_seconds``."""
        power = 1
        while True:
            for factor in (1, 2, 5):
                if timer.timeit(power * factor) >= self.min_seconds:
                    return power * factor
            power *= 10


@dataclass(frozen=True)
class Scenario:
    name: str
    text: str
    pod: str  # the ad media playlist every break is filled from
    cold_target_us: float
    cached_target_us: float | None  # the cohort miss
    cohort_target_us: float | None  # the cohort hit


def live_window() -> str:
    """A 6-segment live window (2 s segments) with one 4 s break signalled by cue tags."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:1200"]
    for i in range(6):
        if i == 2:
            lines.append("#EXT-X-CUE-OUT:DURATION=4.000")
        elif i == 3:
            lines.append("#EXT-X-CUE-OUT-CONT:ElapsedTime=2.000,Duration=4.000")
        elif i == 4:
            lines.append("#EXT-X-CUE-IN")
        lines += ["#EXTINF:2.000,", f"live/seg_{1200 + i:05d}.ts"]
    return "\n".join(lines) + "\n"


def vod_hour() -> str:
    """A 1 h VOD (600 segments of 6 s) with three 30 s breaks signalled by cue tags."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXT-X-PLAYLIST-TYPE:VOD"]
    starts = {150, 300, 450}
    for i in range(600):
        if i in starts:
            lines.append("#EXT-X-CUE-OUT:DURATION=30.000")
        elif i - 5 in starts:
            lines.append("#EXT-X-CUE-IN")
        lines += ["#EXTINF:6.000,", f"vod/seg_{i:05d}.ts"]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


def ad_pod(segments: int, duration: float) -> str:
    body = "".join(f"#EXTINF:{duration:.3f},\nad_{i:03d}.ts\n" for i in range(segments))
    head = f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{round(duration)}\n"
    return f"{head}{body}#EXT-X-ENDLIST\n"


SCENARIOS = (
    Scenario("live window, 6 segments, 1 break", live_window(), ad_pod(2, 2.0), 50.0, None, 10.0),
    Scenario("1 h VOD, 600 segments, 3 breaks", vod_hour(), ad_pod(6, 5.0), 2000.0, 300.0, None),
)


def plan_for(playlist: MediaPlaylist) -> list[AnyEdit]:
    return [
        ReplaceBreak(break_id=b.id, pod=("ad",), pod_urls=("http://ads.example/pod/index.m3u8",))
        for b in detect_breaks(playlist)
    ]


def run_scenario(s: Scenario, timing: Timing) -> list[dict[str, object]]:
    """The scenario's rows (``bench.micro``), the baseline first."""
    data = s.text.encode()
    fetched = {"ad": _media(parse(s.pod.encode()))}
    playlist = _media(parse(data))
    edits = plan_for(playlist)
    assert edits, "the scenario must contain breaks"

    def cold() -> bytes:
        p = _media(parse(data))
        return render(apply(p, plan_for(p), fetched))

    def cached() -> bytes:
        return render(apply(playlist, edits, fetched))

    def cohort_hit() -> bytes:
        return render_plan(playlist, edits, fetched)

    assert cohort_hit() == cached()  # warms the memo

    us = timing.per_call_us
    baseline = us(lambda: m3u8.loads(s.text).dumps())
    steps: list[tuple[str, float, float | None]] = [
        ("m3u8 loads+dumps (baseline)", baseline, None),
        ("line scan split+join (floor)", us(lambda: "\n".join(s.text.split("\n"))), None),
        ("parse", us(lambda: parse(data)), None),
        ("render (unedited)", us(lambda: render(playlist)), None),
        ("cold: parse+detect+edit+render", us(cold), s.cold_target_us),
        ("cached model: edit+render", us(cached), s.cached_target_us),
        ("per-viewer render (cohort hit)", us(cohort_hit), s.cohort_target_us),
    ]
    return [
        {
            "suite": "hls",
            "scenario": s.name,
            "step": step,
            "us": step_us,
            "baseline_us": baseline,
            "target_us": target,
        }
        for step, step_us, target in steps
    ]


def rows(timing: Timing) -> list[dict[str, object]]:
    return [row for scenario in SCENARIOS for row in run_scenario(scenario, timing)]


def _media(playlist: object) -> MediaPlaylist:
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def main() -> int:
    """Time and print this suite alone (``python -m bench`` runs every suite)."""
    from bench.micro import print_rows  # here: bench.micro imports this module

    return print_rows(rows(Timing()))
