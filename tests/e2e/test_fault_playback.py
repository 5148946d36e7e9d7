"""Faults on the way to a personalised stream, played by ffmpeg as a client: a malformed
origin media playlist, an ad manifest that is missing (404) or late, rules that raise and a
request past the deadline. Each time the edge fails open (DESIGN §4 "Fail open with a
deadline"): the viewer gets the whole 30 s of content, without the ad the edge could not
use, and ``fail_open_total{reason}`` counts every manifest answered that way.

The stack is real and on loopback: the demo origin (``edge_assembler.demo.origin``) over
the generated demo media, with one fault switched on, and an in-process edge with the
signed demo rules bundle (a new viewer gets a pre-roll and a mid-roll,
``rules/demo/rules/ads.toml``). Rules that raise are the one fault no real part produces:
``decide`` never raises (tests/property/test_rules_decide.py), so that test patches it to
raise (fault injection).
"""

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Literal

import aiohttp
import msgspec
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.typedefs import Handler

from edge_assembler.bundles.manager import BundleManager, Result
from edge_assembler.config import load_config
from edge_assembler.core.rules import Decision
from edge_assembler.demo.origin import create_origin_app
from edge_assembler.metrics import Metrics
from edge_assembler.server import personalise
from edge_assembler.server.app import create_app
from edge_assembler.server.runner import start, urls
from tests.e2e.observe import (
    FPS,
    TONE_WINDOW,
    Decoded,
    Timeline,
    duration_of,
    ffmpeg_audio,
    ffmpeg_video,
)
from tests.integration.bundles.conftest import T0, Factory, FakeClock, settings_for
from tests.integration.personalise_support import KEY_ID, SECRET, Node, signed_bundle

pytestmark = pytest.mark.e2e

MASTER = "/vod/content/master.m3u8"
MPD = "/dash/content/manifest.mpd"
FAIL_OPEN = "edge_assembler_fail_open_total"
CONTENT_SECONDS = 30.0
# ffmpeg opens the master and, once each, its three variants and two audio renditions
# (ffmpeg 5.1 skips WebVTT renditions); a VOD playlist is never reloaded.
MEDIA_PLAYLISTS = 5
# AAC priming: the content's audio runs 30.02 s (REALCLIENT.md §2).
AUDIO_OVERHANG = 0.1
# ffmpeg 5.1's DASH demuxer reads past the end of every SegmentTemplate Representation (a
# 404 for the segment after the last) and reports it, from the origin as from the edge
# (REALCLIENT.md §4); it has decoded every segment by then.
DASH_PAST_END = re.compile(
    r"HTTP error 404 Not Found|Error when loading first fragment of playlist"
    r"|Last message repeated \d+ times|manifest\.mpd: Invalid data found when processing input"
)
# A Latin-1 title (legacy packagers write Windows-1252): RFC 8216 §4.1 says playlists are
# UTF-8, so the edge's parser refuses it; players ignore EXTINF titles and play on.
LATIN1_TITLE = "Épisode 1".encode("latin-1")

# Only the deadline test is about the deadline: the others must not overrun the default
# 50 ms on a busy machine (ffmpeg decodes on the same cores). Later ``sets`` override it.
LOADED_MACHINE_DEADLINE = "personalise.deadline=1"

FaultKind = Literal["latin1", "missing", "stalled"]


@dataclass(frozen=True, slots=True)
class Fault:
    """How the origin answers request paths matching ``paths`` (an fnmatch pattern):
    ``latin1`` gives the playlist's first segment a Latin-1 title, ``missing`` is a 404,
    ``stalled`` answers only when the test is over."""

    kind: FaultKind
    paths: str


StackFactory = Callable[..., Awaitable[Node]]


def with_latin1_title(playlist: bytes) -> bytes:
    return re.sub(rb"(#EXTINF:[^,\n]*),", rb"\1," + LATIN1_TITLE, playlist, count=1)


def faulty(fault: Fault | None, media: Path, release: asyncio.Event) -> web.Application:
    """The demo origin over ``media``, getting ``fault`` wrong."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if fault is None or not fnmatch(request.path, fault.paths):
            return await handler(request)
        if fault.kind == "missing":
            raise web.HTTPNotFound()
        if fault.kind == "stalled":
            await release.wait()
            return await handler(request)
        path = media / "hls" / request.path.removeprefix("/vod/")
        return web.Response(
            body=with_latin1_title(path.read_bytes()),
            content_type="application/vnd.apple.mpegurl",
            headers={"Cache-Control": "public, max-age=60"},
        )

    app = create_origin_app(media)
    app.middlewares.append(middleware)
    return app


@pytest_asyncio.fixture(loop_scope="session")
async def stack_factory(e2e_media: Path, tmp_path: Path) -> AsyncIterator[StackFactory]:
    """Stacks of the demo origin with a fault and an edge with the demo rules (the edge is
    returned); ``sets`` are the edge's config overrides (``personalise.deadline=...``)."""
    runners: list[web.AppRunner] = []
    release = asyncio.Event()

    async def make(fault: Fault | None, *sets: str) -> Node:
        origin = web.AppRunner(faulty(fault, e2e_media, release), access_log=None)
        await origin.setup()
        await web.TCPSite(origin, "127.0.0.1", 0).start()
        runners.append(origin)
        Factory(tmp_path).write_trust()
        config = load_config(
            None,
            origin=urls(origin)[0],
            listen=["127.0.0.1:0"],
            sets=[
                f'session.keys={{{KEY_ID} = "{SECRET}"}}',
                f"session.active_key={KEY_ID}",
                LOADED_MACHINE_DEADLINE,
                *sets,
            ],
        )
        config = msgspec.structs.replace(config, bundles=settings_for(tmp_path))
        metrics = Metrics()
        manager = BundleManager(config.bundles, metrics=metrics, clock=FakeClock(T0))
        app = create_app(config, metrics, bundles=manager)
        edge = await start(app, config)
        runners.insert(0, edge)  # closed before its origin
        outcome = await manager.offer(signed_bundle(), "test")
        assert outcome.result is Result.ACTIVATED, outcome
        return Node(app, urls(edge)[0].rstrip("/"))

    yield make
    release.set()
    for runner in runners:
        await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http: aiohttp.ClientSession, url: str) -> tuple[str, bytes]:
    """The X-Edge-Decision and body of a 200 answer."""
    async with http.get(url) as r:
        assert r.status == 200, url
        return r.headers["X-Edge-Decision"], await r.read()


async def child(http: aiohttp.ClientSession, edge: Node, rendition: str) -> tuple[str, bytes]:
    """A new viewer's ``rendition`` media playlist, reached through the edge's master."""
    _, master = await get(http, edge.url + MASTER)
    found = re.search(rf"(/vod/content/{rendition}/index\.m3u8\?eas=[^\"\s]+)", master.decode())
    assert found, master
    return await get(http, edge.url + found[1])


def assert_clean(done: Decoded, allowed: re.Pattern[str] | None = None) -> None:
    lines = [line for line in done.stderr.splitlines() if not allowed or not allowed.search(line)]
    assert (done.returncode, lines) == (0, []), done.stderr


def assert_whole_content(video: Timeline, audio: Timeline, audio_bytes: int) -> None:
    """30 s of the content's picture and its English tone, from the first frame to the
    last: no ad, nothing missing."""
    assert len(video.samples) == CONTENT_SECONDS * FPS
    assert [(r.start, r.label) for r in video.runs(ignore=())] == [(0.0, "content")]
    seconds = duration_of(audio_bytes)
    assert 0 <= seconds - CONTENT_SECONDS <= AUDIO_OVERHANG, seconds
    [run] = audio.runs(ignore=())
    assert (run.start, run.label) == (0.0, "content-en")
    assert run.end >= CONTENT_SECONDS - TONE_WINDOW


async def assert_plays_whole_content(
    edge: Node, path: str, reason: str, per_run: int, allowed: re.Pattern[str] | None = None
) -> None:
    """ffmpeg decodes the video and English audio of ``path`` through ``edge`` completely,
    and each of the two runs fails open ``per_run`` times for ``reason``."""
    url = edge.url + path
    before = edge.metric(FAIL_OPEN, reason=reason)
    video, done = await ffmpeg_video(url)
    assert_clean(done, allowed)
    audio, done = await ffmpeg_audio(url, lang="en")
    assert_clean(done, allowed)
    assert_whole_content(video, audio, len(done.stdout))
    assert edge.metric(FAIL_OPEN, reason=reason) == before + 2 * per_run


async def test_a_malformed_origin_playlist_plays_as_the_origin_wrote_it(
    stack_factory: StackFactory, http: aiohttp.ClientSession, e2e_media: Path
) -> None:
    edge = await stack_factory(Fault("latin1", "/vod/content/*/index.m3u8"))
    decision, body = await child(http, edge, "720p")
    assert decision == "rev=7; fail-open=bad_manifest"
    origin = (e2e_media / "hls/content/720p/index.m3u8").read_bytes()
    assert body == with_latin1_title(origin) != origin  # the origin's bytes, as they were
    # The master too: whether it is live is read from its first variant, which is malformed.
    await assert_plays_whole_content(edge, MASTER, "bad_manifest", 1 + MEDIA_PLAYLISTS)


@pytest.mark.parametrize(
    ("kind", "sets", "reason"),
    [
        ("missing", (), "asset_missing"),
        ("stalled", ("personalise.asset_timeout=0.2",), "asset_timeout"),
    ],
)
async def test_an_ad_that_cannot_be_had_is_dropped(
    stack_factory: StackFactory,
    http: aiohttp.ClientSession,
    kind: FaultKind,
    sets: tuple[str, ...],
    reason: str,
) -> None:
    edge = await stack_factory(Fault(kind, "/vod/ad/*.m3u8"), *sets)
    decision, _ = await child(http, edge, "720p")
    assert re.fullmatch(
        rf"rev=7; rules=ad-cap,midroll,preroll; plan=[0-9a-f]{{12}}; dropped=ad:{reason}",
        decision,
    ), decision
    await assert_plays_whole_content(edge, MASTER, reason, MEDIA_PLAYLISTS)


async def test_rules_that_raise_serve_the_origin_presentation(
    stack_factory: StackFactory, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    def raising(*_: object) -> Decision:
        raise RuntimeError("a rule blew up")

    monkeypatch.setattr(personalise, "decide", raising)  # fault injection (module docstring)
    edge = await stack_factory(None)
    master, _ = await get(http, edge.url + MASTER)
    media, _ = await child(http, edge, "720p")
    assert master == media == "rev=7; fail-open=rules_error"
    # The master and its media playlists, on every run.
    await assert_plays_whole_content(edge, MASTER, "rules_error", 1 + MEDIA_PLAYLISTS)


async def test_past_the_deadline_serves_the_origin_presentation(
    stack_factory: StackFactory, http: aiohttp.ClientSession
) -> None:
    edge = await stack_factory(None, "personalise.deadline=0.000001")
    master, _ = await get(http, edge.url + MASTER)
    media, _ = await child(http, edge, "720p")
    assert master == media == "rev=7; fail-open=deadline"
    await assert_plays_whole_content(edge, MASTER, "deadline", 1 + MEDIA_PLAYLISTS)


async def test_dash_without_its_ad_mpd_plays_the_content_period(
    stack_factory: StackFactory, http: aiohttp.ClientSession, e2e_media: Path
) -> None:
    edge = await stack_factory(Fault("missing", "/dash/ad/*.mpd"))
    decision, mpd = await get(http, edge.url + MPD)
    assert decision.endswith("; dropped=ad:asset_missing"), decision
    assert mpd == (e2e_media / "dash/content/manifest.mpd").read_bytes()  # one Period
    await assert_plays_whole_content(edge, MPD, "asset_missing", 1, allowed=DASH_PAST_END)
