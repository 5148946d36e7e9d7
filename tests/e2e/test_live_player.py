"""Live: hls.js keeps playing the demo's live ladder through the edge, reloading the
sliding-window playlists through it as the encoder publishes segments; on the live channel
(a 4 s SCTE-35 break every 10 s) hls.js sees and ffmpeg hears the 4 s orange 1250 Hz spot
in place of every break (rules/demo/rules/live.toml), with the content between them."""

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from edge_assembler.tasks import spawn
from tests.e2e.conftest import DemoStack
from tests.e2e.observe import EARLY, LATE, TONE_WINDOW, Decoded, Run, Timeline, ffmpeg_audio, play

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.e2e

MASTER = "/live/master.m3u8"
PLAY_SECONDS = 8.0
MIN_RELOADS = 3  # loads of one media playlist (2 s target duration: ~one per 2 s)

CHANNEL: Final = "/live/channel/master.m3u8"
BREAK_SECONDS: Final = 4.0  # edge_assembler/demo/channel.py: 2 segments of 2 s
BREAK_EVERY: Final = 10.0  # a break starts every 5 segments
# A window of PLAY_SPOTS_FOR media seconds holds three whole breaks wherever it starts, and
# ffmpeg's LISTEN_FOR seconds two (its -t counts output timestamps, which jump ahead a little
# at some splices: it decodes ~27.5 s of audio). Breaks that started before the viewer
# joined are the origin's own (content); the first replaced one starts within BREAK_EVERY.
PLAY_SPOTS_FOR: Final = 3 * BREAK_EVERY + BREAK_SECONDS + 2
LISTEN_FOR: Final = 2 * BREAK_EVERY + BREAK_SECONDS + 6
SAMPLE_STEP: Final = 0.1  # harness/observe.js samples every 100 ms (media seconds at rate 1)
SEAM_SAMPLES: Final = 3  # shorter runs are frames blended across a splice
START_UP: Final = 25.0  # seconds hls.js may take to load and start before playing


async def test_hls_js_plays_live_through_the_edge(
    demo_stack: DemoStack, harness_url: str, page: "Page"
) -> None:
    seen = await play(
        page, harness_url, "hls", demo_stack.edge_url + MASTER, rate=1, play_for=PLAY_SECONDS
    )
    why = seen.describe()
    assert seen.fatal is None, why
    assert seen.serious_errors() == [], why
    assert seen.ended, why  # played PLAY_SECONDS of media
    assert seen.start_time is not None
    assert seen.max_time - seen.start_time >= PLAY_SECONDS, why
    assert set(seen.timeline.labels()) <= {"content", "black"}, why
    playlists = Counter(
        urlsplit(u).path
        for u in seen.requests
        if u.startswith(demo_stack.edge_url) and urlsplit(u).path.endswith(".m3u8")
    )
    media = {path: n for path, n in playlists.items() if path != MASTER}
    assert media, playlists
    assert max(media.values()) >= MIN_RELOADS, playlists
    segments = [u for u in seen.requests if u.endswith(".ts")]
    assert segments, "no live segment was loaded"
    assert all(u.startswith(demo_stack.edge_url + "/live/") for u in segments), segments


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def heard(demo_stack: DemoStack) -> AsyncIterator["asyncio.Task[tuple[Timeline, Decoded]]"]:
    """ffmpeg listening to the channel's English audio through the edge, started by the
    first test that asks and running alongside it (a live stream plays in real time)."""
    url = demo_stack.edge_url + CHANNEL
    task = spawn(ffmpeg_audio(url, lang="en", seconds=LISTEN_FOR))
    yield task
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


def _whole_breaks(runs: list[Run], spot: str, content: str) -> list[Run]:
    """The ``spot`` runs with ``content`` on both sides: breaks seen from start to end."""
    return [
        run
        for before, run, after in zip(runs, runs[1:], runs[2:], strict=False)
        if run.label == spot and before.label == content and after.label == content
    ]


def _assert_breaks(runs: list[Run], spot: str, content: str, *, least: int, step: float) -> None:
    """At least ``least`` whole breaks, each BREAK_SECONDS long and BREAK_EVERY after the
    previous one, with only ``content`` between them (``step``: the sampling step, as a
    run ends at its last sample)."""
    assert {r.label for r in runs} <= {spot, content}, runs
    breaks = _whole_breaks(runs, spot, content)
    assert len(breaks) >= least, runs
    for run in breaks:
        assert BREAK_SECONDS - LATE <= run.duration + step <= BREAK_SECONDS + EARLY, (run, runs)
    for a, b in itertools.pairwise(breaks):
        assert abs(b.start - a.start - BREAK_EVERY) <= LATE, (a, b, runs)
        between = [r.label for r in runs if a.end < r.start < b.start]
        assert between == [content], (a, b, runs)


@pytest.mark.usefixtures("heard")
async def test_hls_js_sees_the_spot_in_every_break_of_the_live_channel(
    demo_stack: DemoStack, harness_url: str, page: "Page"
) -> None:
    seen = await play(
        page,
        harness_url,
        "hls",
        demo_stack.edge_url + CHANNEL,
        rate=1,
        play_for=PLAY_SPOTS_FOR,
        limit=PLAY_SPOTS_FOR + START_UP,
    )
    why = seen.describe()
    assert seen.fatal is None, why
    assert seen.serious_errors() == [], why
    runs = seen.timeline.runs(min_samples=SEAM_SAMPLES)
    _assert_breaks(runs, "spot", "content", least=3, step=SAMPLE_STEP)
    segments = [u for u in seen.requests if urlsplit(u).path.endswith(".ts")]
    assert all(u.startswith(demo_stack.edge_url + "/") for u in segments), segments
    paths = [urlsplit(u).path for u in segments]
    spots = [path for path in paths if not path.startswith("/live/channel/")]
    assert spots, paths
    assert all(path.startswith("/vod/spot/") for path in spots), spots


async def test_ffmpeg_hears_the_spot_in_every_break_of_the_live_channel(
    heard: "asyncio.Task[tuple[Timeline, Decoded]]",
) -> None:
    audio, done = await heard
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    _assert_breaks(audio.runs(ignore=()), "spot", "content-en", least=2, step=TONE_WINDOW)
