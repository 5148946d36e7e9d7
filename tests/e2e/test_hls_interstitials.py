"""hls.js in headless Chromium plays the edge's HLS VOD in interstitials mode
(``choice.ads=interstitials``, rules/demo/rules/ads.toml): the pre-roll and the 14 s
mid-roll are EXT-X-DATERANGE interstitials (BIS Appendix D) whose asset list the edge
serves at ``{admin}/interstitials/assets.json``; hls.js plays the ad's own playlists in the
same video element and resumes the content where it left off. The media playlists carry
the schedule, not the ad (README "Personalisation pipeline")."""

import json
import re
from itertools import groupby
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from tests.e2e.conftest import DemoStack
from tests.e2e.observe import (
    Playback,
    PlaybackTimeout,
    assert_runs,
    personalised,
    personalised_rules,
    play,
)

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.e2e

MASTER = "/vod/content/master.m3u8?choice.ads=interstitials"
ASSET_LIST = "/_edge/interstitials/assets.json"
AD_MASTER = "/vod/ad/master.m3u8"
PRE, MID = "preroll-interstitial-pre-1", "midroll-interstitial-mid@14-1"
RATE = 4
# On the playout timeline (ad time included): the 10 s pre-roll, 14 s of content, the
# mid-roll, the remaining 16 s of content.
VIEWER = (("ad", 0, 10), ("content", 10, 24), ("ad", 24, 34), ("content", 34, 50))
# What the schedule reports, per interstitial, in order (hls.js Events).
ONE_BREAK = ("started", "asset-started", "asset-ended", "ended", "primary-resumed")
CONTENT_PLAYLIST = re.compile(r"^/vod/content/(?!master\.m3u8)[^?]+\.m3u8$")


async def test_hls_js_plays_the_interstitial_ads_from_the_edge_asset_list(
    demo_stack: DemoStack, harness_url: str, page: "Page"
) -> None:
    edge = demo_stack.edge_url
    # The edge personalises every playlist of the presentation before the player asks.
    fired = await personalised_rules(edge + MASTER, edge)
    assert {"preroll-interstitial", "midroll-interstitial"} <= fired, fired
    try:
        seen = await play(
            page, harness_url, "hls-interstitials", edge + MASTER, rate=RATE, limit=30
        )
    except PlaybackTimeout as exc:
        state = await page.evaluate("() => window.diagnose()")
        raise PlaybackTimeout(f"{exc}\n{json.dumps(state, indent=1)}") from exc
    log: list[dict[str, Any]] = await page.evaluate("() => window.R.interstitials")
    warnings: list[str] = await page.evaluate("() => window.R.warnings")
    # A playlist the edge served failing open (its deadline passed on a busy machine) has no
    # date ranges: hls.js then drops the interstitials from its schedule.
    log_lines = demo_stack.log.read_text(errors="replace").splitlines()
    fail_open = [line for line in log_lines if "fail open" in line]
    why = (
        f"{seen.describe()} interstitials={log} hls.js warnings={warnings[-20:]}"
        f" edge fail-open={fail_open}"
    )
    assert seen.fatal is None, why
    # Also benign here: hls.js aborting its own fragment load (ErrorDetails.INTERNAL_ABORTED,
    # on an ABR switch or when a player hands the element over), and the primary's first
    # play() superseded when hls.js loads the pre-roll as a new source (HTML "media element
    # load algorithm": pending play promises reject with AbortError).
    superseded = [e for e in seen.serious_errors() if e["details"] == "play:AbortError"]
    assert all(e["t"] == 0 for e in superseded), why
    serious = [e for e in seen.serious_errors() if e not in superseded]
    assert [e for e in serious if e["details"] != "aborted"] == [], why
    assert seen.ended, why

    # What the viewer saw: the red ad, the content, the ad again at 14 s, the content resumed
    # where it left off and played to its end.
    try:
        assert_runs(seen.timeline.runs(min_samples=2), VIEWER)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{why}") from exc
    # hls.js may announce an interstitial's start again when its asset list arrives.
    events = [
        k for k, _ in groupby((e["what"], e.get("id")) for e in log if e["what"] in ONE_BREAK)
    ]
    assert events == [
        (what, i if what != "primary-resumed" else None) for i in (PRE, MID) for what in ONE_BREAK
    ], why
    assert {e["uri"] for e in log if e["what"] == "asset-started"} == {edge + AD_MASTER}, why
    # Each new source (ad asset, primary again) plays at the harness rate.
    assert {e["rate"] for e in log if e["what"] == "playing"} == {RATE}, why

    # The asset lists came from the edge's admin path, one per interstitial.
    lists = [urlsplit(u) for u in seen.requests if u.startswith(edge + ASSET_LIST)]
    assert sorted(parse_qs(u.query)["_HLS_interstitial_id"][0] for u in lists) == [MID, PRE]
    assert all(parse_qs(u.query)["uri"] == [AD_MASTER] for u in lists), lists
    # The ad's segments came through the edge from its own playlists ...
    assert any(u.startswith(edge + "/vod/ad/") and ".ts" in u for u in seen.requests)
    # ... while the primary player loaded only content segments.
    assert seen.frags, why
    assert all(f["url"].startswith("/vod/content/") for f in seen.frags), seen.frags
    await _assert_content_playlists_are_not_spliced(seen, edge)


async def _assert_content_playlists_are_not_spliced(seen: Playback, edge: str) -> None:
    """The media playlists hls.js loaded: the content's own segments and the interstitial
    date ranges, no ad segment or discontinuity spliced in."""
    playlists = [
        u for u in seen.requests if u.startswith(edge) and CONTENT_PLAYLIST.match(_path(u))
    ]
    assert playlists, seen.requests
    async with aiohttp.ClientSession() as session:
        for url in playlists:
            text, _ = await personalised(session, url)
            assert "/vod/ad/" not in text, (url, text)
            assert "#EXT-X-DISCONTINUITY" not in text, (url, text)
            assert text.count('CLASS="com.apple.hls.interstitial"') == 2, (url, text)


def _path(url: str) -> str:
    return urlsplit(url).path
