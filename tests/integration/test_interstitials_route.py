"""HLS interstitials mode through a real edge with the demo rules bundle: a viewer asking
for it (``choice.ads=interstitials``) gets the pre-roll and the mid-roll as
EXT-X-DATERANGE interstitials whose X-ASSET-LIST the edge serves (README "Personalisation
pipeline"; BIS Appendix D)."""

import json
import re
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from edge_assembler.core.hls.attributes import Attributes, parse_attributes
from tests.integration.personalise_support import NodeFactory

MASTER = "/vod/content/master.m3u8"
ASSET_LIST = "/_edge/interstitials/assets.json"


def dateranges(playlist: str) -> list[Attributes]:
    return [
        parse_attributes(line.partition(":")[2])
        for line in playlist.splitlines()
        if line.startswith("#EXT-X-DATERANGE:")
    ]


async def test_interstitials_mode_schedules_the_ads_through_an_edge_asset_list(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    async with http.get(f"{node.url}{MASTER}?choice.ads=interstitials") as r:
        assert r.status == 200
        master = await r.text()
    found = re.search(r"(/vod/content/720p/index\.m3u8\?eas=[^\s\"]+)", master)
    assert found, master
    async with http.get(node.url + found[1]) as r:
        assert r.status == 200
        fired = r.headers["X-Edge-Decision"].split("; ")[1].removeprefix("rules=").split(",")
        media = await r.text()
    assert {"preroll-interstitial", "midroll-interstitial"} <= set(fired), fired
    assert not {"preroll", "midroll"} & set(fired), fired
    # The content is not spliced: its 15 segments, no ad segment, no discontinuity.
    segments = [line for line in media.splitlines() if line and not line.startswith("#")]
    assert segments == [f"seg_{i:03d}.ts" for i in range(15)], media
    assert "#EXT-X-DISCONTINUITY" not in media
    # A date on the first segment anchors the date ranges (SPEC_RULES 34).
    assert "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:00.000Z" in media, media
    pre, mid = dateranges(media)
    assert pre["CLASS"] == mid["CLASS"] == "com.apple.hls.interstitial"
    assert pre["CUE"] == "PRE"
    assert pre["START-DATE"] == "1970-01-01T00:00:00.000Z"
    assert "CUE" not in mid
    assert mid["START-DATE"] == "1970-01-01T00:00:14.000Z"
    for attributes in (pre, mid):
        assert attributes["DURATION"] == "10"
        assert attributes["X-RESUME-OFFSET"] == "0"
        assert "X-ASSET-URI" not in attributes
    # The pre-roll's tag sits before the first segment, the mid-roll's before the 8th (14 s).
    lines = [line for line in media.splitlines() if line]
    first = lines.index("seg_000.ts")
    eighth = lines.index("seg_007.ts")
    assert any(line.startswith("#EXT-X-DATERANGE") and "PRE" in line for line in lines[:first])
    assert lines[eighth - 1] == "#EXTINF:2.000000,"
    assert lines[eighth - 2].startswith("#EXT-X-DATERANGE")

    for attributes in (pre, mid):
        listed = urlsplit(attributes["X-ASSET-LIST"])
        assert listed.path == ASSET_LIST
        query = parse_qs(listed.query)
        assert query["uri"] == ["/vod/ad/master.m3u8"]
        assert query["_HLS_interstitial_id"] == [attributes["ID"]]
        async with http.get(
            node.url + attributes["X-ASSET-LIST"], headers={"Origin": "http://player.test"}
        ) as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "application/json"
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            body = json.loads(await r.read())
        assert body == {"ASSETS": [{"URI": f"{node.url}/vod/ad/master.m3u8", "DURATION": 10.0}]}
        # The listed URI is the ad's multivariant playlist, through the edge.
        async with http.get(body["ASSETS"][0]["URI"]) as r:
            assert r.status == 200
            assert "#EXT-X-STREAM-INF" in await r.text()


async def test_without_the_choice_the_ads_are_spliced(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    async with http.get(f"{node.url}/vod/content/720p/index.m3u8") as r:
        media = await r.text()
    assert "#EXT-X-DATERANGE" not in media
    assert media.count("#EXT-X-DISCONTINUITY") == 3


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("uri=/vod/ad/master.m3u8&duration=-1", 400),
        ("uri=/vod/ad/master.m3u8&duration=nan", 400),
        ("uri=http://elsewhere.test/x.m3u8", 400),
        ("uri=//elsewhere.test/x.m3u8", 400),
        ("duration=10", 400),
    ],
)
async def test_asset_list_refuses_what_is_not_an_edge_asset(
    node_factory: NodeFactory, http: aiohttp.ClientSession, query: str, status: int
) -> None:
    node = await node_factory()
    async with http.get(f"{node.url}{ASSET_LIST}?{query}") as r:
        assert r.status == status
        assert r.headers["X-Edge-Error"] == "bad_param"
