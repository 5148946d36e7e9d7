"""An ad named by its multivariant playlist, with another ladder than the content's, through a
real edge and a loopback origin: each content rendition gets the matching ad rendition, and
content subtitles get empty WebVTT where the ad has none (README "Personalisation
pipeline")."""

import re

import aiohttp
import m3u8
import pytest

from tests.conftest import Origin
from tests.integration.personalise_support import Node, NodeFactory, signed_bundle

CONTENT_MASTER = "/vod/content/master.m3u8"
AD_MASTER = "/vod/adm/master.m3u8"
EMPTY_VTT = "/_edge/empty.vtt"
FAIL_OPEN = "edge_assembler_fail_open_total"

ADS = f"""
[[assets]]
id = "ad"
kind = "ad"
hls = "{AD_MASTER}"
duration = 10

[[rules]]
id = "preroll"
match = {{ live = false, path = ["/vod/content/**"] }}
actions = [{{ kind = "ad_break", slot = "pre", pod = ["ad"] }}]

[[rules]]
id = "midroll"
match = {{ live = false, path = ["/vod/content/**"] }}
actions = [{{ kind = "ad_break", slot = "mid", at = 14, pod = ["ad"] }}]
""".encode()

# The content: a three-rung AVC ladder, English and French stereo, English subtitles.
CONTENT = b"""#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio_en/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Francais",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="audio_fr/index.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,URI="subs_en/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2",AUDIO="aud",SUBTITLES="subs"
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2400000,RESOLUTION=1280x720,CODECS="avc1.4d401f,mp4a.40.2",AUDIO="aud",SUBTITLES="subs"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=4800000,RESOLUTION=1920x1080,CODECS="avc1.640028,mp4a.40.2",AUDIO="aud",SUBTITLES="subs"
1080p/index.m3u8
"""

# The ad: another ladder (HEVC at the content's 1080p bandwidth must not be taken for AVC),
# English stereo and 5.1, French, and no subtitles.
AD = b"""#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English 5.1",LANGUAGE="en",DEFAULT=YES,CHANNELS="6",URI="a_en6/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English",LANGUAGE="en",DEFAULT=NO,CHANNELS="2",URI="a_en2/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="Francais",LANGUAGE="fr",DEFAULT=NO,CHANNELS="2",URI="a_fr/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=4800000,RESOLUTION=1920x1080,CODECS="hvc1.1.6.L120.90,mp4a.40.2",AUDIO="a"
hevc1080/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=768x432,CODECS="avc1.4d401e,mp4a.40.2",AUDIO="a"
v432/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,CODECS="avc1.640028,mp4a.40.2",AUDIO="a"
v1080/index.m3u8
"""  # noqa: E501

# Content child -> the ad playlist that plays in its place (None: empty WebVTT).
EXPECTED = {
    "360p": "v432",  # AVC SD, the nearest bandwidth
    "720p": "v432",  # no AVC HD: the nearest AVC bandwidth of any class
    "1080p": "v1080",  # AVC FHD, not the HEVC rung of the very same bandwidth
    "audio_en": "a_en2",  # English stereo, not the default English 5.1
    "audio_fr": "a_fr",
    "subs_en": None,
}


def playlist(segments: list[str], duration: float = 2.0) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:2"]
    lines += ["#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for uri in segments:
        lines += [f"#EXTINF:{duration:.6f},", uri]
    return ("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n").encode()


def serve(origin: Origin) -> None:
    state = origin.state
    state.manifest(CONTENT_MASTER, body=CONTENT)
    content_ts = [f"seg_{i:03d}.ts" for i in range(15)]
    for name in ("360p", "720p", "1080p", "audio_en", "audio_fr", "extra"):
        state.manifest(f"/vod/content/{name}/index.m3u8", body=playlist(content_ts))
    vtt = playlist([f"sub_{i:03d}.vtt" for i in range(15)])
    for name in ("subs_en", "subs_fr"):
        state.manifest(f"/vod/content/{name}/index.m3u8", body=vtt)
    state.manifest(AD_MASTER, body=AD)
    for name in ("hevc1080", "v432", "v1080", "a_en6", "a_en2", "a_fr"):
        state.manifest(f"/vod/adm/{name}/index.m3u8", body=playlist(["ad_0.m4s", "ad_1.m4s"], 5.0))


async def get(http: aiohttp.ClientSession, url: str) -> tuple[aiohttp.ClientResponse, str]:
    async with http.get(url) as r:
        return r, await r.text()


async def children(http: aiohttp.ClientSession, node: Node) -> dict[str, str]:
    """The tokened child URIs of the personalised content master, by rendition name."""
    r, master = await get(http, node.url + CONTENT_MASTER)
    assert r.status == 200
    found = dict(re.findall(r"(/vod/content/([\w]+)/index\.m3u8\?eas=[^\"\s]+)", master))
    return {name: uri for uri, name in found.items()}


def pods(text: str) -> tuple[list[str], float, int]:
    """The ad segment URIs, their total duration, and the discontinuities."""
    parsed = m3u8.loads(text)  # an independent reader
    ad = [s for s in parsed.segments if not s.uri.startswith(("seg_", "sub_"))]
    breaks = sum(s.discontinuity for s in parsed.segments)
    return [s.uri for s in ad], sum(s.duration for s in ad), breaks


@pytest.fixture
async def node(node_factory: NodeFactory, origin: Origin) -> Node:
    serve(origin)
    return await node_factory(bundle=signed_bundle({"rules/ads.toml": ADS}))


async def test_every_content_rendition_gets_its_ad_rendition_or_empty_webvtt(
    node: Node, http: aiohttp.ClientSession
) -> None:
    uris = await children(http, node)
    assert set(uris) == set(EXPECTED)
    seams = set()
    for name, ad in EXPECTED.items():
        r, text = await get(http, node.url + uris[name])
        assert r.status == 200, name
        assert "dropped" not in r.headers["X-Edge-Decision"], name
        segments, duration, breaks = pods(text)
        one = [f"/vod/adm/{ad}/ad_0.m4s", f"/vod/adm/{ad}/ad_1.m4s"] if ad else [EMPTY_VTT] * 2
        assert segments == one * 2, name  # the pre-roll and the mid-roll
        seams.add((duration, breaks))
    assert seams == {(20.0, 3)}  # every rendition: the same pods, the same seams


async def test_the_empty_webvtt_document_is_served_by_the_edge(
    node: Node, http: aiohttp.ClientSession
) -> None:
    r, text = await get(http, node.url + EMPTY_VTT)
    assert r.status == 200
    assert text == "WEBVTT\n\n"
    assert r.headers["Content-Type"] == "text/vtt"
    assert r.headers["Cache-Control"].startswith("public, max-age=")


async def test_a_playlist_the_master_does_not_list_is_matched_by_its_nature(
    node: Node, http: aiohttp.ClientSession
) -> None:
    token = (await children(http, node))["360p"].partition("?")[2]
    # WebVTT segments: subtitles of an unknown language, padded.
    r, text = await get(http, f"{node.url}/vod/content/subs_fr/index.m3u8?{token}")
    assert pods(text)[0] == [EMPTY_VTT] * 4
    # Anything else cannot be matched: the ad is dropped, the content plays.
    before = node.metric(FAIL_OPEN, reason="asset_missing")
    r, text = await get(http, f"{node.url}/vod/content/extra/index.m3u8?{token}")
    assert "dropped=ad:asset_missing" in r.headers["X-Edge-Decision"]
    assert pods(text) == ([], 0, 0)
    assert node.metric(FAIL_OPEN, reason="asset_missing") == before + 1


async def test_a_media_playlist_without_session_drops_an_ad_named_by_its_master(
    node: Node, http: aiohttp.ClientSession
) -> None:
    before = node.metric(FAIL_OPEN, reason="asset_missing")
    r, text = await get(http, f"{node.url}/vod/content/720p/index.m3u8")
    assert r.status == 200
    assert "dropped=ad:asset_missing" in r.headers["X-Edge-Decision"]
    assert r.headers["Cache-Control"] == "no-store"  # a degraded answer
    assert pods(text) == ([], 0, 0)
    assert node.metric(FAIL_OPEN, reason="asset_missing") == before + 1
