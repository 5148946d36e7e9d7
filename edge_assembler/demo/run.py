"""`edge-assembler demo`: the built-in demo origin (generated media plus a live encoder)
with an edge in front, and the URLs to open."""

import sys
import tempfile
from pathlib import Path

import uvloop
from aiohttp import web

from edge_assembler.config import Log, NodeConfig, load_config, parse_listen
from edge_assembler.demo.live import LiveEncoder
from edge_assembler.demo.media import MediaError, ensure_media
from edge_assembler.demo.origin import create_origin_app
from edge_assembler.server import logs
from edge_assembler.server.app import create_app
from edge_assembler.server.runner import start, urls, wait_for_signal

# (label, path) of every stream the demo serves; the live one only with the encoder.
VOD_STREAMS = (
    ("HLS VOD master", "/vod/content/master.m3u8"),
    ("HLS ad master", "/vod/ad/master.m3u8"),
    ("HLS recap master", "/vod/recap/master.m3u8"),
    ("DASH VOD", "/dash/content/manifest.mpd"),
    ("DASH ad", "/dash/ad/manifest.mpd"),
)
LIVE_STREAM = ("HLS live master", "/live/master.m3u8")


def run_demo(*, listen: str, origin_listen: str, media_cache: Path, live: bool) -> int:
    try:
        parse_listen(listen)
        origin_address = parse_listen(origin_listen)
    except ValueError as exc:
        print(f"edge-assembler demo: listen address {exc}", file=sys.stderr)
        return 2
    try:
        media = ensure_media(media_cache, log=_say)
        access_log_class = logs.configure(Log(format="text"))
        uvloop.run(_serve(listen, origin_address, media, live, access_log_class))
    except MediaError as exc:
        print(f"edge-assembler demo: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(
    edge_listen: str,
    origin_address: tuple[str, int],
    media: Path,
    live: bool,
    access_log_class: type[logs.AccessLogger],
) -> None:
    with tempfile.TemporaryDirectory(prefix="edge-assembler-live-") as live_dir:
        encoder = LiveEncoder(Path(live_dir)) if live else None
        origin_runner = web.AppRunner(
            create_origin_app(media, live_root=Path(live_dir) if live else None),
            access_log=None,
        )
        edge_runner: web.AppRunner | None = None
        try:
            if encoder is not None:
                await encoder.start()
            await origin_runner.setup()
            host, port = origin_address
            await web.TCPSite(origin_runner, host or None, port).start()
            origin_url = urls(origin_runner)[0]
            edge_config = load_config(
                None, origin=origin_url, listen=[edge_listen], sets=["log.format=text"]
            )
            edge_runner = await start(create_app(edge_config), edge_config, access_log_class)
            _print_urls(urls(edge_runner)[0], origin_url, edge_config, live)
            await wait_for_signal()
        finally:
            if edge_runner is not None:
                await edge_runner.cleanup()
            await origin_runner.cleanup()
            if encoder is not None:
                await encoder.stop()


def _print_urls(edge: str, origin: str, config: NodeConfig, live: bool) -> None:
    streams = [*VOD_STREAMS, LIVE_STREAM] if live else list(VOD_STREAMS)
    width = max(len(label) for label, _ in streams) + 1
    lines = ["", "Edge Assembler demo is running. Open these through the edge:"]
    lines += [f"  {label + ':':<{width}} {edge}{path}" for label, path in streams]
    lines += [
        "",
        f"  {'edge metrics:':<{width}} {edge}{config.admin_prefix}/metrics",
        f"  {'demo origin:':<{width}} {origin}/  (direct, for comparison)",
        "",
        f"Play one, e.g.: ffplay {edge}{VOD_STREAMS[0][1]}",
        "Stop with Ctrl-C.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
