"""dash.js in headless Chromium plays the edge's DASH manifests: the demo content as the
demo rules bundle personalises it for a new viewer (rules/demo/rules/ads.toml: ad / content
/ ad / content Periods, no recap) and for a returning viewer (recap.toml: the blue recap
after the pre-roll, before the content), and a three-Period presentation (content / ad /
content) made with the project's DASH engine from the origin's manifests, served by a
loopback origin with a rules-less edge in front."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import pytest
from aiohttp import web

from edge_assembler.config import load_config
from edge_assembler.core import dash
from edge_assembler.core.dash.edits import apply
from edge_assembler.core.edits import AnyEdit
from edge_assembler.core.edits.splice import InsertRun
from edge_assembler.core.edits.uris import ResolveUris
from edge_assembler.server.app import create_app
from edge_assembler.server.runner import start, urls
from tests.e2e.conftest import DemoStack
from tests.e2e.observe import (
    Playback,
    PlaybackTimeout,
    assert_runs,
    personalised_rules,
    play,
)

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.e2e

CONTENT = "/dash/content/manifest.mpd"
AD = "/dash/ad/manifest.mpd"
SPLICED = "/dash/spliced/manifest.mpd"
AD_AT, AD_SECONDS, CONTENT_SECONDS = 10.0, 10.0, 30.0
# A new viewer of the demo content: pre-roll, 14 s of content, mid-roll, the rest.
NEW_VIEWER = (("ad", 0, 10), ("content", 10, 24), ("ad", 24, 34), ("content", 34, 50))
# A returning viewer (a `last=` history hint): the 6 s recap after the pre-roll.
RETURNING = (("ad", 0, 10), ("recap", 10, 16))
RECAP_END = 16.0


def _assert_played_cleanly(seen: Playback, duration: float) -> None:
    why = seen.describe()
    assert seen.fatal is None, why
    assert seen.errors == [], why
    assert seen.ended, why
    assert seen.max_time >= duration - 0.5, why
    assert seen.timeline.largest_gap() < 2.0, why
    assert sorted(level["height"] for level in seen.levels) == [360, 540, 720], seen.levels
    assert sorted(t["lang"] for t in seen.audio_tracks) == ["en", "fr"], seen.audio_tracks
    assert seen.audio_switched, "no audio switch"
    assert seen.audio_switched[-1] == "fr", seen.audio_switched


async def test_dash_js_plays_a_new_viewers_ads_and_content(
    demo_stack: DemoStack, harness_url: str, page: "Page"
) -> None:
    src = demo_stack.edge_url + CONTENT
    fired = await personalised_rules(src, demo_stack.edge_url)
    assert {"preroll", "midroll"} <= fired, fired
    async with aiohttp.ClientSession() as session:
        mpd = dash.parse(await _get(session, src))  # the render the player gets
    # One Period per ad and content run, the ads' segments from the ad asset.
    period_ids = [str(p.element.get("id")) for p in mpd.periods]
    assert len(period_ids) == len(NEW_VIEWER), period_ids
    seen = await play(page, harness_url, "dash", src, audio="fr")
    _assert_played_cleanly(seen, NEW_VIEWER[-1][2])
    # PERIOD_SWITCH_COMPLETED for every Period, in order.
    assert seen.periods == period_ids, seen.periods
    # What the viewer saw: the red ad at 0-10 s and 24-34 s, content around it.
    assert_runs(seen.timeline.runs(min_samples=2), NEW_VIEWER)
    assert "recap" not in seen.timeline.labels(), seen.describe()
    assert any("/dash/ad/chunk-" in u for u in seen.requests), "no ad segment was loaded"
    assert not any("/dash/recap/" in u for u in seen.requests), "a recap segment was loaded"
    fr_segments = [u for u in seen.requests if "/dash/content/chunk-4-" in u]
    assert fr_segments, "no fr audio segment was loaded"
    media = [u for u in seen.requests if "/dash/" in u]
    assert all(u.startswith(demo_stack.edge_url) for u in media), media


async def test_dash_js_returning_viewer_sees_the_recap_before_the_content(
    demo_stack: DemoStack, harness_url: str, page: "Page"
) -> None:
    src = f"{demo_stack.edge_url}{CONTENT}?last=s01e02"
    assert "recap-returning" in await personalised_rules(src, demo_stack.edge_url)
    seen = await play(page, harness_url, "dash", src, play_for=RECAP_END + 4)
    why = seen.describe()
    assert seen.fatal is None, why
    assert seen.errors == [], why
    runs = seen.timeline.runs(min_samples=2)
    assert_runs(runs[:2], RETURNING)
    assert runs[2].label == "content", why
    assert abs(runs[2].start - RECAP_END) <= 1.0, why
    assert any("/dash/recap/chunk-" in u for u in seen.requests), "no recap segment was loaded"


@dataclass(frozen=True, slots=True)
class Spliced:
    edge_url: str
    period_ids: list[str]


# A deliberate edge bug for the negative test: the content Period resumed after the ad
# loses its presentationTimeOffset (ISO/IEC 23009-1 §5.3.9.2), so its media times no
# longer line up with the Period's start.
DROP_RESUME_OFFSET = b' presentationTimeOffset="10000000"'


@asynccontextmanager
async def spliced(demo_stack: DemoStack, *, corrupt: bool = False) -> AsyncIterator[Spliced]:
    """The origin's demo content with the origin's demo ad spliced in at 10 s (``InsertRun``;
    the demo edge personalises its own answers), segment URLs made absolute through the demo
    edge, served from a loopback origin behind a new edge without rules."""
    content_url, ad_url = demo_stack.edge_url + CONTENT, demo_stack.edge_url + AD
    async with aiohttp.ClientSession() as session:
        content, ad = [await _get(session, demo_stack.origin_url + p) for p in (CONTENT, AD)]
    edits: list[AnyEdit] = [
        InsertRun(source="ad", source_url=ad_url, at=AD_AT, marker_id="e2e-ad"),
        ResolveUris(playlist_url=content_url),
    ]
    body = dash.render(apply(dash.parse(content), edits, {"ad": dash.parse(ad)}))
    if corrupt:
        assert DROP_RESUME_OFFSET in body
        body = body.replace(DROP_RESUME_OFFSET, b"")

    async def manifest(_: web.Request) -> web.Response:
        return web.Response(
            body=body,
            content_type="application/dash+xml",
            headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=60"},
        )

    origin_app = web.Application()
    origin_app.router.add_get(SPLICED, manifest)
    origin = web.AppRunner(origin_app, access_log=None)
    await origin.setup()
    await web.TCPSite(origin, "127.0.0.1", 0).start()
    try:
        config = load_config(None, origin=urls(origin)[0], listen=["127.0.0.1:0"])
        edge = await start(create_app(config), config)
        try:
            ids = [str(p.element.get("id")) for p in dash.parse(body).periods]
            yield Spliced(urls(edge)[0].rstrip("/"), ids)
        finally:
            await edge.cleanup()
    finally:
        await origin.cleanup()


async def _get(session: aiohttp.ClientSession, url: str) -> bytes:
    async with session.get(url) as r:
        assert r.status == 200, url
        return await r.read()


def _assert_ad_between_content(seen: Playback, period_ids: list[str]) -> None:
    _assert_played_cleanly(seen, CONTENT_SECONDS + AD_SECONDS)
    # PERIOD_SWITCH_COMPLETED for every Period, in order.
    assert seen.periods == period_ids, seen.periods
    # What the viewer saw: the red ad from ~10 s to ~20 s, content around it.
    runs = seen.timeline.runs(min_samples=2)
    assert [r.label for r in runs] == ["content", "ad", "content"], seen.describe()
    ad = runs[1]
    assert AD_AT - 0.5 <= ad.start <= AD_AT + 1.0, runs
    assert AD_AT + AD_SECONDS - 1.0 <= ad.end <= AD_AT + AD_SECONDS + 0.5, runs
    assert any("/dash/ad/chunk-" in u for u in seen.requests), "no ad segment was loaded"


async def test_dash_js_plays_a_multi_period_presentation(
    demo_stack: DemoStack, harness_url: str, page: "Page"
) -> None:
    async with spliced(demo_stack) as stream:
        assert len(stream.period_ids) == 3, stream.period_ids
        seen = await play(
            page, harness_url, "dash", stream.edge_url + SPLICED, audio="fr", switch_at=22
        )
    _assert_ad_between_content(seen, stream.period_ids)


async def test_the_harness_fails_on_a_broken_edge_output(
    demo_stack: DemoStack, harness_url: str, page: "Page"
) -> None:
    """The same assertions reject a spliced MPD whose resumed Period lost its offset."""
    async with spliced(demo_stack, corrupt=True) as stream:
        # The player either ends after jumping over the resumed content or stalls near the
        # end (both seen); either way the checks a healthy splice passes must fail.
        try:
            seen = await play(page, harness_url, "dash", stream.edge_url + SPLICED, limit=20)
        except PlaybackTimeout:
            return  # a stall: caught
    with pytest.raises(AssertionError):
        _assert_ad_between_content(seen, stream.period_ids)
    # It ended: what went wrong is that the viewer skipped the resumed content's first 10 s.
    assert seen.timeline.largest_gap() >= AD_SECONDS - 1.0, seen.describe()
