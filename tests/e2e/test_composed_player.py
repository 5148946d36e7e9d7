"""Real players play the presentations the demo rules compose per viewer (rules/demo/rules:
recap.toml, scenes.toml, session.toml), through the edge, in HLS (hls.js) and DASH (dash.js):

* ``last=pilot``: a recap cut from two recap ranges of the previous episode (green,
  550 Hz), 2-6 s and 8-12 s, after the pre-roll and before the content; not the produced
  recap (blue), which the composition's claim keeps out.
* ``choice.scene=north|south``: the chosen scene (yellow 700 Hz / magenta 850 Hz) at the
  content's chapter point (14 s), after the mid-roll that lands there, then the content's
  ending.
* ``len=12``: the content cut to 12 s; the presentation ends there.

The timeline is what the player showed: the colour of its frames, sampled every 100 ms
(``observe.play``). ffmpeg as a client checks the tones of the same presentations.

Before a player starts, ``personalised_rules`` asks the edge for every manifest of the
presentation and returns the rules that made it (``observe.personalised_rules``).
"""

import re
from typing import TYPE_CHECKING

import pytest

from tests.e2e.conftest import DemoStack
from tests.e2e.observe import (
    TONE_WINDOW,
    Playback,
    Run,
    assert_runs,
    ffmpeg_audio,
    personalised_rules,
    play,
)

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.e2e

SOURCES = {"hls": "/vod/content/master.m3u8", "dash": "/dash/content/manifest.mpd"}
# The pre-roll (10 s), the recap cut from the pilot (2 x 4 s), the content until the mid-roll,
# which lands 14 s into the composed presentation (recap.toml).
ASSEMBLED_RECAP = (("ad", 0, 10), ("pilot", 10, 18), ("content", 18, 24), ("ad", 24, 34))
ASSEMBLED_SECONDS = 58.0
# The pre-roll, the opening (0-14 s), the mid-roll at the branch, the scene, the ending.
SCENE = (
    ("ad", 0, 10),
    ("content", 10, 24),
    ("ad", 24, 34),
    ("{scene}", 34, 38),
    ("content", 38, 54),
)
SCENE_SECONDS = 54.0
# session.toml: the content cut to the `len=` hint; 12 s is under the 14 s mid-roll.
TRIM = 12.0
TRIMMED = (("ad", 0, 10), ("content", 10, 22))
TRIMMED_SECONDS = 22.0
SEGMENT = 2.0
# Content segment numbers in the players' requests (video and audio): HLS seg_000.ts...,
# DASH chunk-<representation>-<$Number$ from 1>.m4s.
HLS_CONTENT_SEGMENT = re.compile(r"/vod/content/[^/]+/seg_(\d+)\.ts$")
DASH_CONTENT_SEGMENT = re.compile(r"/dash/content/chunk-\d+-(\d+)\.m4s$")


def _scene(scene: str) -> list[tuple[str, float, float]]:
    return [(label.format(scene=f"scene-{scene}"), s, e) for label, s, e in SCENE]


def _assert_played_cleanly(seen: Playback, player: str) -> str:
    why = seen.describe()
    assert seen.fatal is None, why
    errors = seen.serious_errors() if player == "hls" else seen.errors
    assert errors == [], why
    return why


def _asked(seen: Playback, asset: str) -> bool:
    return any(f"/vod/{asset}/" in u or f"/dash/{asset}/" in u for u in seen.requests)


@pytest.mark.parametrize("player", ["hls", "dash"])
async def test_a_recap_cut_from_the_previous_episode_plays_before_the_content(
    demo_stack: DemoStack, harness_url: str, page: "Page", player: str
) -> None:
    src = f"{demo_stack.edge_url}{SOURCES[player]}?last=pilot"
    fired = await personalised_rules(src, demo_stack.edge_url)
    # One composition: the recap cut from the pilot claimed it before the produced recap.
    assert "recap-assembled" in fired, fired
    assert "recap-returning" not in fired, fired
    seen = await play(page, harness_url, player, src, play_for=28)
    why = _assert_played_cleanly(seen, player)
    runs = seen.timeline.runs(min_samples=2)
    assert_runs(runs[:3], ASSEMBLED_RECAP[:3])
    assert runs[3].label == "ad", why
    assert abs(runs[3].start - ASSEMBLED_RECAP[3][1]) <= 1.0, why
    assert _asked(seen, "pilot"), seen.requests
    assert not _asked(seen, "recap"), "the produced recap was loaded too"


@pytest.mark.parametrize(("player", "scene"), [("hls", "north"), ("dash", "south")])
async def test_the_chosen_scene_plays_at_the_chapter_point(
    demo_stack: DemoStack, harness_url: str, page: "Page", player: str, scene: str
) -> None:
    src = f"{demo_stack.edge_url}{SOURCES[player]}?choice.scene={scene}"
    assert {"scene-choice", "midroll"} <= await personalised_rules(src, demo_stack.edge_url)
    seen = await play(page, harness_url, player, src, limit=40)
    why = _assert_played_cleanly(seen, player)
    assert seen.ended, why
    assert seen.max_time >= SCENE_SECONDS - 0.5, why
    assert_runs(seen.timeline.runs(min_samples=2), _scene(scene))
    other = "south" if scene == "north" else "north"
    assert _asked(seen, f"scene-{scene}"), seen.requests
    assert not _asked(seen, f"scene-{other}"), seen.requests


@pytest.mark.parametrize("player", ["hls", "dash"])
async def test_a_trimmed_session_ends_at_the_trim_point(
    demo_stack: DemoStack, harness_url: str, page: "Page", player: str
) -> None:
    src = f"{demo_stack.edge_url}{SOURCES[player]}?len={TRIM:g}"
    fired = await personalised_rules(src, demo_stack.edge_url)
    assert "short-session" in fired, fired
    assert "midroll" not in fired, fired
    seen = await play(page, harness_url, player, src)
    why = _assert_played_cleanly(seen, player)
    assert seen.ended, why
    assert seen.duration is not None, why
    assert abs(seen.duration - TRIMMED_SECONDS) <= 0.5, why
    assert TRIMMED_SECONDS - 0.5 <= seen.max_time <= TRIMMED_SECONDS + 0.5, why
    assert_runs(seen.timeline.runs(min_samples=2), TRIMMED)
    # No content past the trim point was ever fetched.
    pattern = HLS_CONTENT_SEGMENT if player == "hls" else DASH_CONTENT_SEGMENT
    numbers = [int(m[1]) for u in seen.requests if (m := pattern.search(u))]
    assert numbers, seen.requests
    # The segment that ends at the trim point: seg_005.ts, chunk-<rep>-00006.m4s.
    last = int(TRIM // SEGMENT) - (1 if player == "hls" else 0)
    assert max(numbers) == last, sorted(set(numbers))


def _assert_tones(runs: list[Run], expected: list[tuple[str, float, float]]) -> None:
    """``runs`` are the ``expected`` spans (the content's label: its English tone), each
    starting within a tone window of its time and ending at most two windows early."""
    labels = ["content-en" if label == "content" else label for label, _, _ in expected]
    assert [r.label for r in runs] == labels, runs
    for run, (_, start, end) in zip(runs, expected, strict=True):
        assert abs(run.start - start) <= TONE_WINDOW, (run, start)
        assert end - 2 * TONE_WINDOW <= run.end <= end, (run, end)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("last=pilot", [*ASSEMBLED_RECAP, ("content", 34, ASSEMBLED_SECONDS)]),
        ("choice.scene=south", _scene("south")),
    ],
    ids=["recap", "scene"],
)
async def test_ffmpeg_hears_the_composed_presentation(
    demo_stack: DemoStack, query: str, expected: list[tuple[str, float, float]]
) -> None:
    src = f"{demo_stack.edge_url}{SOURCES['hls']}?{query}"
    await personalised_rules(src, demo_stack.edge_url)
    audio, done = await ffmpeg_audio(src, lang="en")
    assert (done.returncode, done.stderr) == (0, "")
    _assert_tones(audio.runs(ignore=()), expected)
