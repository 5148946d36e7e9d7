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

ROUNDS = 7


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
    Scenario("live window, 6 segments, 1 break", live_window(), ad_pod(2, 2.0), 50, None, 10),
    Scenario("1 h VOD, 600 segments, 3 breaks", vod_hour(), ad_pod(6, 5.0), 2000, 300, None),
)


def plan_for(playlist: MediaPlaylist) -> list[AnyEdit]:
    return [
        ReplaceBreak(break_id=b.id, pod=("ad",), pod_urls=("http://ads.example/pod/index.m3u8",))
        for b in detect_breaks(playlist)
    ]


def per_call_us(fn: Callable[[], object]) -> float:
    """Median over ROUNDS of the mean time per call, in microseconds."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return statistics.median(t / number * 1e6 for t in timer.repeat(ROUNDS, number))


def run_scenario(s: Scenario) -> list[tuple[str, float, float | None]]:
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

    baseline = per_call_us(lambda: m3u8.loads(s.text).dumps())
    return [
        ("m3u8 loads+dumps (baseline)", baseline, None),
        ("line scan split+join (floor)", per_call_us(lambda: "\n".join(s.text.split("\n"))), None),
        ("parse", per_call_us(lambda: parse(data)), None),
        ("render (unedited)", per_call_us(lambda: render(playlist)), None),
        ("cold: parse+detect+edit+render", per_call_us(cold), s.cold_target_us),
        ("cached model: edit+render", per_call_us(cached), s.cached_target_us),
        ("per-viewer render (cohort hit)", per_call_us(cohort_hit), s.cohort_target_us),
    ]


def _media(playlist: object) -> MediaPlaylist:
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def main() -> int:
    print(f"core benchmark: median of {ROUNDS} rounds, microseconds per call\n")
    failed = 0
    for scenario in SCENARIOS:
        rows = run_scenario(scenario)
        baseline = rows[0][1]
        print(scenario.name)
        print(f"  {'step':<36}{'µs':>10}{'x faster than m3u8':>21}{'target µs':>11}")
        for name, us, target in rows:
            verdict = ""
            if target is not None:
                verdict = f"{target:>11.0f} {'met' if us <= target else 'MISSED'}"
                failed += us > target
            print(f"  {name:<36}{us:>10.1f}{baseline / us:>20.1f}x{verdict}")
        print()
    return 1 if failed else 0
