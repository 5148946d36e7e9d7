"""The dry run: ``{admin_prefix}/debug/render`` on a real edge with the demo rules bundle, and
``edge-assembler render`` as a subprocess against a loopback origin (README "Dry run and
debug endpoint")."""

import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.bundle_support import BundleFactory
from tests.conftest import Origin
from tests.integration.personalise_support import DEMO_RULES, Node, NodeFactory, Nodes
from tests.integration.test_personalise import MEDIA_720, get, uris

TOKEN = "debug-token-for-the-render-tests-0123"
AD_720 = [f"/vod/ad/720p/seg_{i:03d}.ts" for i in range(5)]


async def debug(
    http: aiohttp.ClientSession, node: Node, path: str, **headers: str
) -> tuple[int, Any]:
    url = f"{node.url}/_edge/debug/render"
    async with http.get(url, params={"path": path}, headers=headers) as r:
        body = await r.read()
        return r.status, json.loads(body) if r.status == 200 else body.decode()


async def test_debug_endpoint_is_off_by_default(
    node_factory: NodeFactory, http: aiohttp.ClientSession, origin: Origin
) -> None:
    node = await node_factory()
    status, _ = await debug(http, node, MEDIA_720, Authorization=f"Bearer {TOKEN}")
    assert status == 404
    assert origin.state.hits[MEDIA_720] == 0  # never proxied to the origin either


async def test_debug_endpoint_wants_the_token(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory(f"debug.token={TOKEN}")
    assert (await debug(http, node, MEDIA_720))[0] == 401
    assert (await debug(http, node, MEDIA_720, Authorization="Basic eDp5"))[0] == 401
    wrong = await debug(http, node, MEDIA_720, Authorization=f"Bearer {TOKEN}x")
    assert wrong[0] == 403


async def test_debug_endpoint_explains_what_a_viewer_gets(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory(f"debug.token={TOKEN}")
    path = f"{MEDIA_720}?last=s01e02"
    agent = {"User-Agent": "Firefox"}
    _, headers, served = await get(http, node.url + path, **agent)
    status, report = await debug(http, node, path, Authorization=f"Bearer {TOKEN}", **agent)
    assert status == 200
    assert report["edited"] == served
    assert report["decision"] == headers["X-Edge-Decision"]
    assert report["status"] == 200
    assert report["revision"] == 7
    assert report["url"].endswith(MEDIA_720)  # the edge's parameters never reach the origin
    assert "/vod/" not in report["origin"]
    plan = report["trace"]
    assert {"preroll", "midroll", "recap-returning"} <= set(plan["fired"])
    traced = {entry["rule"]: entry["outcome"] for entry in plan["trace"]}
    assert traced["preroll"] == "fired"
    assert "skipped" in traced.values()
    added = [line[1:] for line in report["diff"].splitlines() if line.startswith("+/vod/ad/")]
    assert added == AD_720 * 2  # the pre-roll and the mid-roll
    assert report["diff"].startswith("--- origin ")


async def test_debug_endpoint_takes_viewer_headers_from_the_request(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory(f"debug.token={TOKEN}")
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
    auth = f"Bearer {TOKEN}"
    _, phone = await debug(
        http, node, "/vod/content/master.m3u8", Authorization=auth, **{"User-Agent": iphone}
    )
    assert "phone-720p" in phone["trace"]["fired"]
    assert "RESOLUTION=1920x1080" not in phone["edited"]
    removed = [line for line in phone["diff"].splitlines() if line.startswith("-#EXT-X-STREAM")]
    assert len(removed) == 1
    assert "RESOLUTION=1920x1080" in removed[0]


# -- edge-assembler render ---------------------------------------------------------------


@dataclass
class Files:
    bundle: Path
    trust: Path


@pytest.fixture
def files(origin: Origin, tmp_path: Path) -> Files:
    Nodes(origin, tmp_path)  # the demo-like presentation on the origin, and trust.json
    now = datetime.now(UTC).replace(microsecond=0)
    bundle = tmp_path / "demo.tar.gz"
    bundle.write_bytes(
        BundleFactory(
            revision=7,
            created=now - timedelta(minutes=1),
            expires=now + timedelta(days=1),
            files=dict(DEMO_RULES),
        ).build()
    )
    return Files(bundle, tmp_path / "trust.json")


async def render(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "edge_assembler",
        "render",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_render_prints_the_personalised_playlist(files: Files, origin: Origin) -> None:
    code, out, err = await render(
        "--bundle", str(files.bundle), "--trust", str(files.trust),
        "--url", origin.url + MEDIA_720, "--query", "last=s01e02",
        "--header", "User-Agent: Firefox",
    )  # fmt: skip
    assert code == 0, err
    segments = uris(out)
    first_content = segments.index("seg_000.ts")
    recap = [f"/vod/recap/720p/seg_{i:03d}.ts" for i in range(3)]
    assert segments[first_content - 3 : first_content] == recap
    assert segments.count(AD_720[0]) == 2
    assert out.startswith("#EXTM3U\n")
    assert err == ""


async def test_render_explain_gives_the_trace_and_the_diff(files: Files, origin: Origin) -> None:
    code, out, err = await render(
        "--bundle", str(files.bundle), "--trust", str(files.trust),
        "--url", origin.url + "/vod/content/master.m3u8", "--explain",
        "--header", "Accept-Language: fr-FR, en;q=0.5",
    )  # fmt: skip
    assert code == 0, err
    assert 'LANGUAGE="fr",DEFAULT=YES' in out
    assert "decision: rev=7; rules=" in err
    assert any(line.split()[:2] == ["fired", "french"] for line in err.splitlines()), err
    assert "\n  skipped " in err
    assert "--- origin " in err
    assert "\n+#EXT-X-MEDIA:TYPE=AUDIO" in err


async def test_render_refuses_a_bad_trust_file_and_a_refused_bundle(
    files: Files, origin: Origin, tmp_path: Path
) -> None:
    url = origin.url + MEDIA_720
    bad_trust = tmp_path / "bad-trust.json"
    bad_trust.write_text("{not json")
    code, out, err = await render(
        "--bundle", str(files.bundle), "--trust", str(bad_trust), "--url", url
    )
    assert (code, out) == (2, "")
    assert "bad_trust" in err
    expired = tmp_path / "expired.tar.gz"
    long_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
    expired.write_bytes(
        BundleFactory(created=long_ago, expires=long_ago + timedelta(days=1)).build()
    )
    code, out, err = await render(
        "--bundle", str(expired), "--trust", str(files.trust), "--url", url
    )
    assert (code, out) == (1, "")
    assert "refused: expired" in err
    code, _, err = await render(
        "--bundle", str(files.bundle), "--trust", str(files.trust),
        "--url", origin.url + "/vod/nothing/index.m3u8",
    )  # fmt: skip
    assert code == 1
    assert "the origin answered 404" in err
    assert (await render("--bundle", str(files.bundle), "--trust", str(files.trust),
                         "--url", "ftp://x/a.m3u8"))[0] == 2  # fmt: skip
