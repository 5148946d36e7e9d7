"""ffmpeg as a client: decodes a new viewer's personalised HLS VOD through the edge, cleanly
and completely: the demo rules put the red 1000 Hz ad before the content and after its
first 14 s (rules/demo/rules/ads.toml), so the presentation runs ad 0-10, content 10-24,
ad 24-34, content 34-50."""

import pytest

from tests.e2e.conftest import DemoStack
from tests.e2e.observe import FPS, TONE_WINDOW, Run, ffmpeg, ffmpeg_audio, ffmpeg_video

pytestmark = pytest.mark.e2e

MASTER = "/vod/content/master.m3u8"
PRESENTATION_SECONDS = 50.0
# (label, start, end) in presentation seconds; the content label is per medium.
TIMELINE = (("ad", 0.0, 10.0), ("content", 10.0, 24.0), ("ad", 24.0, 34.0), ("content", 34.0, 50.0))
FRAME = 1 / FPS
# Each spliced piece (ad, content, ad, content) ends on a whole AAC frame (21 ms at 48 kHz),
# so the decoded audio overhangs the video by less than 0.1 s, well within a tone window.
AUDIO_OVERHANG = 0.1


def _assert_timeline(runs: list[Run], content: str, step: float) -> None:
    """``runs`` follow TIMELINE, each starting on time and ending within ``step`` (the
    sampling step) of its end."""
    expected = [content if label == "content" else label for label, _, _ in TIMELINE]
    assert [r.label for r in runs] == expected, runs
    for run, (_, start, end) in zip(runs, TIMELINE, strict=True):
        assert abs(run.start - start) <= step / 2, (run, start)
        assert end - step - 1e-6 <= run.end <= end + step / 2, (run, end)


async def test_ffmpeg_decodes_every_stream_without_errors(demo_stack: DemoStack) -> None:
    # Every variant and audio rendition (ffmpeg 5.1 ignores the WebVTT rendition), across
    # every ad/content seam.
    done = await ffmpeg("-i", demo_stack.edge_url + MASTER, "-map", "0", "-f", "null", "-")
    assert (done.returncode, done.stderr) == (0, "")


async def test_ffmpeg_sees_the_ads_and_the_whole_content_in_video_and_both_languages(
    demo_stack: DemoStack,
) -> None:
    url = demo_stack.edge_url + MASTER
    video, done = await ffmpeg_video(url)
    assert (done.returncode, done.stderr) == (0, "")
    frames = len(video.samples)
    assert abs(frames / FPS - PRESENTATION_SECONDS) <= FRAME, f"{frames} frames"
    _assert_timeline(video.runs(ignore=()), "content", FRAME)
    for lang in ("en", "fr"):
        audio, done = await ffmpeg_audio(url, lang=lang)
        assert (done.returncode, done.stderr) == (0, "")
        seconds = len(done.stdout) / 2 / 8000
        assert 0 <= seconds - PRESENTATION_SECONDS <= AUDIO_OVERHANG, f"{lang}: {seconds} s"
        # 1000 Hz where the ads are, the language's tone where the content is.
        _assert_timeline(audio.runs(ignore=()), f"content-{lang}", TONE_WINDOW)
