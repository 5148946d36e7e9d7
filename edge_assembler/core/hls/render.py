"""Playlist model to bytes: the lines as they are, so unedited runs stay byte for byte."""

from edge_assembler.core.hls.layout import segment_text
from edge_assembler.core.hls.model import MediaPlaylist, Playlist


def render(playlist: Playlist) -> bytes:
    if isinstance(playlist, MediaPlaylist):
        body = "\n".join([*playlist.head, *segment_text(playlist), *playlist.tail])
    else:
        body = "\n".join(playlist.raw_lines())
    if playlist.final_newline:
        body += "\n"
    return (playlist.prefix + body).encode("utf-8")
