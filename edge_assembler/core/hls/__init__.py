"""HLS: a lossless playlist model (RFC 8216 / draft-pantos-hls-rfc8216bis), sans I/O."""

from edge_assembler.core.hls.model import (
    MediaPlaylist,
    MultivariantPlaylist,
    Playlist,
    Segment,
    Variant,
)
from edge_assembler.core.hls.parse import parse
from edge_assembler.core.hls.render import render

__all__ = [
    "MediaPlaylist",
    "MultivariantPlaylist",
    "Playlist",
    "Segment",
    "Variant",
    "parse",
    "render",
]
