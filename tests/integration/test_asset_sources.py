"""Where the edge fetches the assets a plan needs: an edge path by its route, an absolute
URL under one of its own origins, never another host (README "Personalisation pipeline")."""

import aiohttp

from tests.conftest import Origin
from tests.integration.personalise_support import NodeFactory
from tests.integration.test_personalise import (
    FAIL_OPEN,
    MEDIA_720,
    get,
    preroll_bundle,
    uris,
)


async def test_an_ad_named_by_its_origin_url_is_fetched_from_that_origin(
    node_factory: NodeFactory, http: aiohttp.ClientSession, origin: Origin
) -> None:
    node = await node_factory(bundle=preroll_bundle(f"{origin.url}/vod/ad/{{rendition}}"))
    status, headers, media = await get(http, node.url + MEDIA_720)
    assert status == 200
    assert "dropped" not in headers["X-Edge-Decision"]
    # The pod's segments resolve against the ad playlist's own (absolute) URL.
    assert uris(media)[:5] == [f"{origin.url}/vod/ad/720p/seg_{i:03d}.ts" for i in range(5)]
    assert origin.state.hits["/vod/ad/720p/index.m3u8"] == 1


async def test_an_ad_on_another_host_is_dropped_without_asking_it(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory(bundle=preroll_bundle("http://ads.invalid/ad/{rendition}"))
    status, headers, media = await get(http, node.url + MEDIA_720)
    assert status == 200
    assert headers["X-Edge-Decision"].endswith("; dropped=ad:asset_missing")
    assert not any("ads.invalid" in uri for uri in uris(media))
    assert node.metric(FAIL_OPEN, reason="asset_missing") == 1
