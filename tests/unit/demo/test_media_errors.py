"""Without ffmpeg, the demo says what is missing and how to get it."""

from pathlib import Path

import pytest

from edge_assembler.demo.live import LiveEncoder
from edge_assembler.demo.media import MediaError, ensure_media, media_key


@pytest.fixture
def no_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))


@pytest.mark.usefixtures("no_ffmpeg")
def test_media_key_needs_ffmpeg() -> None:
    with pytest.raises(MediaError, match=r"ffmpeg not found on PATH; .*apt-get install"):
        media_key()


@pytest.mark.usefixtures("no_ffmpeg")
def test_ensure_media_creates_nothing_without_ffmpeg(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="ffmpeg not found"):
        ensure_media(tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


@pytest.mark.usefixtures("no_ffmpeg")
async def test_live_encoder_needs_ffmpeg(tmp_path: Path) -> None:
    encoder = LiveEncoder(tmp_path / "live")
    with pytest.raises(MediaError, match="ffmpeg not found"):
        await encoder.start()
    assert not encoder.running
    await encoder.stop()
