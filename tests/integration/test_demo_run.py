"""`edge-assembler demo` (what `make run` starts): real media, live encoder, edge in front."""

import asyncio
import hashlib
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.media


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


async def test_demo_serves_the_origin_bytes_through_the_edge(
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
                via_edge = await _get(session, url)
                direct = await _get(session, origin[1] + path)
                assert via_edge == direct, path
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


async def _get(session: aiohttp.ClientSession, url: str) -> bytes:
    async with session.get(url) as r:
        assert r.status == 200, url
        return await r.read()
