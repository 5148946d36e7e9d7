"""Generated demo media and the live encoder, with the real ffmpeg."""

import asyncio
import os
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from edge_assembler.demo.live import LiveEncoder
from edge_assembler.demo.media import (
    ASSETS,
    MARKER_NAME,
    MediaError,
    ensure_media,
    media_key,
)
from edge_assembler.demo.origin import create_origin_app

pytestmark = pytest.mark.media

DASH_NS = {"mpd": "urn:mpeg:dash:schema:mpd:2011"}
ASSET_SECONDS = {asset.name: asset.seconds for asset in ASSETS}
SUBTITLES = {asset.name: asset.subtitle for asset in ASSETS}


def test_assets_are_the_documented_ones() -> None:
    assert ASSET_SECONDS == {
        "content": 30,
        "ad": 10,
        "recap": 6,
        "pilot": 12,
        "scene-north": 4,
        "scene-south": 4,
        "spot": 4,
    }


def test_layout(demo_media: Path) -> None:
    assert demo_media.name == media_key()[:16]
    assert (demo_media / MARKER_NAME).is_file()
    for name in ASSET_SECONDS:
        hls = demo_media / "hls" / name
        for playlist in (
            "master.m3u8",
            "360p/index.m3u8",
            "540p/index.m3u8",
            "720p/index.m3u8",
            "720p/index_vtt.m3u8",
            "audio_en/index.m3u8",
            "audio_fr/index.m3u8",
        ):
            assert (hls / playlist).is_file(), f"hls/{name}/{playlist}"
        assert not list(hls.glob("*.vtt")), "the subtitle source is not published"
        assert (demo_media / "dash" / name / "manifest.mpd").is_file()


@pytest.mark.parametrize("name", list(ASSET_SECONDS))
def test_master_playlist(demo_media: Path, name: str) -> None:
    hls = demo_media / "hls" / name
    lines = (hls / "master.m3u8").read_text().splitlines()
    variants = [line for line in lines if line.startswith("#EXT-X-STREAM-INF:")]
    resolutions = [re.search(r"RESOLUTION=(\d+x\d+)", v) for v in variants]
    assert [m and m.group(1) for m in resolutions] == [
        "640x360",
        "960x540",
        "1280x720",
    ]
    assert all('AUDIO="aud"' in v and 'SUBTITLES="subs"' in v for v in variants)
    media = [line for line in lines if line.startswith("#EXT-X-MEDIA:")]
    audio = [m for m in media if "TYPE=AUDIO" in m]
    assert [re.search(r'LANGUAGE="(\w+)"', m)[1] for m in audio] == ["en", "fr"]  # type: ignore[index]
    assert "DEFAULT=YES" in audio[0]
    assert "DEFAULT=NO" in audio[1]
    subtitles = [m for m in media if "TYPE=SUBTITLES" in m]
    assert len(subtitles) == 1
    assert 'LANGUAGE="en"' in subtitles[0]
    uris = re.findall(r'URI="([^"]+)"', "\n".join(media))
    uris += [line for line in lines if line and not line.startswith("#")]
    assert len(uris) == 6
    for uri in uris:
        assert not uri.startswith("/")
        assert (hls / uri).is_file(), uri


@pytest.mark.parametrize("name", list(ASSET_SECONDS))
def test_media_playlists(demo_media: Path, name: str) -> None:
    hls = demo_media / "hls" / name
    video = (hls / "720p/index.m3u8").read_text()
    assert video.count("#EXTINF:2.000000,") == ASSET_SECONDS[name] // 2
    assert "#EXT-X-ENDLIST" in video
    assert str(demo_media) not in video
    audio = (hls / "audio_fr/index.m3u8").read_text()
    total = sum(float(d) for d in re.findall(r"#EXTINF:([\d.]+),", audio))
    assert total == pytest.approx(ASSET_SECONDS[name], abs=0.1)
    first_vtt = (hls / "720p/index0.vtt").read_text().splitlines()
    assert first_vtt[:2] == [
        "WEBVTT",
        "X-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000",
    ]
    assert f"{SUBTITLES[name]} 0s" in first_vtt


@pytest.mark.parametrize("name", list(ASSET_SECONDS))
def test_dash_manifest(demo_media: Path, name: str) -> None:
    mpd = ET.parse(demo_media / "dash" / name / "manifest.mpd").getroot()
    assert mpd.get("type") == "static"
    duration = re.fullmatch(r"PT([\d.]+)S", mpd.get("mediaPresentationDuration", ""))
    assert duration is not None
    assert float(duration[1]) == pytest.approx(ASSET_SECONDS[name], abs=0.5)
    sets = mpd.findall("mpd:Period/mpd:AdaptationSet", DASH_NS)
    assert [s.get("contentType") for s in sets] == ["video", "audio", "audio"]
    assert len(sets[0].findall("mpd:Representation", DASH_NS)) == 3
    assert [s.get("lang") for s in sets[1:]] == ["en", "fr"]


def test_second_call_reuses_the_cache(demo_media: Path, media_cache_root: Path) -> None:
    marker = demo_media / MARKER_NAME
    before = marker.stat().st_mtime_ns
    messages: list[str] = []
    started = time.monotonic()
    assert ensure_media(media_cache_root, log=messages.append) == demo_media
    assert time.monotonic() - started < 2.0
    assert messages == []
    assert marker.stat().st_mtime_ns == before


async def test_origin_serves_generated_media(demo_media: Path) -> None:
    app = create_origin_app(demo_media)
    async with TestClient(TestServer(app)) as client:
        master = await client.get("/vod/ad/master.m3u8")
        assert master.status == 200
        assert "720p/index.m3u8" in await master.text()
        segment = await client.get("/vod/ad/720p/seg_000.ts")
        assert segment.content_type == "video/mp2t"
        assert (await segment.read())[0] == 0x47  # MPEG-TS sync byte
        mpd = await client.get("/dash/recap/manifest.mpd")
        assert mpd.content_type == "application/dash+xml"


def newest_sequence(playlist: Path) -> int:
    """Media sequence number of the newest segment in a media playlist."""
    text = playlist.read_text()
    first = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
    assert first is not None
    return int(first[1]) + text.count("#EXTINF") - 1


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def is_running(encoder: LiveEncoder) -> bool:
    # A call, not the property: mypy would keep the narrowing from an earlier assert.
    return encoder.running


async def test_live_encoder(ffmpeg: str, tmp_path: Path) -> None:
    out = tmp_path / "live"
    out.mkdir()
    (out / "stale.ts").write_bytes(b"old run")
    encoder = LiveEncoder(out, max_seconds=60)
    await encoder.start()
    pid = encoder.pid
    assert pid is not None
    try:
        assert pid_alive(pid)
        assert is_running(encoder)
        assert not (out / "stale.ts").exists()
        master = (out / "master.m3u8").read_text()
        assert "360p/index.m3u8" in master
        assert "540p/index.m3u8" in master
        playlist = next(out.glob("*/index.m3u8"))
        first = newest_sequence(playlist)
        # A new 2 s segment must appear within about 3 s.
        deadline = time.monotonic() + 4.0
        while newest_sequence(playlist) == first:
            assert time.monotonic() < deadline, "live playlist did not advance"
            await asyncio.sleep(0.2)
        assert "#EXT-X-PROGRAM-DATE-TIME:" in playlist.read_text()
    finally:
        await encoder.stop()
    assert not pid_alive(pid)
    assert not is_running(encoder)
    await encoder.stop()  # idempotent


async def test_live_encoder_reports_ffmpeg_failure(
    ffmpeg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = LiveEncoder(tmp_path / "live")
    monkeypatch.setattr(encoder, "_arguments", lambda: ["-v", "error", "-bogus"])
    with pytest.raises(MediaError, match="exited with code"):
        await encoder.start()
    assert not encoder.running
