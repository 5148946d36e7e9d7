"""ffmpeg as a client: decodes the whole HLS VOD through the edge, cleanly and completely."""

import pytest

from tests.e2e.conftest import DemoStack
from tests.e2e.observe import FPS, TONE_WINDOW, ffmpeg, ffmpeg_audio, ffmpeg_video

pytestmark = pytest.mark.e2e

MASTER = "/vod/content/master.m3u8"
CONTENT_SECONDS = 30.0
FRAME = 1 / FPS


async def test_ffmpeg_decodes_every_stream_without_errors(demo_stack: DemoStack) -> None:
    # Every variant and audio rendition (ffmpeg 5.1 ignores the WebVTT rendition).
    done = await ffmpeg("-i", demo_stack.edge_url + MASTER, "-map", "0", "-f", "null", "-")
    assert (done.returncode, done.stderr) == (0, "")


async def test_ffmpeg_sees_the_whole_content_in_video_and_both_languages(
    demo_stack: DemoStack,
) -> None:
    url = demo_stack.edge_url + MASTER
    video, done = await ffmpeg_video(url)
    assert (done.returncode, done.stderr) == (0, "")
    frames = len(video.samples)
    assert abs(frames / FPS - CONTENT_SECONDS) <= FRAME, f"{frames} frames"
    assert [r.label for r in video.runs(ignore=())] == ["content"], video.runs()
    for lang in ("en", "fr"):
        audio, done = await ffmpeg_audio(url, lang=lang)
        assert (done.returncode, done.stderr) == (0, "")
        # AAC priming adds one 21 ms audio frame: within a video frame of 30 s.
        seconds = len(done.stdout) / 2 / 8000
        assert abs(seconds - CONTENT_SECONDS) <= FRAME, f"{lang}: {seconds} s"
        runs = audio.runs(ignore=())
        assert [r.label for r in runs] == [f"content-{lang}"], runs
        assert runs[0].end >= CONTENT_SECONDS - 2 * TONE_WINDOW, runs
