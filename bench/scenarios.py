"""The load scenarios, each declared in one place: its name, what it asks the edge for
(origin content and the viewers' URLs), and the baselines that serve the same answer.

Baselines (``bench.servers``), measured with the same load tools in the same run:
``nginx`` serving the same file from disk (pass-through scenarios), ``aiohttp-static``
answering the edge's own answer as a static body (the framework's floor), and
``m3u8-rewriter`` doing the same edit per request with the ``m3u8`` library.
"""

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, urljoin, urlsplit

import aiohttp

from edge_assembler.core.hls import MultivariantPlaylist, parse

TOKEN_PARAM: Final = "eas"
NGINX: Final = "nginx"
STATIC: Final = "aiohttp-static"
REWRITER: Final = "m3u8-rewriter"
VOD_MEDIA: Final = "/bench/vod/720p/index.m3u8"
VOD_BREAKS: Final = (0.0, 1200.0, 2400.0)  # bench/rules: a pre-roll, mid-rolls at 20, 40 min
MISS_ORDER_SEED: Final = 20261128


@dataclass(frozen=True, slots=True)
class Settings:
    """How long and how hard: ``quick`` for CI smoke runs, else the full benchmark."""

    quick: bool
    closed_seconds: float  # over all the closed-loop runs
    closed_runs: int  # closed-loop runs per system: the median one is the maximum
    open_seconds: float  # per system and load fraction
    open_slices: int  # the open-loop seconds in this many runs, interleaved between systems
    warmup_seconds: float  # each system, each round, before it is measured (0: none)
    settle_seconds: float  # the edge's first warm-up instead: a new process speeds up
    sessions: int  # distinct viewers of a personalised scenario
    live_sessions: int  # live sessions held for the memory figure
    misses: int  # distinct plans of the cohort-miss scenario (more than the cohort cache)
    micro_rounds: int
    probe_samples: int  # timed passes of the CPU steadiness probe
    fractions: tuple[float, ...] = (0.25, 0.5, 0.75)
    connections: int = 32
    workers: int = 1
    repeats: int = 1  # rounds of every system's ramp: their spread is the run's repeatability


QUICK: Final = Settings(
    quick=True, closed_seconds=1.0, closed_runs=1, open_seconds=0.5, open_slices=1,
    warmup_seconds=0.0, settle_seconds=0.0, sessions=100, live_sessions=1000, misses=5000,
    micro_rounds=1, probe_samples=4,
)  # fmt: skip
FULL: Final = Settings(
    quick=False, closed_seconds=15.0, closed_runs=15, open_seconds=10.0, open_slices=5,
    warmup_seconds=2.0, settle_seconds=30.0, sessions=1000, live_sessions=10_000, misses=6000,
    micro_rounds=7, probe_samples=40,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Context:
    edge: str
    origin: str
    http: aiohttp.ClientSession
    settings: Settings


Urls = Callable[[Context], Awaitable[list[str]]]


@dataclass(frozen=True, slots=True)
class Baseline:
    """A baseline of a scenario: ``path`` is what nginx serves (below the media's ``hls``
    directory) or what the rewriter asks its origin for; ``pod`` and ``offsets`` configure
    the rewriter's splice (offsets for a VOD; a live window has its cues)."""

    system: str
    path: str = ""
    pod: str = ""
    offsets: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    urls: Urls  # the edge's URLs, cycled through by the load tools
    baselines: tuple[Baseline, ...] = ()
    coalescing: bool = False  # report origin requests per 1k viewer requests
    memory: bool = False  # report RSS per worker with ``live_sessions`` sessions


async def sessions(ctx: Context, master: str, rendition: str, count: int, prefix: str) -> list[str]:
    """``count`` viewers' tokened URLs of the variant ``rendition``: each starts a session
    at ``master`` (a distinct ``sid``) and gets its child playlists with its token."""
    out = []
    for i in range(count):
        async with ctx.http.get(f"{ctx.edge}{master}?sid={prefix}{i}") as r:
            body = await r.read()
            if r.status != 200:
                raise RuntimeError(f"{master}: {r.status} {body[:200]!r}")
        playlist = parse(body)
        assert isinstance(playlist, MultivariantPlaylist)
        for uri in (v.uri for v in playlist.variants):
            if urlsplit(uri).path.endswith(rendition):
                token = parse_qs(urlsplit(uri).query)[TOKEN_PARAM][0]
                path = urljoin(master, rendition)
                out.append(f"{ctx.edge}{path}?{TOKEN_PARAM}={token}")
                break
        else:
            raise RuntimeError(f"{master} lists no {rendition}")
    return out


async def _segment(ctx: Context) -> list[str]:
    return [f"{ctx.edge}/vod/content/720p/seg_003.ts"]


async def _manifest(ctx: Context) -> list[str]:
    return [f"{ctx.edge}/vod/ad/720p/index.m3u8"]


async def _vod_master(ctx: Context) -> list[str]:
    return [f"{ctx.edge}/bench/vod/master.m3u8?sid=m{i}" for i in range(ctx.settings.sessions)]


async def _vod_media(ctx: Context) -> list[str]:
    return await sessions(
        ctx, "/bench/vod/master.m3u8", "720p/index.m3u8", ctx.settings.sessions, "v"
    )


async def _vod_misses(ctx: Context) -> list[str]:
    # A session length per request (0.5 s apart, below the trim rule's 3600 s): one plan
    # each, more plans than the cohort cache keeps, asked for in turn: every one a miss.
    # A plan's playlist grows with its length, so the lengths come in a fixed shuffle:
    # in order, a 1 s run would ask for short plans only, the next for longer ones.
    lengths = [60 + i / 2 for i in range(ctx.settings.misses)]
    random.Random(MISS_ORDER_SEED).shuffle(lengths)
    return [f"{ctx.edge}/bench/vod/720p/index.m3u8?sid=c&len={n:g}" for n in lengths]


async def _live_media(ctx: Context) -> list[str]:
    master = "/live/channel/master.m3u8"
    return await sessions(ctx, master, "720p/index.m3u8", ctx.settings.sessions, "l")


SCENARIOS: Final = (
    Scenario(
        "segment-passthrough",
        "A 2 s MPEG-TS segment (720p) streamed through from the origin, every request.",
        _segment,
        (Baseline(NGINX, "/content/720p/seg_003.ts"), Baseline(STATIC)),
    ),
    Scenario(
        "manifest-passthrough",
        "A VOD media playlist no rule personalises (the ad's own), from the manifest cache.",
        _manifest,
        (Baseline(NGINX, "/ad/720p/index.m3u8"), Baseline(STATIC)),
    ),
    Scenario(
        "vod-master",
        "The 1 h VOD's multivariant playlist: a new session and token per request.",
        _vod_master,
        (Baseline(STATIC),),
    ),
    Scenario(
        "vod-media-cohort-hit",
        "The 1 h VOD (600 segments, 3 breaks: pre-roll, mid-rolls at 20 and 40 min) media "
        "playlist for many sessions with the same plan: cohort-cache hits.",
        _vod_media,
        (
            Baseline(STATIC),
            Baseline(REWRITER, VOD_MEDIA, "/vod/ad/720p/index.m3u8", VOD_BREAKS),
        ),
    ),
    Scenario(
        "vod-media-cohort-miss",
        "The same playlist cut to a session length given per request: a plan of its own "
        "each time, more than the cohort cache keeps: every request a miss.",
        _vod_misses,
        (Baseline(REWRITER, VOD_MEDIA, "/vod/ad/720p/index.m3u8", VOD_BREAKS),),
    ),
    Scenario(
        "live-media",
        "The live channel's media playlist (6 segments, a 4 s SCTE-35 break every 10 s) for "
        "many sessions: breaks replaced per session from the break history.",
        _live_media,
        (
            Baseline(STATIC),
            Baseline(REWRITER, "/live/channel/720p/index.m3u8", "/vod/spot/720p/index.m3u8"),
        ),
        coalescing=True,
        memory=True,
    ),
)
BY_NAME: Final = {s.name: s for s in SCENARIOS}
# Scenarios measured without the load tools' ramp (bench.run): names for --scenario.
SPECIAL: Final = ("bundle-hot-swap", "cold-start")
