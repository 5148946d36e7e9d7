"""Every MPD the demo origin serves validates against the MPEG-DASH schema, before and
after the edge, and reads back through our DASH model without invariant violations."""

from pathlib import Path

import pytest
from aiohttp import web

from edge_assembler.config import load_config
from edge_assembler.core import dash
from edge_assembler.core.dash.invariants import check
from edge_assembler.demo.origin import create_origin_app
from edge_assembler.server.app import create_app
from edge_assembler.server.runner import start, urls
from tests.dash_support import assert_mpegdash_agrees, schema_errors

pytestmark = pytest.mark.media

IDENTITY = {"Accept-Encoding": "identity"}
MPDS = ("/dash/content/manifest.mpd", "/dash/ad/manifest.mpd", "/dash/recap/manifest.mpd")


@pytest.mark.parametrize("path", MPDS)
async def test_demo_mpds_validate_before_and_after_the_edge(demo_media: Path, client, path: str):
    origin_runner = web.AppRunner(create_origin_app(demo_media), access_log=None)
    await origin_runner.setup()
    await web.TCPSite(origin_runner, "127.0.0.1", 0).start()
    config = load_config(None, origin=urls(origin_runner)[0], listen=["127.0.0.1:0"])
    edge_runner = await start(create_app(config), config)
    try:
        async with client.get(urls(origin_runner)[0] + path, headers=IDENTITY) as r:
            direct = await r.read()
        async with client.get(urls(edge_runner)[0] + path, headers=IDENTITY) as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "application/dash+xml"
            through_edge = await r.read()
    finally:
        await edge_runner.cleanup()
        await origin_runner.cleanup()
    for data in (direct, through_edge):
        assert schema_errors(data) == []
        mpd = dash.parse(data)
        assert check(mpd) == []
        assert dash.render(mpd) == data
        assert_mpegdash_agrees(data)
