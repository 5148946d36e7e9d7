"""The empty WebVTT document that pads an ad's seams in a subtitles playlist when the ad has
no subtitles (``core.hls.ladder.padding``): every segment of the padding names it, at
``{admin_prefix}/empty.vtt`` (``sources.EMPTY_VTT_PATH``)."""

from aiohttp import web

from edge_assembler.server.state import ROUTE

# W3C WebVTT §4.1: the signature line then a blank line; a file may hold no cue.
EMPTY_VTT = b"WEBVTT\n\n"
_CACHE_CONTROL = "public, max-age=31536000, immutable"  # it never changes


async def empty_vtt(request: web.Request) -> web.Response:
    """``GET {admin_prefix}/empty.vtt``: a WebVTT document without cues."""
    request[ROUTE] = "admin"
    return web.Response(
        body=EMPTY_VTT, headers={"Content-Type": "text/vtt", "Cache-Control": _CACHE_CONTROL}
    )
