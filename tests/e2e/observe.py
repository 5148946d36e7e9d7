"""What the viewer saw: colour and tone timelines of real players, for assertions.

The demo assets are told apart by colour and tone (``edge_assembler.demo.media.ASSETS``):
content is testsrc2 with 440 Hz (en) / 660 Hz (fr), the ad solid red with 1000 Hz, the
recap solid blue with 1500 Hz, the previous episode ``pilot`` solid green with 550 Hz, the
alternative scenes ``scene-north`` solid yellow with 700 Hz and ``scene-south`` solid
magenta with 850 Hz, and the live channel's ``spot`` solid orange with 1250 Hz. Two
observers produce a ``Timeline`` of labelled samples:

* ``play``: a harness page (``harness/hls.html`` or ``dash.html``, sampler in
  ``harness/observe.js``) plays a URL in Chromium and draws the video into an 8x8 canvas
  every 100 ms, recording ``(currentTime, label)``; labels ``content``, ``ad``, ``recap``,
  ``pilot``, ``scene-north``, ``scene-south``, ``spot``, ``black``. The video is muted
  (autoplay), so the browser gives no audio evidence.
* ``ffmpeg_video`` / ``ffmpeg_audio``: ffmpeg as a client decodes the stream; frame ``n`` is
  at ``n / FPS`` (``-fps_mode passthrough`` drops nothing at a timestamp jump), and each
  0.5 s of 8 kHz mono audio is labelled by its strongest demo tone (Goertzel):
  ``content-en``, ``content-fr``, ``ad``, ``recap``, ``pilot``, ``scene-north``,
  ``scene-south``, ``spot`` or ``silence``.

``Timeline.runs()`` folds samples into ``Run(start, end, label)`` spans, so a test reads
e.g. ``assert [r.label for r in runs] == ["content", "ad", "content"]`` and checks the ad
run starts near 10 s (REALCLIENT.md §4-5); ``assert_runs`` does both with the players'
tolerances.
"""

import array
import asyncio
import itertools
import math
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

import aiohttp

if TYPE_CHECKING:
    from playwright.async_api import Page

FPS: Final = 25
AUDIO_RATE: Final = 8000
TONE_WINDOW: Final = 0.5  # seconds of audio per label
TONES: Final = {
    440: "content-en",
    550: "pilot",
    660: "content-fr",
    700: "scene-north",
    850: "scene-south",
    1000: "ad",
    1250: "spot",
    1500: "recap",
}
# Which of (r, g, b) are high on a solid demo colour (the others are low).
_SOLID: Final = {
    (True, False, False): "ad",
    (False, False, True): "recap",
    (False, True, False): "pilot",
    (True, True, False): "scene-north",
    (True, False, True): "scene-south",
}
SILENCE_RMS: Final = 300.0  # s16 units; the demo tones are ~0.125 full scale (~2900 RMS)
# hls.js reports these on the demo content straight from the origin too (REALCLIENT.md §3:
# TS audio starts 21 ms before the video), and "aborted" (INTERNAL_ABORTED) when it drops a
# fragment load it no longer needs (a level switch on a busy machine); only fatal errors
# fail a test.
BENIGN_HLS_ERRORS: Final = frozenset(
    {
        "bufferAppendNoProgress",
        "bufferSeekOverHole",
        "bufferStalledError",
        "bufferNudgeOnStall",
        "aborted",
    }
)


@dataclass(frozen=True, slots=True)
class Run:
    """``label`` seen from ``start`` to ``end`` (media seconds, last sample's time)."""

    start: float
    end: float
    label: str

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Timeline:
    """Labelled samples in playback order: ``(media time in seconds, label)``."""

    samples: tuple[tuple[float, str], ...]

    def runs(self, *, ignore: Iterable[str] = ("black",), min_samples: int = 1) -> list[Run]:
        """Consecutive samples with one label, as runs; ``ignore``d labels (a black frame
        before the first picture) are dropped and runs shorter than ``min_samples`` (a
        frame blended across a seam) are folded into their neighbours."""
        skip = set(ignore)
        kept = [(t, label) for t, label in self.samples if label not in skip]
        groups: list[list[tuple[float, str]]] = []
        for sample in kept:
            if groups and groups[-1][-1][1] == sample[1]:
                groups[-1].append(sample)
            else:
                groups.append([sample])
        if min_samples > 1:
            groups = [g for g in groups if len(g) >= min_samples]
        runs: list[Run] = []
        for group in groups:
            start, end, label = group[0][0], group[-1][0], group[0][1]
            if runs and runs[-1].label == label:
                runs[-1] = Run(runs[-1].start, end, label)
            else:
                runs.append(Run(start, end, label))
        return runs

    def labels(self) -> set[str]:
        return {label for _, label in self.samples}

    @property
    def end(self) -> float:
        return max((t for t, _ in self.samples), default=0.0)

    def largest_gap(self) -> float:
        """Largest step in media time between consecutive samples (a skipped span)."""
        times = sorted(t for t, _ in self.samples)
        return max((b - a for a, b in itertools.pairwise(times)), default=math.inf)


# How far a player's run of a label may be off a splice point: it may start up to 0.5 s early
# and 1 s late, and end up to 1 s early and 0.5 s late (sampling every 100 ms at 4x rate).
EARLY, LATE = 0.5, 1.0


def assert_runs(runs: Sequence[Run], expected: Sequence[tuple[str, float, float]]) -> None:
    """``runs`` are the ``expected`` ``(label, start, end)`` spans, in order, each on time
    within the players' tolerances (EARLY, LATE)."""
    assert [r.label for r in runs] == [label for label, _, _ in expected], runs
    for run, (_, start, end) in zip(runs, expected, strict=True):
        assert start - EARLY <= run.start <= start + LATE, (run, start, runs)
        assert end - LATE <= run.end <= end + EARLY, (run, end, runs)


class PlaybackTimeout(AssertionError):
    """The player neither ended nor failed fatally in time (a stall counts as a failure)."""


@dataclass(frozen=True, slots=True)
class Playback:
    """The harness page's record of one playback (``window.R``)."""

    player: str
    ended: bool
    fatal: str | None
    max_time: float
    start_time: float | None
    duration: float | None
    timeline: Timeline
    levels: list[dict[str, Any]]
    audio_tracks: list[dict[str, Any]]
    subtitle_tracks: list[dict[str, Any]]
    audio_switched: list[str]
    periods: list[str]
    frags: list[dict[str, Any]]
    cue_tags: list[str]
    errors: list[dict[str, Any]]
    requests: list[str] = field(default_factory=list)

    def serious_errors(self) -> list[dict[str, Any]]:
        return [e for e in self.errors if e["fatal"] or e["details"] not in BENIGN_HLS_ERRORS]

    def describe(self) -> str:
        """A compact summary for assertion messages."""
        return (
            f"{self.player}: ended={self.ended} fatal={self.fatal} max_time={self.max_time:.2f}"
            f" runs={self.timeline.runs()} errors={self.errors[:8]}"
        )


async def play(
    page: "Page",
    harness_url: str,
    player: str,
    src: str,
    *,
    rate: float = 4,
    play_for: float | None = None,
    audio: str | None = None,
    switch_at: float = 12,
    limit: float = 25,
) -> Playback:
    """Play ``src`` with ``player`` (``hls`` or ``dash``) on the harness page until it ends
    (VOD), has played ``play_for`` seconds (live), fails fatally or ``limit`` seconds pass.
    ``audio`` switches to that language once currentTime passes ``switch_at``."""
    query: dict[str, str] = {"src": src, "rate": str(rate), "switchAt": str(switch_at)}
    if play_for is not None:
        query["playFor"] = str(play_for)
    if audio is not None:
        query["audio"] = audio
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.goto(f"{harness_url}/{player}.html?{urlencode(query)}")
    try:
        await page.wait_for_function(
            "() => window.R && (R.ended || R.fatal)", timeout=limit * 1000, polling=250
        )
    except Exception as exc:  # playwright's TimeoutError: report what was seen so far
        record = await page.evaluate("() => window.R")
        seen = _playback(record, requests)
        raise PlaybackTimeout(f"playback did not finish in {limit} s: {seen.describe()}") from exc
    record = await page.evaluate("() => window.R")
    return _playback(record, requests)


CHILD_URI: Final = re.compile(r'URI="([^"]+)"|^(/[^#\s]+)$', re.MULTILINE)


async def personalised_rules(src: str, edge_url: str) -> set[str]:
    """The rules the edge fired for ``src`` and, for an HLS master, for each of its child
    playlists; none of them may fail open. A player asking next gets the same plans from
    the edge's cohort cache."""
    fired: set[str] = set()
    async with aiohttp.ClientSession() as session:
        body, rules = await personalised(session, src)
        fired |= rules
        if src.partition("?")[0].endswith(".m3u8"):
            for found in CHILD_URI.finditer(body):
                fired |= (await personalised(session, edge_url + (found[1] or found[2])))[1]
    return fired


async def personalised(session: aiohttp.ClientSession, url: str) -> tuple[str, set[str]]:
    """The edge's answer for ``url`` and the rules that made it (it must not fail open)."""
    async with session.get(url) as r:
        assert r.status == 200, url
        decision = r.headers["X-Edge-Decision"]
        body = await r.text()
    assert "fail-open=" not in decision, (url, decision)
    return body, set(decision.split("; ")[1].removeprefix("rules=").split(","))


def _playback(r: dict[str, Any], requests: list[str]) -> Playback:
    return Playback(
        player=r["player"],
        ended=bool(r["ended"]),
        fatal=r["fatal"],
        max_time=float(r["maxTime"]),
        start_time=r["startTime"],
        duration=r["duration"],
        timeline=Timeline(tuple((float(t), str(label)) for t, label in r["samples"])),
        levels=r["levels"],
        audio_tracks=r["audioTracks"],
        subtitle_tracks=r["subtitleTracks"],
        audio_switched=r["audioSwitched"],
        periods=[str(p) for p in r["periods"]],
        frags=r["frags"],
        cue_tags=r["cueTags"],
        errors=r["errors"],
        requests=requests,
    )


# -- ffmpeg as a client --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decoded:
    """Raw output of one ffmpeg run."""

    returncode: int
    stdout: bytes
    stderr: str


FFMPEG_LIMIT: Final = 60.0  # seconds an ffmpeg run may take beyond the media it must read


async def ffmpeg(*args: str, limit: float = FFMPEG_LIMIT) -> Decoded:
    """Run ``ffmpeg -nostdin -v error ARGS``; stdout is captured (raw media on pipe:1)."""
    binary = shutil.which("ffmpeg")
    assert binary is not None, "ffmpeg not found on PATH"
    proc = await asyncio.create_subprocess_exec(
        binary, "-nostdin", "-v", "error", *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit)
    except (TimeoutError, asyncio.CancelledError):  # cancelled: its test is over
        proc.kill()
        await proc.communicate()
        raise
    assert proc.returncode is not None
    return Decoded(proc.returncode, out, err.decode(errors="replace"))


async def ffmpeg_video(url: str, *, stream: str = "0:v:0") -> tuple[Timeline, Decoded]:
    """Colour timeline of one video stream of ``url``, one sample per decoded frame."""
    done = await ffmpeg(
        "-i", url, "-map", stream, "-fps_mode", "passthrough",
        "-vf", "scale=8:8", "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1",
    )  # fmt: skip
    frame = 8 * 8 * 3
    samples = []
    for n in range(len(done.stdout) // frame):
        pixels = done.stdout[n * frame : (n + 1) * frame]
        r, g, b = (sum(pixels[c::3]) / 64 for c in range(3))
        samples.append((n / FPS, classify_colour(r, g, b)))
    return Timeline(tuple(samples)), done


async def ffmpeg_audio(
    url: str, *, lang: str, seconds: float | None = None
) -> tuple[Timeline, Decoded]:
    """Tone timeline of the ``lang`` audio rendition of ``url``, one label per 0.5 s; the
    first ``seconds`` of it if given (a live stream never ends: ffmpeg reads it in real
    time, so the run may take that long on top of ``FFMPEG_LIMIT``)."""
    until = () if seconds is None else ("-t", str(seconds))
    done = await ffmpeg(
        "-i", url, "-map", f"0:a:m:language:{lang}", "-ac", "1",
        "-ar", str(AUDIO_RATE), *until, "-f", "s16le", "pipe:1",
        limit=FFMPEG_LIMIT + (seconds or 0),
    )  # fmt: skip
    pcm = array.array("h")
    pcm.frombytes(done.stdout[: len(done.stdout) // 2 * 2])
    return tone_timeline(pcm), done


def classify_colour(r: float, g: float, b: float) -> str:
    """Same thresholds as ``harness/observe.js``: solid colours by which channels are high
    (and the orange spot by its mid green)."""
    if max(r, g, b) < 30:
        return "black"
    if r > 150 and 80 <= g <= 150 and b < 80:  # orange: the one solid with a mid channel
        return "spot"
    if not all(c > 150 or c < 80 for c in (r, g, b)):
        return "content"
    return _SOLID.get((r > 150, g > 150, b > 150), "content")


def tone_timeline(pcm: Sequence[int], rate: int = AUDIO_RATE) -> Timeline:
    window = int(rate * TONE_WINDOW)
    samples = []
    for start in range(0, len(pcm) - window + 1, window):
        chunk = pcm[start : start + window]
        samples.append((start / rate, _dominant_tone(chunk, rate)))
    return Timeline(tuple(samples))


def _dominant_tone(chunk: Sequence[int], rate: int) -> str:
    if math.sqrt(sum(x * x for x in chunk) / len(chunk)) < SILENCE_RMS:
        return "silence"
    power = {freq: _goertzel(chunk, freq, rate) for freq in TONES}
    return TONES[max(power, key=power.__getitem__)]


def _goertzel(chunk: Sequence[int], freq: float, rate: int) -> float:
    """Power of ``freq`` in ``chunk`` (the Goertzel algorithm: one DFT bin)."""
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in chunk:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def duration_of(pcm_bytes: int, rate: int = AUDIO_RATE) -> float:
    """Seconds of s16 mono audio in ``pcm_bytes`` bytes."""
    return pcm_bytes / 2 / rate
