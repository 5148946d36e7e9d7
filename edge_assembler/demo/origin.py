"""The built-in demo origin: demo media over aiohttp, with cue tags on live playlists.

Routes: ``/vod/...`` serves ``<media_root>/hls/...``, ``/dash/...`` serves
``<media_root>/dash/...``, ``/live/channel/...`` a simulated live channel looping the
content (``channel``) and ``/live/...`` serves the live encoder's output directory.
ffmpeg never writes ad cues, so live media playlists get SCTE-35-style
``EXT-X-CUE-OUT``/``-CONT``/``-IN`` tags computed from the media sequence number alone.
"""

import asyncio
import hashlib
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

from aiohttp import web

from edge_assembler.demo.channel import (
    DASH_PATH,
    DEFAULT_SCHEDULE,
    Channel,
    ChannelError,
    ChannelSchedule,
    DashChannel,
)
from edge_assembler.demo.media import ASSETS

# aiohttp's guesser serves .ts as application/octet-stream and Python's mimetypes maps
# it to text/vnd.trolltech.linguist, so the types are fixed here. Other files are 404:
# that also hides the partial "*.tmp" files ffmpeg writes before renaming.
CONTENT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        ".m3u8": "application/vnd.apple.mpegurl",
        ".ts": "video/mp2t",
        ".m4s": "video/iso.segment",
        ".mp4": "video/mp4",
        ".vtt": "text/vtt",
        ".mpd": "application/dash+xml",
    }
)
MANIFEST_SUFFIXES: Final = frozenset({".m3u8", ".mpd"})
VOD_MANIFEST_CACHE: Final = "public, max-age=60"
VOD_SEGMENT_CACHE: Final = "public, max-age=86400, immutable"
LIVE_MASTER_CACHE: Final = "max-age=10"
LIVE_MEDIA_PLAYLIST_CACHE: Final = "max-age=1"
LIVE_SEGMENT_CACHE: Final = "max-age=60"

_MEDIA_SEQUENCE: Final = re.compile(r"#EXT-X-MEDIA-SEQUENCE:\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class CueSchedule:
    """A break of ``segments`` segments starts when media-sequence % every == at."""

    every: int = 15
    at: int = 5
    segments: int = 5
    segment_seconds: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.segments < self.every:
            raise ValueError(f"need 0 < segments < every, got {self}")
        if not 0 <= self.at < self.every:
            raise ValueError(f"need 0 <= at < every, got {self}")
        if self.segment_seconds <= 0:
            raise ValueError(f"need segment_seconds > 0, got {self}")

    def tag_for(self, sequence: int) -> str | None:
        """The cue tag for the segment with this media sequence number, if any."""
        offset = (sequence - self.at) % self.every
        duration = self.segments * self.segment_seconds
        if offset == 0:
            return f"#EXT-X-CUE-OUT:DURATION={duration:.3f}"
        if offset < self.segments:
            elapsed = offset * self.segment_seconds
            return f"#EXT-X-CUE-OUT-CONT:ElapsedTime={elapsed:.3f},Duration={duration:.3f}"
        if offset == self.segments:
            return "#EXT-X-CUE-IN"
        return None


def inject_cues(text: str, cues: CueSchedule) -> str:
    """Insert cue tags before each segment's ``#EXTINF`` of a media playlist.

    The tag depends only on the segment's media sequence number, so every variant and
    every refresh of a sliding window agrees. Lines may end in LF or CRLF (RFC 8216
    §4.1); the output uses LF. A missing EXT-X-MEDIA-SEQUENCE means 0 (§4.3.3.2).
    Master playlists have no ``#EXTINF``; callers should not pass them anyway.
    """
    out: list[str] = []
    sequence = 0
    tagged = False  # at most one cue tag per segment, even if #EXTINF repeats
    for line in _split_lines(text):
        if match := _MEDIA_SEQUENCE.match(line):
            sequence = int(match.group(1))
        elif line.startswith("#EXTINF") and not tagged:
            tag = cues.tag_for(sequence)
            if tag is not None:
                out.append(tag)
            tagged = True
        elif line and not line.startswith("#"):
            sequence += 1
            tagged = False
        out.append(line)
    return "".join(f"{line}\n" for line in out)


def _split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def create_origin_app(
    media_root: Path,
    *,
    live_root: Path | None = None,
    cues: CueSchedule = CueSchedule(),
    channel: ChannelSchedule | None = DEFAULT_SCHEDULE,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The demo origin for ``media_root`` (from ``ensure_media``) and ``live_root``; the
    simulated channel (none when ``channel`` is None) runs on ``clock``."""
    origin = _Origin(media_root.resolve(), live_root and live_root.resolve(), cues, channel)
    channel_routes = _ChannelRoutes(media_root.resolve(), channel, clock) if channel else None
    app = web.Application()
    app.on_response_prepare.append(_allow_any_origin)
    app.router.add_get("/", origin.index)
    app.router.add_get("/vod/{path:.+}", origin.vod)
    app.router.add_get("/dash/{path:.+}", origin.dash)
    if channel_routes is not None:
        # Before "/live/{path}", which would match these paths too.
        app.router.add_get("/live/channel/master.m3u8", channel_routes.master)
        app.router.add_get(r"/live/channel/{rendition}/index.m3u8", channel_routes.media_playlist)
        app.router.add_get(r"/live/channel/{rendition}/{msn:\d+}.ts", channel_routes.segment)
        app.router.add_get(DASH_PATH, channel_routes.manifest)
        app.router.add_get("/live/channel/{path:.*}", channel_routes.not_found)
    app.router.add_get("/live/{path:.+}", origin.live)
    return app


async def _allow_any_origin(_: web.Request, response: web.StreamResponse) -> None:
    # Browser players load manifests from another origin than their page.
    response.headers["Access-Control-Allow-Origin"] = "*"


def _resolve(root: Path, tail: str) -> Path:
    """The file ``tail`` names under ``root``; 404 if outside root or not served."""
    try:
        path = (root / tail).resolve()
    except (OSError, ValueError) as exc:  # ValueError: embedded NUL byte
        raise web.HTTPNotFound() from exc
    if not path.is_relative_to(root) or path.suffix not in CONTENT_TYPES or not path.is_file():
        raise web.HTTPNotFound()
    return path


def _file_response(path: Path, cache_control: str) -> web.FileResponse:
    headers = {
        "Content-Type": CONTENT_TYPES[path.suffix],
        "Cache-Control": cache_control,
    }
    return web.FileResponse(path, headers=headers)


class _Origin:
    """Request handlers bound to the served roots."""

    def __init__(
        self,
        media_root: Path,
        live_root: Path | None,
        cues: CueSchedule,
        channel: ChannelSchedule | None = None,
    ):
        self.hls_root = media_root / "hls"
        self.dash_root = media_root / "dash"
        self.live_root = live_root
        self.cues = cues
        self.channel = channel

    async def index(self, _: web.Request) -> web.Response:
        lines = ["Edge Assembler demo origin", "", "VOD (HLS, MPEG-TS):"]
        lines += [f"  /vod/{asset.name}/master.m3u8" for asset in ASSETS]
        lines += ["", "DASH (VOD):"]
        lines += [f"  /dash/{asset.name}/manifest.mpd" for asset in ASSETS]
        lines += ["", "Live (HLS, 6-segment window):"]
        if self.live_root is None:
            lines.append("  (live encoder not running)")
        else:
            c = self.cues
            lines.append("  /live/master.m3u8")
            lines.append(
                f"  cue tags: a {c.segments}-segment break starts when"
                f" media sequence % {c.every} == {c.at}"
            )
        if self.channel is not None:
            s = self.channel
            lines += ["", f"Live channel (the content looped; HLS: a {s.window}-segment window):"]
            lines.append("  /live/channel/master.m3u8")
            lines.append(f"  {DASH_PATH} (DASH, one Period per loop)")
            lines.append(
                f"  SCTE-35 cues (EXT-X-CUE-OUT/-IN, EXT-X-DATERANGE SCTE35-OUT): a"
                f" {s.segments}-segment break starts when media sequence % {s.every} == {s.at}"
            )
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    async def vod(self, request: web.Request) -> web.FileResponse:
        return self._static(self.hls_root, request)

    async def dash(self, request: web.Request) -> web.FileResponse:
        return self._static(self.dash_root, request)

    def _static(self, root: Path, request: web.Request) -> web.FileResponse:
        path = _resolve(root, request.match_info["path"])
        manifest = path.suffix in MANIFEST_SUFFIXES
        return _file_response(path, VOD_MANIFEST_CACHE if manifest else VOD_SEGMENT_CACHE)

    async def live(self, request: web.Request) -> web.StreamResponse:
        if self.live_root is None:
            raise web.HTTPNotFound(text="live encoder not running")
        path = _resolve(self.live_root, request.match_info["path"])
        if path.suffix != ".m3u8":
            return _file_response(path, LIVE_SEGMENT_CACHE)
        try:
            # ffmpeg replaces live playlists by rename: one read sees one whole version.
            text, mtime = await asyncio.to_thread(_read_playlist, path)
        except FileNotFoundError as exc:
            raise web.HTTPNotFound() from exc
        if "#EXT-X-STREAM-INF" in text:
            return _playlist_response(request, text, mtime, LIVE_MASTER_CACHE)
        body = inject_cues(text, self.cues)
        return _playlist_response(request, body, mtime, LIVE_MEDIA_PLAYLIST_CACHE)


class _ChannelRoutes:
    """The simulated channel's handlers. The channel is built on first use: only its routes
    need the content asset."""

    def __init__(
        self, media_root: Path, schedule: ChannelSchedule, clock: Callable[[], float]
    ) -> None:
        self.media_root = media_root
        self.schedule = schedule
        self.clock = clock
        self._channel: Channel | None = None
        self._dash: DashChannel | None = None

    async def _get(self) -> Channel:
        if self._channel is None:
            try:
                self._channel = await asyncio.to_thread(
                    Channel, self.media_root, self.schedule, self.clock
                )
            except ChannelError as exc:
                raise web.HTTPServiceUnavailable(text=f"live channel unavailable: {exc}") from exc
        return self._channel

    async def _get_dash(self) -> DashChannel:
        if self._dash is None:
            try:
                self._dash = await asyncio.to_thread(
                    DashChannel, self.media_root, self.schedule, self.clock
                )
            except ChannelError as exc:
                raise web.HTTPServiceUnavailable(text=f"live channel unavailable: {exc}") from exc
        return self._dash

    async def master(self, request: web.Request) -> web.Response:
        playlist = (await self._get()).master()
        return _playlist_response(request, playlist.text, playlist.modified, LIVE_MASTER_CACHE)

    async def media_playlist(self, request: web.Request) -> web.Response:
        channel = await self._get()
        rendition = request.match_info["rendition"]
        if rendition not in channel.renditions:
            raise web.HTTPNotFound()
        playlist = channel.media_playlist(rendition)
        if playlist is None:
            raise web.HTTPNotFound(text="the channel has not published a segment yet")
        cache = f"max-age={channel.schedule.media_max_age}"
        return _playlist_response(request, playlist.text, playlist.modified, cache)

    async def manifest(self, request: web.Request) -> web.Response:
        channel = await self._get_dash()
        mpd = channel.manifest()
        if mpd is None:
            raise web.HTTPNotFound(text="the channel has not published a segment yet")
        cache = f"max-age={channel.schedule.media_max_age}"
        return _playlist_response(request, mpd.text, mpd.modified, cache, ".mpd")

    async def segment(self, request: web.Request) -> web.FileResponse:
        channel = await self._get()
        msn = request.match_info["msn"]
        path = channel.segment(request.match_info["rendition"], int(msn))
        if path is None or str(int(msn)) != msn:  # one URI per MSN
            raise web.HTTPNotFound()
        return _file_response(path, LIVE_SEGMENT_CACHE)

    async def not_found(self, _: web.Request) -> web.Response:
        raise web.HTTPNotFound()


def _read_playlist(path: Path) -> tuple[str, float]:
    with path.open(encoding="utf-8") as handle:
        text = handle.read()
        mtime = os.fstat(handle.fileno()).st_mtime
    return text, mtime


def _playlist_response(
    request: web.Request, text: str, mtime: float, cache_control: str, suffix: str = ".m3u8"
) -> web.Response:
    body = text.encode()
    etag = hashlib.blake2b(body, digest_size=12).hexdigest()
    headers = {"Cache-Control": cache_control}
    if any(tag.value in (etag, "*") for tag in request.if_none_match or ()):
        response = web.Response(status=304, headers=headers)
    else:
        response = web.Response(body=body, content_type=CONTENT_TYPES[suffix], headers=headers)
    response.etag = etag
    response.last_modified = mtime
    return response
