"""Live DASH: dash.js plays the demo channel's dynamic MPD through the edge in real time,
and each SCTE-35 break the demo rules replace (rules/demo/rules/live.toml) shows the orange
4 s spot between stretches of the channel's content."""

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from edge_assembler.demo.channel import DASH_PATH
from tests.e2e.conftest import DemoStack
from tests.e2e.observe import Run, personalised_rules, play

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.e2e

# Media seconds to play: a 4 s break every 10 s, so at least one whole break with content
# before and after it, wherever the player joins.
PLAY_SECONDS = 20.0
SPOT_SECONDS = 4.0
LIMIT = 32.0  # the player starts at the live edge; the rest is real time


def whole_spots(runs: list[Run]) -> list[Run]:
    """The spot runs with content on both sides."""
    return [
        run
        for before, run, after in zip(runs, runs[1:], runs[2:], strict=False)
        if (before.label, run.label, after.label) == ("content", "spot", "content")
    ]


async def test_dash_js_plays_the_live_channel_across_a_replaced_break(
    demo_stack: DemoStack, harness_url: str, page: "Page"
) -> None:
    src = demo_stack.edge_url + DASH_PATH
    assert "live-breaks" in await personalised_rules(src, demo_stack.edge_url)
    seen = await play(page, harness_url, "dash", src, rate=1, play_for=PLAY_SECONDS, limit=LIMIT)
    why = seen.describe()
    assert seen.fatal is None, why
    assert seen.errors == [], why
    assert seen.ended, why  # played PLAY_SECONDS of media
    assert seen.timeline.labels() <= {"content", "spot", "black"}, why
    runs = seen.timeline.runs(min_samples=2)
    spots = whole_spots(runs)
    assert spots, why
    for spot in spots:
        assert abs(spot.duration - SPOT_SECONDS) <= 1.0, (spot, runs)
    assert seen.timeline.largest_gap() < 2.0, why
    paths = [urlsplit(u).path for u in seen.requests if u.startswith(demo_stack.edge_url)]
    assert any(p.startswith("/dash/spot/chunk-") for p in paths), paths
    assert any(p.startswith("/dash/content/chunk-") for p in paths), paths
    media = [u for u in seen.requests if "/chunk-" in u]
    assert all(u.startswith(demo_stack.edge_url) for u in media), media
    assert paths.count(DASH_PATH) >= 3, paths  # the MPD was updated while playing
