"""A demo-like presentation on the loopback origin, and edges with a real signed rules bundle.

The ladder mirrors the demo's (``edge_assembler/demo/media.py``): HLS under
``/vod/<asset>/`` with a master of 360p/720p/1080p video and en/fr audio, media playlists of
2 s segments; the same ladder for the ad (10 s) and the recap (6 s); DASH under
``/dash/<asset>/manifest.mpd``. The rules are the demo bundle's (``rules/demo/rules``),
signed and offered to a ``BundleManager`` as in production.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import msgspec
from aiohttp import web

from edge_assembler.bundles.manager import BundleManager, Result
from edge_assembler.config import load_config
from edge_assembler.metrics import Metrics
from edge_assembler.server.app import create_app
from edge_assembler.server.runner import start, urls
from edge_assembler.server.state import METRICS
from tests.bundle_support import BundleFactory
from tests.conftest import Origin
from tests.integration.bundles.conftest import T0, Factory, FakeClock, settings_for

REPO = Path(__file__).resolve().parents[2]
DEMO_RULES = {
    f"rules/{path.name}": path.read_bytes()
    for path in sorted((REPO / "rules" / "demo" / "rules").glob("*.toml"))
}
KEY_ID = "k1"
SECRET = "an-edge-session-secret-of-32-bytes!!"
DASH_TYPE = "application/dash+xml"
DURATIONS = {"content": 30, "ad": 10, "recap": 6}
VIDEO = {
    "360p": (640, 360, 800_000),
    "720p": (1280, 720, 2_400_000),
    "1080p": (1920, 1080, 4_800_000),
}
RENDITIONS = (*VIDEO, "audio_en", "audio_fr")


def media_playlist(asset: str, rendition: str) -> bytes:
    count = DURATIONS[asset] // 2
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for i in range(count):
        lines += ["#EXTINF:2.000000,", f"seg_{i:03d}.ts"]
    return ("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n").encode()


def master_playlist() -> bytes:
    audio = 'CHANNELS="2",URI="audio_{0}/index.m3u8"'
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,'
        "AUTOSELECT=YES," + audio.format("en"),
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Francais",LANGUAGE="fr",DEFAULT=NO,'
        "AUTOSELECT=YES," + audio.format("fr"),
    ]
    for name, (width, height, bandwidth) in VIDEO.items():
        lines += [
            f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={width}x{height},"
            'CODECS="avc1.4d401f,mp4a.40.2",AUDIO="aud"',
            f"{name}/index.m3u8",
        ]
    return ("\n".join(lines) + "\n").encode()


def mpd(asset: str) -> bytes:
    seconds = DURATIONS[asset]
    template = (
        '<SegmentTemplate timescale="1000" duration="2000" startNumber="1"'
        ' initialization="init-$RepresentationID$.m4s"'
        ' media="chunk-$RepresentationID$-$Number%05d$.m4s"/>'
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011"
  type="static" mediaPresentationDuration="PT{seconds}.0S" minBufferTime="PT4.0S">
  <Period id="0" start="PT0.0S">
    <AdaptationSet id="0" contentType="video" segmentAlignment="true" startWithSAP="1">
      <Representation id="v360" mimeType="video/mp4" codecs="avc1.4d401e" bandwidth="800000"
        width="640" height="360">{template}</Representation>
      <Representation id="v720" mimeType="video/mp4" codecs="avc1.4d401f" bandwidth="2400000"
        width="1280" height="720">{template}</Representation>
    </AdaptationSet>
    <AdaptationSet id="1" contentType="audio" lang="en" segmentAlignment="true">
      <Representation id="a_en" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="96000"
        audioSamplingRate="48000">{template}</Representation>
    </AdaptationSet>
    <AdaptationSet id="2" contentType="audio" lang="fr" segmentAlignment="true">
      <Representation id="a_fr" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="96000"
        audioSamplingRate="48000">{template}</Representation>
    </AdaptationSet>
  </Period>
</MPD>
""".encode()


def serve_presentation(origin: Origin) -> None:
    """Every playlist and MPD of the content, the ad and the recap, on the origin."""
    state = origin.state
    for asset in DURATIONS:
        state.manifest(f"/vod/{asset}/master.m3u8", body=master_playlist())
        for rendition in RENDITIONS:
            state.manifest(
                f"/vod/{asset}/{rendition}/index.m3u8", body=media_playlist(asset, rendition)
            )
        state.manifest(f"/dash/{asset}/manifest.mpd", body=mpd(asset), content_type=DASH_TYPE)


@dataclass
class Node:
    app: web.Application
    url: str

    def metric(self, name: str, **labels: str) -> float:
        value = self.app[METRICS].registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


NodeFactory = Callable[..., Awaitable[Node]]


def signed_bundle(files: Mapping[str, bytes] = DEMO_RULES, revision: int = 7) -> bytes:
    return BundleFactory(
        revision=revision,
        created=T0,
        expires=T0 + timedelta(days=14),
        files=dict(files),
    ).build()


class Nodes:
    """Edges in front of ``origin`` (or of ``upstream``) with a rules bundle active;
    ``sets`` are config overrides (``personalise.deadline=...``). Every node has the same
    session key."""

    def __init__(self, origin: Origin, root: Path, upstream: str | None = None) -> None:
        serve_presentation(origin)
        Factory(root).write_trust()
        self.origin = origin
        self.upstream = upstream or origin.url  # the origin the edges forward to
        self.root = root
        self.runners: list[web.AppRunner] = []

    async def make(self, *sets: str, bundle: bytes | None = None) -> Node:
        state_dir = self.root / f"node{len(self.runners)}"
        base = load_config(
            None,
            origin=self.upstream,
            listen=["127.0.0.1:0"],
            sets=[
                f'session.keys={{{KEY_ID} = "{SECRET}"}}',
                f"session.active_key={KEY_ID}",
                *sets,
            ],
        )
        config = msgspec.structs.replace(
            base, bundles=settings_for(self.root, state_dir=str(state_dir))
        )
        metrics = Metrics()
        manager = BundleManager(config.bundles, metrics=metrics, clock=FakeClock(T0))
        app = create_app(config, metrics, bundles=manager)
        runner = await start(app, config)
        self.runners.append(runner)
        outcome = await manager.offer(bundle or signed_bundle(), "test")
        assert outcome.result is Result.ACTIVATED, outcome
        return Node(app, urls(runner)[0])

    async def close(self) -> None:
        for runner in self.runners:
            await runner.cleanup()
