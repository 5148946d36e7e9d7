"""The demo's live channel (SCTE-35 breaks every 10 s) on a loopback origin whose clock the
test turns, edges in front of it with the demo rules (in this process, or as
``edge-assembler serve`` processes), and a viewer whose reloads are checked to form one
stream in every rendition (SPEC_RULES 9-13)."""

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import aiohttp
from aiohttp import web

from edge_assembler.config import Session
from edge_assembler.core.hls import MediaPlaylist, MultivariantPlaylist, parse
from edge_assembler.core.hls.dates import segment_dates
from edge_assembler.core.hls.invariants import check
from edge_assembler.core.session import issue_token
from edge_assembler.core.viewer import ContextInputs
from edge_assembler.demo.channel import ChannelSchedule
from edge_assembler.demo.origin import create_origin_app
from tests.bundle_support import BundleFactory
from tests.conftest import free_port
from tests.integration.bundles.conftest import Factory
from tests.integration.personalise_support import DEMO_RULES, KEY_ID, SECRET

MASTER = "/live/channel/master.m3u8"
# Every rendition of the channel (demo.channel.RENDITIONS), the first one video.
RENDITIONS = tuple(
    f"{name}/index.m3u8" for name in ("720p", "360p", "540p", "audio_en", "audio_fr")
)
SPOT = "/vod/spot/"
DATE_TOLERANCE = timedelta(milliseconds=1)
# A time of the channel just before a break (MSN 601 starts one: 601 % 5 == 1), with
# the break at the live edge after one more segment.
BEFORE_BREAK = ChannelSchedule().epoch + 601 * 2.0 - 0.5
SESSION_SETS = (f'session.keys={{{KEY_ID} = "{SECRET}"}}', f"session.active_key={KEY_ID}")
CLI = (sys.executable, "-m", "edge_assembler")
# An edge in the test's own process shares its heap: a garbage collection of the whole test
# session can take a request past the 50 ms deadline, which is not what these tests are about.
IN_PROCESS = "personalise.deadline=1"
TOKEN_PARAM = Session().param


class Clock:
    """The channel's clock: unix seconds the test sets and advances."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextlib.asynccontextmanager
async def channel_origin(
    media: Path, clock: Clock, schedule: ChannelSchedule | None = None
) -> AsyncIterator[str]:
    """The demo origin with the channel on ``clock``, answering media playlists with
    ``max-age=0`` so that every reload after a turn of the clock sees the new window."""
    schedule = schedule or ChannelSchedule(media_max_age=0)
    runner = web.AppRunner(create_origin_app(media, channel=schedule, clock=clock))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def write_bundle(root: Path) -> tuple[Path, Path]:
    """The demo rules, signed, valid now; and the trust file naming the signer."""
    trust = Factory(root).write_trust()
    bundle = root / "demo-rules.tar.gz"
    now = datetime.now(UTC)
    blob = BundleFactory(
        revision=7, created=now - timedelta(hours=1), expires=now + timedelta(days=1),
        files=DEMO_RULES,
    ).build()  # fmt: skip
    bundle.write_bytes(blob)
    return bundle, trust


class EdgeProcess:
    """``edge-assembler serve`` in front of ``origin`` with the demo rules, the shared
    session key and ``sets``; stopped and started again on the same port."""

    def __init__(self, root: Path, name: str, origin: str, *sets: str) -> None:
        self.root = root
        self.name = name
        self.origin = origin
        self.sets = sets
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        bundle, trust = write_bundle(self.root)
        args = [
            *CLI,
            "serve",
            "--workers",
            "1",
            "--origin",
            self.origin,
            "--listen",
            f"127.0.0.1:{self.port}",
            "--bundle",
            str(bundle),
            "--trust",
            str(trust),
            "--state-dir",
            str(self.root / self.name),
        ]
        for setting in (*SESSION_SETS, "personalise.deadline=1", *self.sets):
            args += ["--set", setting]
        log = (self.root / f"{self.name}.log").open("ab")
        with log:
            self.proc = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
            )
        async with aiohttp.ClientSession() as http, asyncio.timeout(20):
            while True:
                assert self.proc.returncode is None, self.log()
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.get(f"{self.url}/_edge/readyz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    def log(self) -> str:
        return (self.root / f"{self.name}.log").read_text(errors="replace")[-4000:]


def token_for(
    master: str = MASTER,
    *,
    started: float | None = None,
    sid: str = "viewer",
    choices: tuple[tuple[str, str], ...] = (),
) -> str:
    """A session token as the edge issues it, for a session that started at ``started``."""
    now = time.time()
    start = int(now if started is None else started)
    inputs = ContextInputs(sid=sid, start=start, master=master, choices=choices)
    return issue_token(inputs, key_id=KEY_ID, key=SECRET.encode(), expires=int(now) + 3600)


@dataclass
class Listed:
    """What one MSN of a rendition named: segment URI, duration, DSN and date."""

    uri: str
    duration: float
    dsn: int
    discontinuity: bool
    date: datetime | None


@dataclass
class Viewer:
    """One session's reloads of its renditions, each checked against all before it."""

    token: str
    windows: dict[str, list[MediaPlaylist]] = field(default_factory=dict)
    listed: dict[str, dict[int, Listed]] = field(default_factory=dict)

    @classmethod
    async def start(cls, http: aiohttp.ClientSession, edge: str) -> "Viewer":
        """A session started at the edge's master, with the token it issued."""
        async with http.get(edge + MASTER) as r:
            assert r.status == 200, await r.text()
            master = parse(await r.read())
        assert isinstance(master, MultivariantPlaylist)
        uris = [v.uri for v in master.variants]
        token = parse_qs(urlsplit(uris[0]).query).get(TOKEN_PARAM, [""])[0]
        assert token, uris
        return cls(token)

    def url(self, edge: str, rendition: str) -> str:
        return urljoin(edge + MASTER, rendition) + f"?{TOKEN_PARAM}={self.token}"

    async def reload(
        self, http: aiohttp.ClientSession, edge: str, renditions: Iterable[str] = RENDITIONS
    ) -> dict[str, MediaPlaylist]:
        """Reload every rendition from ``edge``; each window must be valid and continue
        the ones before it: MSN and DSN never go back, an MSN always names the same
        segment with the same DSN (SPEC_RULES 9-13)."""
        out = {}
        for rendition in renditions:
            async with http.get(self.url(edge, rendition)) as r:
                body = await r.read()
                assert r.status == 200, body
                decision = r.headers.get("X-Edge-Decision", "")
            window = parse(body)
            assert isinstance(window, MediaPlaylist)
            assert "fail-open" not in decision, decision
            assert check(window) == [], (check(window), body.decode())
            self._continue(rendition, window, body)
            out[rendition] = window
        return out

    def _continue(self, rendition: str, window: MediaPlaylist, body: bytes) -> None:
        windows = self.windows.setdefault(rendition, [])
        listed = self.listed.setdefault(rendition, {})
        if windows:
            before = windows[-1]
            assert window.media_sequence >= before.media_sequence, body.decode()
            assert window.discontinuity_sequence >= before.discontinuity_sequence, body.decode()
        dates = segment_dates(window)
        numbered = zip(window.segments, window.dsn(), dates, strict=True)
        for i, (segment, dsn, date) in enumerate(numbered):
            now = Listed(segment.uri, segment.duration, dsn, segment.discontinuity, date)
            first = listed.setdefault(window.msn(i), now)
            same = (first.uri, first.duration, first.dsn) == (now.uri, now.duration, now.dsn)
            assert same, (rendition, window.msn(i), first, now, body.decode())
            # PROGRAM-DATE-TIME: the same date for the same segment on every reload (to the
            # millisecond a date is written with).
            if first.date is None or now.date is None:
                assert first.date == now.date, (rendition, window.msn(i), first, now)
            else:
                assert abs(first.date - now.date) <= DATE_TOLERANCE, (rendition, first, now)
        windows.append(window)

    def pods(self, rendition: str) -> list[list[int]]:
        """The runs of consecutive MSNs that listed a spot's segment."""
        runs: list[list[int]] = []
        for msn, seen in sorted(self.listed[rendition].items()):
            if SPOT not in seen.uri:
                continue
            if runs and runs[-1][-1] == msn - 1:
                runs[-1].append(msn)
            else:
                runs.append([msn])
        return runs

    def seams(self, rendition: str) -> Mapping[int, tuple[bool, bool, int]]:
        """Per MSN: a spot segment, a discontinuity before it, its DSN."""
        return {
            msn: (SPOT in seen.uri, seen.discontinuity, seen.dsn)
            for msn, seen in self.listed[rendition].items()
        }
