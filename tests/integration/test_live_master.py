"""A multivariant playlist does not say whether its presentation is live: the edge asks its
first variant (RFC 8216bis §4.4.3.4), so rules on ``live`` decide masters right."""

import aiohttp

from tests.conftest import Origin
from tests.integration.personalise_support import (
    NodeFactory,
    master_playlist,
    signed_bundle,
)
from tests.integration.test_personalise import FAIL_OPEN, MASTER, get, uris

LIVE_MASTER = "/live/event/master.m3u8"
# At most 720p for live presentations only.
LIVE_CAP = b"""
[[rules]]
id = "live-720p"
match = { live = true }
actions = [{ kind = "cap_variants", max_height = 720 }]
"""


def live_window(msn: int) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:2"]
    lines.append(f"#EXT-X-MEDIA-SEQUENCE:{msn}")
    for i in range(msn, msn + 6):
        lines += ["#EXTINF:2.000000,", f"seg_{i:05d}.ts"]
    return ("\n".join(lines) + "\n").encode()


def serve_live_event(origin: Origin) -> None:
    origin.state.manifest(LIVE_MASTER, body=master_playlist())
    for rendition in ("360p", "720p", "1080p"):
        origin.state.manifest(f"/live/event/{rendition}/index.m3u8", body=live_window(40))


async def test_a_live_masters_rules_see_it_live_and_a_vod_masters_do_not(
    node_factory: NodeFactory, http: aiohttp.ClientSession, origin: Origin
) -> None:
    serve_live_event(origin)
    node = await node_factory(bundle=signed_bundle({"rules/live.toml": LIVE_CAP}))
    _, headers, live = await get(http, node.url + LIVE_MASTER)
    assert "rules=live-720p" in headers["X-Edge-Decision"]
    assert "RESOLUTION=1920x1080" not in live
    assert len(uris(live)) == 2  # 360p and 720p, through the edge
    # The edge asked the first variant once; the player's request for it is a cache hit.
    assert origin.state.hits["/live/event/360p/index.m3u8"] == 1
    _, headers, vod = await get(http, node.url + MASTER)
    assert "live-720p" not in headers["X-Edge-Decision"]
    assert "RESOLUTION=1920x1080" in vod


async def test_a_master_whose_first_variant_is_missing_fails_open(
    node_factory: NodeFactory, http: aiohttp.ClientSession, origin: Origin
) -> None:
    origin.state.manifest(LIVE_MASTER, body=master_playlist())  # no media playlists
    node = await node_factory(bundle=signed_bundle({"rules/live.toml": LIVE_CAP}))
    status, headers, master = await get(http, node.url + LIVE_MASTER)
    assert status == 200
    assert headers["X-Edge-Decision"].endswith("fail-open=asset_missing")
    assert len(uris(master)) == 3  # the origin's ladder, children still through the edge
    assert all("?eas=" in uri for uri in uris(master))
    assert node.metric(FAIL_OPEN, reason="asset_missing") == 1
