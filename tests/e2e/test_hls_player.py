"""hls.js in headless Chromium plays the edge's personalised HLS VOD (the demo rules bundle,
rules/demo): a new viewer gets the red ad before the content and after its first 14 s, a
returning viewer the blue recap before the content, ``lang=fr`` French audio first and
``device=phone`` no variant above 720p (README "Personalisation pipeline")."""

import re
from typing import TYPE_CHECKING

import aiohttp
import pytest

from tests.e2e.conftest import DemoStack
from tests.e2e.observe import Playback, assert_runs, personalised_rules, play

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.e2e

MASTER = "/vod/content/master.m3u8"
CHILDREN = (
    "360p/index.m3u8",
    "540p/index.m3u8",
    "720p/index.m3u8",
    "audio_en/index.m3u8",
    "audio_fr/index.m3u8",
    "720p/index_vtt.m3u8",
)
SEGMENT = 2.0
# A new viewer (rules/demo/rules/ads.toml): pre-roll, 14 s of content, mid-roll, the rest.
NEW_VIEWER = (("ad", 0, 10), ("content", 10, 24), ("ad", 24, 34), ("content", 34, 50))
PRESENTATION_SECONDS = 50.0
# A returning viewer (recap.toml, a `last=` history hint): the 6 s produced recap after the
# pre-roll, before the content.
RETURNING = (("ad", 0, 10), ("recap", 10, 16))
RECAP_END = 16.0
TOKENED = re.compile(r"^/vod/content/(?P<child>[^?]+)\?eas=[\w.-]+$")


async def test_edge_master_sends_every_child_through_the_edge_with_the_session_token(
    demo_stack: DemoStack,
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(demo_stack.edge_url + MASTER) as r:
            assert r.status == 200
            assert r.headers["X-Edge-Decision"].startswith("rev="), r.headers
            master = await r.text()
        uris = re.findall(r'URI="([^"]+)"', master) + [
            line for line in master.splitlines() if line[:1] not in ("#", "")
        ]
        matches = [TOKENED.match(u) for u in uris]
        assert all(matches), uris
        assert sorted(m["child"] for m in matches if m) == sorted(CHILDREN)
        assert len({u.partition("?eas=")[2] for u in uris}) == 1  # one session, one token
        for uri in uris:
            async with session.get(demo_stack.edge_url + uri) as r:
                assert r.status == 200, uri
                fired = r.headers["X-Edge-Decision"].split("; ")[1].removeprefix("rules=")
                playlist = await r.text()
            assert {"preroll", "midroll"} <= set(fired.split(",")), (uri, fired)
            segments = [line for line in playlist.splitlines() if line[:1] not in ("#", "")]
            # The pre-roll comes from the ad asset's matching rendition, content after it.
            assert segments[0].startswith("/vod/ad/"), (uri, segments)
            assert playlist.count("#EXT-X-DISCONTINUITY") == 3, (uri, playlist)


async def test_hls_js_plays_a_new_viewers_ads_and_content_to_the_end(
    demo_stack: DemoStack, harness_url: str, page: "Page"
) -> None:
    seen = await play(page, harness_url, "hls", demo_stack.edge_url + MASTER, audio="fr")
    why = _assert_played_cleanly(seen, demo_stack.edge_url)
    assert seen.ended, why
    # Past every segment seam (every 2 s) and splice to the end, without skipping one.
    assert seen.max_time >= PRESENTATION_SECONDS - 0.5, why
    assert seen.timeline.largest_gap() < SEGMENT, why
    # What the viewer saw: the red ad, content, the ad again, the content resumed; no recap.
    assert_runs(seen.timeline.runs(min_samples=2), NEW_VIEWER)
    assert "recap" not in seen.timeline.labels(), why
    assert any(f["url"].startswith("/vod/ad/") for f in seen.frags), seen.frags
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


async def test_hls_js_phone_session_lists_no_level_above_720p(
    demo_stack: DemoStack, harness_url: str, page: "Page"
) -> None:
    src = f"{demo_stack.edge_url}{MASTER}?device=phone"
    async with aiohttp.ClientSession() as session, session.get(src) as r:
        assert "phone-720p" in r.headers["X-Edge-Decision"], r.headers
    seen = await play(page, harness_url, "hls", src, play_for=2)
    _assert_played_cleanly(seen, demo_stack.edge_url)
    heights = [level["height"] for level in seen.levels]
    assert heights, seen.levels
    assert max(heights) <= 720, heights


async def test_hls_js_lang_fr_session_starts_in_french(
    demo_stack: DemoStack, harness_url: str, page: "Page"
) -> None:
    seen = await play(
        page, harness_url, "hls", f"{demo_stack.edge_url}{MASTER}?lang=fr", play_for=3
    )
    _assert_played_cleanly(seen, demo_stack.edge_url)
    # French is listed first and is the track hls.js starts on, without a switch.
    assert [t["lang"] for t in seen.audio_tracks] == ["fr", "en"], seen.audio_tracks
    audio = [f["url"] for f in seen.frags if f["type"] == "audio"]
    assert audio, seen.frags
    assert all("/audio_fr/" in url for url in audio), audio
    assert set(seen.audio_switched) <= {"fr"}, seen.audio_switched
    # The rules add the French subtitles (not in the origin's master) for a French viewer.
    assert sorted(t["lang"] for t in seen.subtitle_tracks) == ["en", "fr"], seen.subtitle_tracks


async def test_hls_js_returning_viewer_sees_the_recap_before_the_content(
    demo_stack: DemoStack, harness_url: str, page: "Page"
) -> None:
    src = f"{demo_stack.edge_url}{MASTER}?last=s01e02"
    assert "recap-returning" in await personalised_rules(src, demo_stack.edge_url)
    seen = await play(page, harness_url, "hls", src, play_for=RECAP_END + 4)
    why = _assert_played_cleanly(seen, demo_stack.edge_url)
    runs = seen.timeline.runs(min_samples=2)
    assert_runs(runs[:2], RETURNING)
    assert runs[2].label == "content", why
    assert abs(runs[2].start - RECAP_END) <= 1.0, why
    assert any(f["url"].startswith("/vod/recap/") for f in seen.frags), seen.frags


def _assert_played_cleanly(seen: Playback, edge_url: str) -> str:
    """No fatal or serious error, and every playlist and segment came through the edge."""
    why = seen.describe()
    assert seen.fatal is None, why
    assert seen.serious_errors() == [], why
    media = [u for u in seen.requests if "/vod/" in u]
    assert media, why
    assert all(u.startswith(edge_url + "/vod/") for u in media), media
    return why
