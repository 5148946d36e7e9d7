"""Live: hls.js keeps playing the demo's live ladder through the edge, reloading the
sliding-window playlists through it as the encoder publishes segments."""

from collections import Counter
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import DemoStack
from tests.e2e.observe import play

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.e2e

MASTER = "/live/master.m3u8"
PLAY_SECONDS = 8.0
MIN_RELOADS = 3  # loads of one media playlist (2 s target duration: ~one per 2 s)


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
