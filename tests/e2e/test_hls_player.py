"""hls.js in headless Chromium plays the edge's HLS master to the end."""

from typing import TYPE_CHECKING

import aiohttp
import pytest

from tests.e2e.conftest import DemoStack
from tests.e2e.observe import play

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.e2e

MASTER = "/vod/content/master.m3u8"
PLAYLISTS = (
    MASTER,
    "/vod/content/360p/index.m3u8",
    "/vod/content/540p/index.m3u8",
    "/vod/content/720p/index.m3u8",
    "/vod/content/audio_en/index.m3u8",
    "/vod/content/audio_fr/index.m3u8",
    "/vod/content/720p/index_vtt.m3u8",
)
SEGMENT = 2.0
CONTENT_SECONDS = 30.0


async def test_edge_serves_the_origin_playlists(demo_stack: DemoStack) -> None:
    """Pass-through today: no rules reach manifests yet, so the edge's bytes are the origin's."""
    async with aiohttp.ClientSession() as session:
        for path in PLAYLISTS:
            bodies = []
            for base in (demo_stack.edge_url, demo_stack.origin_url):
                async with session.get(base + path) as r:
                    assert r.status == 200, (base, path)
                    bodies.append(await r.read())
            assert bodies[0] == bodies[1], path


async def test_hls_js_plays_the_edge_master_to_the_end(
    demo_stack: DemoStack, harness_url: str, page: "Page"
) -> None:
    seen = await play(page, harness_url, "hls", demo_stack.edge_url + MASTER, audio="fr")
    why = seen.describe()
    assert seen.fatal is None, why
    assert seen.serious_errors() == [], why
    assert seen.ended, why
    # Past every segment seam (every 2 s) to the end, without skipping one.
    assert seen.max_time >= CONTENT_SECONDS - 0.5, why
    assert seen.timeline.largest_gap() < SEGMENT, why
    # What the viewer saw: content throughout (no ad, no recap: pass-through).
    runs = seen.timeline.runs()
    assert [r.label for r in runs] == ["content"], why
    assert runs[0].start < 1.0, why
    assert runs[0].end >= CONTENT_SECONDS - 0.5, why
    # The ladder, the audio renditions and the subtitles, as hls.js lists them.
    assert sorted(level["height"] for level in seen.levels) == [360, 540, 720], seen.levels
    assert [t["lang"] for t in seen.audio_tracks] == ["en", "fr"], seen.audio_tracks
    assert [t["lang"] for t in seen.subtitle_tracks] == ["en"], seen.subtitle_tracks
    # en -> fr: the switch is reported and fr segments come through the edge.
    assert seen.audio_switched[-1] == "fr", seen.audio_switched
    fr_fragments = [f for f in seen.frags if f["type"] == "audio" and "/audio_fr/" in f["url"]]
    assert fr_fragments, seen.frags
    edge_fr = [
        u for u in seen.requests if u.startswith(demo_stack.edge_url + "/vod/content/audio_fr/")
    ]
    assert any(u.endswith(".ts") for u in edge_fr), edge_fr
    assert all(u.startswith(demo_stack.edge_url) for u in _media_requests(seen.requests)), why


def _media_requests(requests: list[str]) -> list[str]:
    return [u for u in requests if u.endswith((".m3u8", ".ts", ".vtt", ".mpd", ".m4s"))]
