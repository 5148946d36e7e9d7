"""Caching headers of personalised manifests (README "Personalisation pipeline", Caching):
``private`` when the answer is a session's own, ``public`` with the right ``Vary`` when
the URL and the context headers decide it (RFC 9111 §5.2.2.7, RFC 9110 §12.5.5)."""

import aiohttp

from tests.integration.personalise_support import NodeFactory, signed_bundle
from tests.integration.test_personalise import MASTER, MEDIA_720, MPD, child, get

CONTEXT_HEADERS = "Accept-Encoding, Accept-Language, User-Agent, CDN-Country"
AD_MEDIA = "/vod/ad/720p/index.m3u8"  # no demo rule applies to the ad itself

# A pre-roll for half of the sessions: the session id decides the plan.
COHORT_PREROLL = b"""
[[assets]]
id = "ad"
kind = "ad"
hls = "/vod/ad/{rendition}"
duration = 10

[[rules]]
id = "half-preroll"
match = { live = false, cohort = { salt = "ab-1", percent = 50 } }
actions = [{ kind = "ad_break", slot = "pre", pod = ["ad"] }]
"""


async def test_a_plan_decided_by_url_and_headers_is_public_and_varies_on_them(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    _, headers, media = await get(http, f"{node.url}{MEDIA_720}?last=s01e02")
    assert "/vod/recap/720p/seg_000.ts" in media
    assert headers["Cache-Control"] == "public, max-age=60"
    assert headers["Vary"] == CONTEXT_HEADERS
    # The headers named do change the answer: French first for a French browser.
    _, _, english = await get(http, node.url + MPD, **{"Accept-Language": "en"})
    _, french_headers, french = await get(http, node.url + MPD, **{"Accept-Language": "fr"})
    assert english != french
    assert "french" in french_headers["X-Edge-Decision"]
    # A query parameter overrides its header, which then no longer matters.
    _, headers, _ = await get(http, f"{node.url}{MPD}?lang=fr&device=phone")
    assert headers["Vary"] == "Accept-Encoding, CDN-Country"


async def test_an_empty_plan_keeps_the_origins_caching_and_varies(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    _, headers, _ = await get(http, node.url + AD_MEDIA)
    assert headers["X-Edge-Decision"].split("; ")[1] == "rules=ad-cap"  # nothing inserted
    assert headers["Cache-Control"] == "max-age=60"  # the origin's
    assert headers["Vary"] == CONTEXT_HEADERS


async def test_a_plan_the_session_id_chose_is_private(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory(bundle=signed_bundle({"rules/ads.toml": COHORT_PREROLL}))
    fired = set()
    for sid in ("a", "b", "c", "d", "e", "f", "g", "h"):
        _, headers, _ = await get(http, f"{node.url}{MEDIA_720}?sid={sid}")
        fired.add("half-preroll" in headers["X-Edge-Decision"])
        # In the cohort or not (then the origin's body): either way the session's own.
        assert headers["Cache-Control"] == "private, max-age=60", sid
        assert headers["Vary"] == CONTEXT_HEADERS
    assert fired == {True, False}  # both sides of the split were seen


async def test_a_session_token_makes_every_answer_private(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    _, headers, master = await get(http, node.url + MASTER)
    assert headers["Cache-Control"] == "private, max-age=60"  # it carries a new token
    assert headers["Vary"] == "Accept-Encoding"
    _, headers, _ = await get(http, node.url + child(master, "720p"))
    assert headers["Cache-Control"] == "private, max-age=60"
    assert headers["Vary"] == "Accept-Encoding"  # the token alone decides it
