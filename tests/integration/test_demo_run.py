"""`edge-assembler demo` (what `make run` starts): real media, live encoder, edge in front."""

import asyncio
import hashlib
import os
import re
import signal
import sys
from pathlib import Path
from xml.etree import ElementTree

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from tests.conftest import free_port

pytestmark = pytest.mark.media

# The session token (README "Sessions and context") on an edge child URI.
TOKEN = re.compile(r"[?&]eas=([\w.-]+)")
TOKEN_URI = re.compile(r"(/[^\s\"?]+)\?eas=[\w.-]+")
MPD_NS = {"mpd": "urn:mpeg:dash:schema:mpd:2011"}


async def _read_banner(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    lines = []
    while not lines or lines[-1] != "Stop with Ctrl-C.":
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
        assert line, "demo exited before printing its URLs"
        lines.append(line.decode().rstrip("\n"))
    return "\n".join(lines)


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


async def test_demo_serves_personalised_manifests_and_the_origin_media_through_the_edge(
    demo_media: Path, media_cache_root: Path
):
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edge_assembler", "demo",
        "--listen", f"127.0.0.1:{port}", "--media-cache", str(media_cache_root),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        banner = await _read_banner(proc)
        edge = f"http://127.0.0.1:{port}"
        origin = re.search(r"demo origin: +(http://\S+)/ ", banner)
        assert origin, banner
        stream_urls = re.findall(rf"({re.escape(edge)}/\S+\.(?:m3u8|mpd))", banner)
        assert f"{edge}/vod/content/master.m3u8" in stream_urls
        assert f"{edge}/dash/content/manifest.mpd" in stream_urls
        assert f"{edge}/live/master.m3u8" in stream_urls
        encoder = _children(proc.pid)
        assert encoder, "the live encoder is not running"
        async with aiohttp.ClientSession() as session:
            for url in stream_urls:
                path = url.removeprefix(edge)
                via_edge, headers = await _get_with_headers(session, url)
                direct = await _get(session, origin[1] + path)
                # The demo rules bundle decided every manifest (README "Personalisation
                # pipeline").
                assert headers["X-Edge-Decision"].startswith("rev="), (path, headers)
                if path.endswith("master.m3u8"):
                    # A new viewer's master: no edits, only the child URIs go through the
                    # edge, each with the session's token.
                    tokens = set(TOKEN.findall(via_edge.decode()))
                    assert len(tokens) == 1, (path, tokens)
                    assert _untokened(via_edge, path) == direct, path
            # The DASH content: ad / content / ad / content Periods, the content's
            # Representations unchanged.
            mpd = await _get(session, f"{edge}/dash/content/manifest.mpd")
            origin_mpd = await _get(session, origin[1] + "/dash/content/manifest.mpd")
            periods = ElementTree.fromstring(mpd).findall("mpd:Period", MPD_NS)
            (origin_period,) = ElementTree.fromstring(origin_mpd).findall("mpd:Period", MPD_NS)
            bases = [p.findtext("mpd:BaseURL", "", MPD_NS) for p in periods]
            assert bases == ["/dash/ad/", "", "/dash/ad/", ""], bases
            assert [p.get("start") for p in periods] == ["PT0.0S", "PT10S", "PT24S", "PT34S"]
            for content in periods[1::2]:
                assert _representations(content) == _representations(origin_period)
            # The child playlist a new viewer loads: pre-roll, 14 s of content, mid-roll.
            master = (await _get(session, f"{edge}/vod/content/master.m3u8")).decode()
            child = next(u for u in master.splitlines() if u.startswith("/vod/content/720p/"))
            media, headers = await _get_with_headers(session, edge + child)
            fired = headers["X-Edge-Decision"].split("; ")[1].removeprefix("rules=").split(",")
            assert {"preroll", "midroll"} <= set(fired), fired
            segments = [s for s in media.decode().splitlines() if s[:1] not in ("#", "")]
            ad = [f"/vod/ad/720p/seg_{i:03d}.ts" for i in range(5)]
            content = [f"seg_{i:03d}.ts" for i in range(15)]
            assert segments == [*ad, *content[:7], *ad, *content[7:]]
            # An ad segment through the edge, byte for byte.
            ad_segment = await _get(session, edge + ad[0])
            assert ad_segment == (demo_media / "hls/ad/720p/seg_000.ts").read_bytes()
            # A media segment of the ladder, byte for byte.
            segment = "/vod/content/720p/seg_003.ts"
            via_edge = await _get(session, edge + segment)
            assert len(via_edge) > 50_000
            assert (
                hashlib.sha256(via_edge).digest()
                == hashlib.sha256(
                    (demo_media / "hls/content/720p/seg_003.ts").read_bytes()
                ).digest()
            )
            live = (await _get(session, f"{edge}/live/360p/index.m3u8")).decode()
            assert "#EXT-X-MEDIA-SEQUENCE:" in live
            assert "#EXT-X-ENDLIST" not in live
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=15)
    assert proc.returncode == 0
    for pid in encoder:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the encoder was stopped and reaped


def _untokened(manifest: bytes, path: str) -> bytes:
    """``manifest`` with its tokened edge child URIs made relative to ``path`` again."""
    folder = path.rpartition("/")[0] + "/"
    return TOKEN_URI.sub(lambda m: m[1].removeprefix(folder), manifest.decode()).encode()


def _representations(period: ElementTree.Element) -> list[dict[str, str]]:
    return [dict(r.attrib) for r in period.iterfind(".//mpd:Representation", MPD_NS)]


async def _get_with_headers(
    session: aiohttp.ClientSession, url: str
) -> tuple[bytes, CIMultiDictProxy[str]]:
    async with session.get(url) as r:
        assert r.status == 200, url
        return await r.read(), r.headers


async def _get(session: aiohttp.ClientSession, url: str) -> bytes:
    async with session.get(url) as r:
        assert r.status == 200, url
        return await r.read()


async def test_demo_applies_its_settings_and_refuses_a_bad_one(
    demo_media: Path, media_cache_root: Path
) -> None:
    port = free_port()
    command = [
        sys.executable, "-m", "edge_assembler", "demo", "--no-live",
        "--listen", f"127.0.0.1:{port}", "--media-cache", str(media_cache_root),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        *command, "--set", "personalise.deadline=0.000001",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        await _read_banner(proc)
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/dash/content/manifest.mpd"
            _, headers = await _get_with_headers(session, url)
        assert headers["X-Edge-Decision"].endswith("fail-open=deadline"), headers
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=15)
    assert proc.returncode == 0
    bad = await asyncio.create_subprocess_exec(
        *command, "--set", "personalise.dedline=1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(bad.communicate(), timeout=60)
    assert bad.returncode == 2
    assert b"edge-assembler: bad configuration:" in stderr
    assert b"dedline" in stderr


async def test_origin_only_serves_the_demo_origin_without_an_edge(
    demo_media: Path, media_cache_root: Path
) -> None:
    """`demo --origin-only` (the compose stack's origin): the media as generated, nothing
    of the edge (its admin paths are the origin's 404s)."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edge_assembler", "demo", "--origin-only", "--no-live",
        "--origin-listen", f"127.0.0.1:{port}", "--media-cache", str(media_cache_root),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    origin = f"http://127.0.0.1:{port}"
    try:
        banner = await _read_banner(proc)
        assert f"demo origin is running at {origin}/" in banner
        assert "/live/channel/master.m3u8" in banner
        assert "/live/master.m3u8" not in banner  # --no-live: no encoder
        assert _children(proc.pid) == []
        async with aiohttp.ClientSession() as session:
            master = await _get(session, f"{origin}/vod/content/master.m3u8")
            assert master == (demo_media / "hls/content/master.m3u8").read_bytes()
            segment = await _get(session, f"{origin}/vod/content/720p/seg_003.ts")
            assert segment == (demo_media / "hls/content/720p/seg_003.ts").read_bytes()
            async with session.get(f"{origin}/_edge/healthz") as r:
                assert r.status == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), timeout=15)
    assert proc.returncode == 0
