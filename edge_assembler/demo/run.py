"""`edge-assembler demo`: the built-in demo origin (generated media plus a live encoder)
with an edge in front, and the URLs to open."""

import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import uvloop
from aiohttp import web

from edge_assembler.bundles.cli import source_files
from edge_assembler.bundles.store import atomic_write
from edge_assembler.config import Log, NodeConfig, load_config, parse_listen
from edge_assembler.core.bundle import (
    BundleError,
    build_archive,
    generate_key,
    load_private_key,
    make_manifest,
    parse_manifest,
    public_raw,
    sign_bundle,
    trust_entry,
)
from edge_assembler.core.bundle.rules import rules_compiler
from edge_assembler.core.rules import SUPPORTED_SCHEMA_VERSIONS
from edge_assembler.demo import page
from edge_assembler.demo.live import LiveEncoder
from edge_assembler.demo.media import MediaError, ensure_media
from edge_assembler.demo.origin import create_origin_app
from edge_assembler.server import logs
from edge_assembler.server.app import create_app
from edge_assembler.server.runner import start, urls, wait_for_signal

# (label, path) of every stream the demo serves; the live one only with the encoder. The
# demo page plays HLS_VOD and DASH_VOD.
HLS_VOD = ("HLS VOD master", "/vod/content/master.m3u8")
DASH_VOD = ("DASH VOD", "/dash/content/manifest.mpd")
VOD_STREAMS = (
    HLS_VOD,
    ("HLS ad master", "/vod/ad/master.m3u8"),
    ("HLS recap master", "/vod/recap/master.m3u8"),
    DASH_VOD,
    ("DASH ad", "/dash/ad/manifest.mpd"),
)
LIVE_STREAM = ("HLS live master", "/live/master.m3u8")
# The live channel (demo.channel): SCTE-35 breaks the demo rules replace per viewer.
CHANNEL_STREAMS = (
    ("HLS live channel", "/live/channel/master.m3u8"),
    ("DASH live channel", "/live/channel/manifest.mpd"),
)
# The demo rules source: the top-level rules/demo of a source checkout.
RULES_SOURCE = Path(__file__).resolve().parents[2] / "rules" / "demo"
BUNDLE_NAME = "demo"


def run_demo(
    *, listen: str, origin_listen: str, media_cache: Path, live: bool, sets: Sequence[str] = ()
) -> int:
    try:
        parse_listen(listen)
        origin_address = parse_listen(origin_listen)
    except ValueError as exc:
        print(f"edge-assembler demo: listen address {exc}", file=sys.stderr)
        return 2
    try:
        media = ensure_media(media_cache, log=_say)
        bundle = demo_bundle(media_cache.parent / "demo-bundle")
        access_log_class = logs.configure(Log(format="text"))
        serve = _serve(listen, origin_address, media, live, access_log_class, bundle, sets)
        uvloop.run(serve)
    except (MediaError, BundleError, OSError) as exc:
        print(f"edge-assembler demo: {exc}", file=sys.stderr)
        return 1
    return 0


def run_origin(*, listen: str, media_cache: Path, live: bool) -> int:
    """The demo origin alone (no edge): for edges that run elsewhere, e.g. in containers."""
    try:
        address = parse_listen(listen)
    except ValueError as exc:
        print(f"edge-assembler demo: origin listen address {exc}", file=sys.stderr)
        return 2
    try:
        media = ensure_media(media_cache, log=_say)
        uvloop.run(_serve_origin(address, media, live))
    except (MediaError, OSError) as exc:
        print(f"edge-assembler demo: {exc}", file=sys.stderr)
        return 1
    return 0


@dataclass(frozen=True, slots=True)
class DemoBundle:
    bundle: Path
    trust: Path
    state_dir: Path


def demo_bundle(folder: Path) -> DemoBundle | None:
    """Build and sign the demo rules bundle (None without a rules/demo source)."""
    if not RULES_SOURCE.is_dir():
        _say(f"no {RULES_SOURCE}: the demo runs without a rules bundle")
        return None
    return signed_bundle(folder, RULES_SOURCE, BUNDLE_NAME)


def signed_bundle(folder: Path, source: Path, name: str) -> DemoBundle:
    """Build and sign the rules of ``source`` (``rules/*.toml``, ``tests/*.json``) as the
    bundle ``name``, with a key made once and kept in ``folder`` and a trust file naming
    it. The revision comes from the clock, so every build moves forward."""
    folder.mkdir(parents=True, exist_ok=True)
    key_file, trust_file = folder / "demo.key", folder / "trust.json"
    if not key_file.exists():
        atomic_write(key_file, generate_key().private_pem, mode=0o600)
    key = load_private_key(key_file.read_bytes())
    entry = trust_entry(public_raw(key), names=[name], comment="edge-assembler demo")
    trust = {"version": 1, "policies": [], "keys": [entry]}
    atomic_write(trust_file, json.dumps(trust, indent=2).encode() + b"\n")
    files = source_files(source)
    created = datetime.now(UTC).replace(microsecond=0)
    manifest = make_manifest(
        files,
        name=name,
        revision=time.time_ns() // 1_000_000,
        created=created,
        expires=created + timedelta(days=7),
        rules_schema_version=SUPPORTED_SCHEMA_VERSIONS[1],
        source={"path": source.name},
    )
    rules_compiler(parse_manifest(manifest), files)
    blob = build_archive({**files, "manifest.json": manifest})
    blob = sign_bundle(blob, key)
    bundle_file = folder / f"{name}-rules.tar.gz"
    atomic_write(bundle_file, blob)
    return DemoBundle(bundle_file, trust_file, folder / "node")


async def _serve(
    edge_listen: str,
    origin_address: tuple[str, int],
    media: Path,
    live: bool,
    access_log_class: type[logs.AccessLogger],
    bundle: DemoBundle | None,
    sets: Sequence[str],
) -> None:
    async with _origin(origin_address, media, live) as origin_url:
        edge_config = load_config(
            None,
            origin=origin_url,
            listen=[edge_listen],
            sets=["log.format=text", *sets],
            bundle=[str(bundle.bundle)] if bundle else [],
            trust=str(bundle.trust) if bundle else None,
            state_dir=str(bundle.state_dir) if bundle else None,
        )
        demo_page = partial(
            page.add_routes,
            prefix=edge_config.admin_prefix,
            origin=origin_url,
            hls=HLS_VOD[1],
            dash=DASH_VOD[1],
            node_modules=page.node_modules_dirs(),
            live_hls=CHANNEL_STREAMS[0][1],
            live_dash=CHANNEL_STREAMS[1][1],
        )
        edge_app = create_app(edge_config, extra_routes=demo_page)
        edge_runner = await start(edge_app, edge_config, access_log_class)
        try:
            _print_urls(urls(edge_runner)[0], origin_url, edge_config, live)
            await wait_for_signal()
        finally:
            await edge_runner.cleanup()


async def _serve_origin(address: tuple[str, int], media: Path, live: bool) -> None:
    async with _origin(address, media, live) as origin_url:
        streams = [*VOD_STREAMS, *CHANNEL_STREAMS, *([LIVE_STREAM] if live else [])]
        width = max(len(label) for label, _ in streams) + 1
        lines = ["", f"Edge Assembler demo origin is running at {origin_url}/", ""]
        lines += [f"  {label + ':':<{width}} {path}" for label, path in streams]
        lines += ["", "Stop with Ctrl-C.", ""]
        print("\n".join(lines), flush=True)
        await wait_for_signal()


@asynccontextmanager
async def _origin(address: tuple[str, int], media: Path, live: bool) -> AsyncIterator[str]:
    """The demo origin (and the live encoder) serving on ``address``; yields its base URL."""
    with tempfile.TemporaryDirectory(prefix="edge-assembler-live-") as live_dir:
        encoder = LiveEncoder(Path(live_dir)) if live else None
        runner = web.AppRunner(
            create_origin_app(media, live_root=Path(live_dir) if live else None),
            access_log=None,
        )
        try:
            if encoder is not None:
                await encoder.start()
            await runner.setup()
            host, port = address
            await web.TCPSite(runner, host or None, port).start()
            yield urls(runner)[0]
        finally:
            await runner.cleanup()
            if encoder is not None:
                await encoder.stop()


def _print_urls(edge: str, origin: str, config: NodeConfig, live: bool) -> None:
    streams = [*VOD_STREAMS, *CHANNEL_STREAMS, *([LIVE_STREAM] if live else [])]
    width = max(len(label) for label, _ in streams) + 1
    lines = [
        "",
        "Edge Assembler demo is running.",
        f"  {'demo page:':<{width}} {edge}{config.admin_prefix}/demo",
        "",
        "Open these through the edge:",
    ]
    lines += [f"  {label + ':':<{width}} {edge}{path}" for label, path in streams]
    lines += [
        "",
        f"  {'edge metrics:':<{width}} {edge}{config.admin_prefix}/metrics",
        f"  {'rules bundle:':<{width}} {edge}{config.admin_prefix}/bundles",
        f"  {'demo origin:':<{width}} {origin}/  (direct, for comparison)",
        "",
        f"Play one, e.g.: ffplay {edge}{VOD_STREAMS[0][1]}",
        "Stop with Ctrl-C.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
