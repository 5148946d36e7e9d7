"""The demo page's routes (no browser): only in the demo wiring, the players served from
node_modules, and a clear message when they are not installed."""

import html
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from edge_assembler.config import load_config
from edge_assembler.demo import page
from edge_assembler.demo.run import CHANNEL_STREAMS, DASH_VOD, HLS_VOD, _print_urls
from edge_assembler.server.app import create_app
from edge_assembler.server.runner import start, urls
from tests.conftest import Edge, Origin

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAYERS = {
    "hls.min.js": "hls.js/dist/hls.min.js",
    "dash.all.min.js": "dashjs/dist/modern/umd/dash.all.min.js",
}
DemoEdge = Callable[..., Awaitable[str]]


@pytest.fixture
async def demo_edge(origin: Origin) -> AsyncIterator[DemoEdge]:
    """Starts an edge wired as `edge-assembler demo` wires it; returns its base URL."""
    runners: list[web.AppRunner] = []

    async def make(node_modules: Sequence[Path], *sets: str) -> str:
        config = load_config(None, origin=origin.url, listen=["127.0.0.1:0"], sets=sets)
        routes = partial(
            page.add_routes,
            prefix=config.admin_prefix,
            origin=origin.url,
            hls=HLS_VOD[1],
            dash=DASH_VOD[1],
            node_modules=node_modules,
            live_hls=CHANNEL_STREAMS[0][1],
            live_dash=CHANNEL_STREAMS[1][1],
        )
        runner = await start(create_app(config, extra_routes=routes), config)
        runners.append(runner)
        return urls(runner)[0]

    yield make
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def node_modules(tmp_path: Path) -> Path:
    """A node_modules with stand-in player builds."""
    root = tmp_path / "node_modules"
    for name, relative in PLAYERS.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(f"/* {name} */\n")
    return root


async def test_plain_serve_app_has_no_demo_page(edge: Edge, client: aiohttp.ClientSession) -> None:
    for path in ("/_edge/demo", "/_edge/demo/lib/hls.min.js", "/_edge/demo/demo.js"):
        async with client.get(edge.url + path) as r:
            # The catch-all proxy took it to the origin, which has no such file.
            assert r.status == 404, path
            assert "Edge Assembler demo" not in await r.text()


async def test_page_carries_the_origin_and_the_manifest_paths(
    demo_edge: DemoEdge, node_modules: Path, origin: Origin, client: aiohttp.ClientSession
) -> None:
    base = await demo_edge([node_modules])
    async with client.get(f"{base}/_edge/demo") as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        assert r.headers["Cache-Control"] == "no-store"
        text = await r.text()
    assert f'data-origin="{html.escape(origin.url.rstrip("/"))}"' in text
    assert f'data-hls="{HLS_VOD[1]}"' in text
    assert f'data-dash="{DASH_VOD[1]}"' in text
    assert 'data-live-hls="/live/channel/master.m3u8"' in text
    assert 'data-live-dash="/live/channel/manifest.mpd"' in text
    assert '<input type="radio" name="stream" value="live">' in text
    for src in ("lib/hls.min.js", "lib/dash.all.min.js", "demo.js"):
        assert f'<script src="/_edge/demo/{src}"></script>' in text
    assert '<p id="notice" role="alert"></p>' in text  # nothing to install
    assert "https://" not in text  # no external network


async def test_page_follows_the_configured_admin_prefix(
    demo_edge: DemoEdge, node_modules: Path, client: aiohttp.ClientSession
) -> None:
    base = await demo_edge([node_modules], "admin_prefix=/ops")
    async with client.get(f"{base}/ops/demo") as r:
        assert r.status == 200
        assert '<script src="/ops/demo/lib/hls.min.js"></script>' in await r.text()
    async with client.get(f"{base}/ops/demo/lib/hls.min.js") as r:
        assert r.status == 200


async def test_players_and_assets_are_served_with_their_types(
    demo_edge: DemoEdge, node_modules: Path, tmp_path: Path, client: aiohttp.ClientSession
) -> None:
    # The first directory without the builds is skipped.
    base = await demo_edge([tmp_path / "elsewhere", node_modules])
    for name, relative in PLAYERS.items():
        async with client.get(f"{base}/_edge/demo/lib/{name}") as r:
            assert r.status == 200, name
            assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
            assert await r.read() == (node_modules / relative).read_bytes()
    assets = {"demo.js": "text/javascript", "demo.css": "text/css"}
    for name, content_type in assets.items():
        async with client.get(f"{base}/_edge/demo/{name}") as r:
            assert r.status == 200, name
            assert r.headers["Content-Type"] == f"{content_type}; charset=utf-8"
            assert await r.read() == (page.HERE / name).read_bytes()
    for path in ("lib/other.js", "lib/..%2F..%2Fpackage.json", "index.html", "__init__.py"):
        async with client.get(f"{base}/_edge/demo/{path}") as r:
            assert r.status == 404, path


async def test_missing_players_say_how_to_install_them(
    demo_edge: DemoEdge, tmp_path: Path, client: aiohttp.ClientSession
) -> None:
    base = await demo_edge([tmp_path / "node_modules"])
    async with client.get(f"{base}/_edge/demo") as r:
        assert r.status == 200
        text = await r.text()
    assert "hls.js and dashjs not installed: run `npm ci` in the project directory" in text
    assert "(`make run` does it)" in text
    async with client.get(f"{base}/_edge/demo/lib/dash.all.min.js") as r:
        assert r.status == 404
        assert "dashjs is not installed: run `npm ci`" in await r.text()


def test_players_are_looked_for_here_then_in_the_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert page.node_modules_dirs() == (tmp_path / "node_modules", REPO_ROOT / "node_modules")
    monkeypatch.chdir(REPO_ROOT)
    assert page.node_modules_dirs() == (REPO_ROOT / "node_modules",)


def test_banner_prints_the_demo_page_first(capsys: pytest.CaptureFixture[str]) -> None:
    config = load_config(None, origin="http://127.0.0.1:9")
    _print_urls("http://127.0.0.1:8080", "http://127.0.0.1:9", config, live=False)
    urls_printed = [
        line.split()[-1] for line in capsys.readouterr().out.splitlines() if "http" in line
    ]
    assert urls_printed[0] == "http://127.0.0.1:8080/_edge/demo"
