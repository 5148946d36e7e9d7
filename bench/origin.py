"""The benchmark's origin, a process of its own: the demo origin (its ffmpeg-made media and
the live channel) plus a one-hour VOD under ``/bench/vod/`` (600 segments of 6 s per
rendition, the demo content's segment files over and over), counting the requests it
answers at ``/_count`` (the coalescing figure: origin requests per viewer request).

``python -m bench.origin --media DIR --port N``
"""

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

import uvloop
from aiohttp import web

from edge_assembler.demo.origin import create_origin_app

SEGMENTS: Final = 600
SEGMENT_SECONDS: Final = 6
LOOP: Final = 15  # segment files of the demo content's renditions
VIDEO: Final = (
    ("360p", 640, 360, 655_600),
    ("540p", 960, 540, 1_205_600),
    ("720p", 1280, 720, 2_305_600),
)
AUDIO: Final = ("audio_en", "audio_fr")
MPEGURL: Final = "application/vnd.apple.mpegurl"
COUNT: Final = web.AppKey("count", list[int])


def long_master() -> str:
    """The one-hour VOD's multivariant playlist: the demo's ladder and audio."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,'
        'AUTOSELECT=YES,CHANNELS="2",URI="audio_en/index.m3u8"',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Francais",LANGUAGE="fr",DEFAULT=NO,'
        'AUTOSELECT=YES,CHANNELS="2",URI="audio_fr/index.m3u8"',
    ]
    for name, width, height, bandwidth in VIDEO:
        lines += [
            f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={width}x{height},"
            'CODECS="avc1.4d401f,mp4a.40.2",AUDIO="aud"',
            f"{name}/index.m3u8",
        ]
    return "\n".join(lines) + "\n"


def long_media(rendition: str) -> str:
    """One rendition of the one-hour VOD: 600 segments of 6 s."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    for i in range(SEGMENTS):
        lines += [
            f"#EXTINF:{SEGMENT_SECONDS}.000000,",
            f"/vod/content/{rendition}/seg_{i % LOOP:03d}.ts",
        ]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def create_bench_origin(media: Path) -> web.Application:
    app = create_origin_app(media)
    app[COUNT] = [0]
    app.middlewares.append(_counted)
    bodies = {"master.m3u8": long_master().encode()}
    for rendition in (*(v[0] for v in VIDEO), *AUDIO):
        bodies[f"{rendition}/index.m3u8"] = long_media(rendition).encode()

    async def long_vod(request: web.Request) -> web.Response:
        body = bodies.get(request.match_info["path"])
        if body is None:
            raise web.HTTPNotFound()
        headers = {"Cache-Control": "public, max-age=60", "Content-Type": MPEGURL}
        return web.Response(body=body, headers=headers)

    async def count(request: web.Request) -> web.Response:
        return web.json_response({"requests": request.app[COUNT][0]})

    app.router.add_get("/bench/vod/{path:.+}", long_vod)
    app.router.add_get("/_count", count)
    return app


@web.middleware
async def _counted(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.path != "/_count":
        request.app[COUNT][0] += 1
    return await handler(request)


async def _serve(media: Path, port: int) -> None:
    runner = web.AppRunner(create_bench_origin(media), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.origin")
    parser.add_argument("--media", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(_serve(args.media, args.port))


if __name__ == "__main__":
    main()
