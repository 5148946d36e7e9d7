"""Per-viewer manifests through a real edge, a real signed demo rules bundle and a loopback
origin serving a demo-like ladder (README "Personalisation pipeline"; DESIGN §2, §4)."""

import re

import aiohttp
import m3u8
import pytest
from multidict import CIMultiDictProxy

from edge_assembler.core.session import issue_token
from edge_assembler.core.viewer import ContextInputs
from tests.conftest import Origin
from tests.integration.personalise_support import (
    DEMO_RULES,
    KEY_ID,
    SECRET,
    Node,
    NodeFactory,
    media_playlist,
    signed_bundle,
)

MASTER = "/vod/content/master.m3u8"
MEDIA_720 = "/vod/content/720p/index.m3u8"
MPD = "/dash/content/manifest.mpd"
FAIL_OPEN = "edge_assembler_fail_open_total"
COHORTS = "edge_assembler_cohort_renders_total"


async def get(
    http: aiohttp.ClientSession, url: str, **headers: str
) -> tuple[int, CIMultiDictProxy[str], str]:
    async with http.get(url, headers=headers) as r:
        return r.status, r.headers, await r.text()


def child(master: str, rendition: str) -> str:
    """The child URI of ``rendition`` ("720p", "audio_fr") in a rewritten master."""
    found = re.search(rf'(/vod/content/{rendition}/index\.m3u8\?eas=[^"\s]+)', master)
    assert found, master
    return found[1]


async def session_child(
    http: aiohttp.ClientSession, node: Node, query: str, rendition: str = "720p"
) -> tuple[int, CIMultiDictProxy[str], str]:
    """Start a session at the master with ``query``, then load one of its children."""
    status, _, master = await get(http, f"{node.url}{MASTER}?{query}")
    assert status == 200
    return await get(http, node.url + child(master, rendition))


def uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


async def test_first_time_viewer_gets_pre_and_mid_roll_through_tokened_children(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    status, headers, master = await get(http, node.url + MASTER, **{"User-Agent": "Firefox"})
    assert status == 200
    children = uris(master) + re.findall(r'URI="([^"]+)"', master)
    assert len(children) == 5  # three variants, two audio renditions
    tokens = {re.search(r"[?&]eas=([^&]+)$", c)[1] for c in children}  # type: ignore[index]
    assert len(tokens) == 1  # one session token on every child
    assert all(c.startswith("/vod/content/") for c in children)  # through the edge
    assert headers["Cache-Control"] == "private, max-age=60"
    assert headers["X-Rules-Revision"] == "7"

    status, headers, media = await get(http, node.url + child(master, "720p"))
    assert status == 200
    decision = headers["X-Edge-Decision"]
    assert re.fullmatch(r"rev=7; rules=[a-z0-9,-]+; plan=[0-9a-f]{12}", decision), decision
    fired = decision.split("; ")[1].removeprefix("rules=").split(",")
    assert {"preroll", "midroll"} <= set(fired)
    segments = uris(media)
    ad = [f"/vod/ad/720p/seg_{i:03d}.ts" for i in range(5)]
    content = [f"seg_{i:03d}.ts" for i in range(15)]
    # Pre-roll, 14 s of content, mid-roll, the rest: content resumes where it left off.
    assert segments == [*ad, *content[:7], *ad, *content[7:]]
    parsed = m3u8.loads(media)  # the independent cross-check (DESIGN §4)
    assert [s.discontinuity for s in parsed.segments].count(True) == 3  # one per seam
    assert sum(s.duration for s in parsed.segments) == pytest.approx(50.0)
    assert headers["Cache-Control"] == "private, max-age=60"
    assert headers["ETag"].startswith('W/"')


async def test_phone_never_sees_a_variant_above_720p(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
    for query, agent in (("device=phone", "Firefox"), ("", iphone)):
        _, headers, master = await get(http, f"{node.url}{MASTER}?{query}", **{"User-Agent": agent})
        heights = [int(h) for h in re.findall(r"RESOLUTION=\d+x(\d+)", master)]
        assert heights == [360, 720]
        assert "phone-720p" in headers["X-Edge-Decision"]
    _, _, desktop = await get(http, node.url + MASTER, **{"User-Agent": "Firefox"})
    assert "RESOLUTION=1920x1080" in desktop


async def test_lang_fr_makes_french_the_default_audio(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    _, headers, master = await get(http, f"{node.url}{MASTER}?lang=fr")
    audio = re.findall(r"#EXT-X-MEDIA:TYPE=AUDIO,.*", master)
    assert 'LANGUAGE="fr"' in audio[0]
    assert "DEFAULT=YES" in audio[0]
    assert all("DEFAULT=NO" in line for line in audio[1:])
    assert 'TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="fr"' in master  # the French subtitles
    assert "french" in headers["X-Edge-Decision"]
    # Accept-Language says the same when the query does not.
    _, _, by_header = await get(http, node.url + MASTER, **{"Accept-Language": "fr-FR, en;q=0.5"})
    assert re.search(r'LANGUAGE="fr",DEFAULT=YES', by_header)


async def test_returning_viewer_gets_the_recap_before_the_content(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    _, headers, media = await session_child(http, node, "last=s01e02")
    segments = uris(media)
    recap = [f"/vod/recap/720p/seg_{i:03d}.ts" for i in range(3)]
    first_content = segments.index("seg_000.ts")
    assert segments[first_content - 3 : first_content] == recap
    assert "recap-returning" in headers["X-Edge-Decision"]
    _, _, new_viewer = await session_child(http, node, "")
    assert not any("/vod/recap/" in s for s in uris(new_viewer))


async def test_short_session_is_trimmed(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    _, headers, media = await session_child(http, node, "len=12")
    content = [s for s in uris(media) if not s.startswith("/vod/")]
    assert content == [f"seg_{i:03d}.ts" for i in range(6)]  # 12 s of content
    assert "short-session" in headers["X-Edge-Decision"]
    assert media.rstrip().endswith("#EXT-X-ENDLIST")


async def test_viewers_of_one_cohort_share_one_render(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    _, first_headers, first = await session_child(http, node, "sid=viewer-a")
    hits, misses = node.metric(COHORTS, result="hit"), node.metric(COHORTS, result="miss")
    _, second_headers, second = await session_child(http, node, "sid=viewer-b")
    assert first == second
    assert first_headers["ETag"] == second_headers["ETag"]
    assert node.metric(COHORTS, result="hit") == hits + 2  # the master and the media playlist
    assert node.metric(COHORTS, result="miss") == misses
    assert node.metric("edge_assembler_parsed_models_total", result="hit") >= 2


async def test_token_is_required_to_be_genuine(
    node_factory: NodeFactory, http: aiohttp.ClientSession, origin: Origin
) -> None:
    node = await node_factory()
    _, _, master = await get(http, node.url + MASTER)
    url = child(master, "720p")
    token = url.partition("eas=")[2]
    payload, _, mac = token.partition(".")
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]  # the first character: 6 MAC bits
    inputs = ContextInputs(sid="s1", start=1, master=MASTER)
    cases = {
        "bad_signature": f"{payload}.{flipped}",
        "malformed": "not-a-token",
        "unknown_key": issue_token(inputs, key_id="other", key=b"k" * 32, expires=2**40),
        "expired": issue_token(inputs, key_id=KEY_ID, key=SECRET.encode(), expires=1),
    }
    hits = origin.state.hits[MEDIA_720]
    for reason, bad in cases.items():
        status, headers, text = await get(http, f"{node.url}{MEDIA_720}?eas={bad}")
        assert status == 403, reason
        assert headers["X-Edge-Error"] == reason
        assert text.startswith("403 ")
    assert origin.state.hits[MEDIA_720] == hits  # refused before the origin is asked


async def test_a_media_playlist_without_token_is_personalised_from_its_own_query(
    node_factory: NodeFactory, http: aiohttp.ClientSession, origin: Origin
) -> None:
    node = await node_factory()
    status, _, media = await get(http, f"{node.url}{MEDIA_720}?last=s01e02&sid=abc")
    assert status == 200
    assert "/vod/recap/720p/seg_000.ts" in uris(media)
    assert "/vod/ad/720p/seg_000.ts" in uris(media)
    # The edge's own parameters never reach the origin, so viewers share its cache entry.
    assert origin.state.hits[MEDIA_720] == 1
    assert origin.state.hits["/vod/content/720p/index.m3u8?last=s01e02&sid=abc"] == 0


async def test_two_nodes_answer_one_token_byte_for_byte(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    one, two = await node_factory(), await node_factory()
    _, _, master = await get(http, f"{one.url}{MASTER}?last=s01e02&lang=fr")
    for rendition in ("720p", "audio_fr"):
        path = child(master, rendition)
        _, _, from_one = await get(http, one.url + path)
        _, _, from_two = await get(http, two.url + path)
        assert from_one == from_two
        assert "/vod/recap/" in from_one
    # A master reloaded with the session's token is the same on both nodes too.
    token = child(master, "720p").partition("?")[2]
    _, _, again_one = await get(http, f"{one.url}{MASTER}?{token}")
    _, _, again_two = await get(http, f"{two.url}{MASTER}?{token}")
    assert again_one == again_two == master


async def test_revalidation_of_a_personalised_playlist(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    _, _, master = await get(http, node.url + MASTER)
    url = node.url + child(master, "720p")
    _, headers, _ = await get(http, url)
    etag = headers["ETag"]
    async with http.get(url, headers={"If-None-Match": etag}) as r:
        assert r.status == 304
        assert r.headers["X-Edge-Decision"] == headers["X-Edge-Decision"]
    # The origin's validators are not the personalised body's.
    _, origin_headers, _ = await get(http, node.url + "/vod/content/360p/index.m3u8?len=1")
    async with http.get(url, headers={"If-None-Match": f'"{etag[3:-1].split("-")[0]}"'}) as r:
        assert r.status == 200
    assert origin_headers["ETag"] != etag


async def test_dash_pre_and_mid_roll_and_french_first(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    status, headers, mpd = await get(http, f"{node.url}{MPD}?lang=fr")
    assert status == 200
    periods = re.findall(r'<Period id="([^"]+)" start="([^"]+)"', mpd)
    # Pre-roll, 14 s of content, mid-roll, the rest of the content (its own Period).
    assert periods == [
        ("ad_PT0S", "PT0.0S"),
        ("0", "PT10S"),
        ("ad_PT14S", "PT24S"),
        ("0_PT14S", "PT34S"),
    ]
    assert mpd.count("<BaseURL>/dash/ad/</BaseURL>") == 2
    assert 'mediaPresentationDuration="PT50S"' in mpd
    first_audio = re.search(r'contentType="audio" lang="(\w+)"', mpd)
    assert first_audio is not None
    assert first_audio[1] == "fr"
    assert {"preroll", "midroll", "french"} <= set(
        headers["X-Edge-Decision"].split("; ")[1].removeprefix("rules=").split(",")
    )
    # No token and no rule chose by session id: the URL and the context headers decide it.
    assert headers["Cache-Control"] == "public, max-age=60"
    assert headers["Vary"] == "Accept-Encoding, User-Agent, CDN-Country"


# -- fail open ----------------------------------------------------------------------------

PREROLL_ONLY = b"""
[[assets]]
id = "ad"
kind = "ad"
hls = "%s"
dash = "/dash/ad/manifest.mpd"
duration = 10

[[rules]]
id = "preroll"
match = { live = false }
actions = [{ kind = "ad_break", slot = "pre", pod = ["ad"] }]
"""


def preroll_bundle(ad_url: str) -> bytes:
    return signed_bundle({"rules/ads.toml": PREROLL_ONLY % ad_url.encode()})


async def assert_fails_open(
    node: Node, http: aiohttp.ClientSession, path: str, body: bytes, reason: str
) -> None:
    before = node.metric(FAIL_OPEN, reason=reason)
    async with http.get(node.url + path) as r:
        assert r.status == 200
        assert await r.read() == body  # the origin manifest, unmodified
        assert reason in r.headers["X-Edge-Decision"]
        assert r.headers["Cache-Control"] == "no-store"
    assert node.metric(FAIL_OPEN, reason=reason) == before + 1


async def test_fail_open_on_a_malformed_origin_manifest(
    node_factory: NodeFactory, http: aiohttp.ClientSession, origin: Origin
) -> None:
    node = await node_factory()
    broken = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:two,\nseg_000.ts\n"
    origin.state.manifest("/vod/content/broken/index.m3u8", body=broken)
    await assert_fails_open(node, http, "/vod/content/broken/index.m3u8", broken, "bad_manifest")


@pytest.mark.parametrize(
    ("ad_url", "reason"),
    [
        ("/vod/missing/{rendition}", "asset_missing"),  # the origin answers 404
        ("/vod/slow/{rendition}", "asset_timeout"),
        ("/files/seg.ts", "rules_error"),  # the rules point at a media segment
    ],
)
async def test_fail_open_when_the_ad_cannot_be_used(
    node_factory: NodeFactory,
    http: aiohttp.ClientSession,
    origin: Origin,
    ad_url: str,
    reason: str,
) -> None:
    origin.state.manifest("/vod/slow/720p/index.m3u8", body=media_playlist("ad", "720p"), delay=2)
    node = await node_factory("personalise.asset_timeout=0.2", bundle=preroll_bundle(ad_url))
    body = media_playlist("content", "720p")
    await assert_fails_open(node, http, MEDIA_720, body, reason)


async def test_a_missing_ad_drops_only_that_ad(
    node_factory: NodeFactory, http: aiohttp.ClientSession, origin: Origin
) -> None:
    rules = {**DEMO_RULES}
    rules["rules/catalogue.toml"] = rules["rules/catalogue.toml"].replace(
        b'hls = "/vod/ad/{rendition}"', b'hls = "/vod/gone/{rendition}"'
    )
    node = await node_factory(bundle=signed_bundle(rules))
    _, headers, media = await session_child(http, node, "last=s01e02")
    segments = uris(media)
    assert segments[:3] == [f"/vod/recap/720p/seg_{i:03d}.ts" for i in range(3)]  # kept
    assert not any("/vod/gone/" in s for s in segments)
    assert headers["X-Edge-Decision"].endswith("; dropped=ad:asset_missing")
    assert headers["Cache-Control"] == "no-store"
    assert node.metric(FAIL_OPEN, reason="asset_missing") == 1


async def test_fail_open_past_the_deadline_keeps_children_on_the_edge(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory("personalise.deadline=0.000001")
    await assert_fails_open(node, http, MEDIA_720, media_playlist("content", "720p"), "deadline")
    _, headers, master = await get(http, f"{node.url}{MASTER}?device=phone")
    assert "RESOLUTION=1920x1080" in master  # the origin's ladder, not the phone's
    assert headers["X-Edge-Decision"] == "rev=7; fail-open=deadline"
    status, _, media = await get(http, node.url + child(master, "720p"))
    assert status == 200  # the tokened child still plays
    assert media.encode() == media_playlist("content", "720p")


DUPLICATE_TRACK = b"""
[[assets]]
id = "dub-de"
kind = "audio"
hls = "/vod/content/dub_de/index.m3u8"
rendition = { language = "de", name = "English", group = "aud" }

[[rules]]
id = "dub"
actions = [{ kind = "add_track", asset = "dub-de" }]
"""


async def test_fail_open_when_an_edit_is_refused(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    # The group already has a rendition NAME="English": the edit refuses a second one.
    node = await node_factory(bundle=signed_bundle({"rules/dub.toml": DUPLICATE_TRACK}))
    _, headers, master = await get(http, node.url + MASTER)
    assert headers["X-Edge-Decision"] == "rev=7; fail-open=edit_error"
    assert node.metric(FAIL_OPEN, reason="edit_error") == 1
    assert master.count("#EXT-X-MEDIA:") == 2  # the origin's renditions
    assert len(uris(master)) == 3  # every variant, through the edge with the token
    assert all("?eas=" in uri for uri in uris(master))


async def test_a_manifest_known_by_its_content_type_is_personalised(
    node_factory: NodeFactory, http: aiohttp.ClientSession, origin: Origin
) -> None:
    node = await node_factory()
    for asset in ("content", "ad"):
        origin.state.manifest(f"/vod/{asset}/720p/playlist", body=media_playlist(asset, "720p"))
    for _ in range(2):  # found by its content type, then known by its path
        status, headers, media = await get(http, node.url + "/vod/content/720p/playlist")
        assert status == 200
        assert uris(media)[0] == "/vod/ad/720p/seg_000.ts"
        assert "preroll" in headers["X-Edge-Decision"]
