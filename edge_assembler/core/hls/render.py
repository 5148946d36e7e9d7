"""Playlist model to bytes: the lines as they are, so unedited runs stay byte for byte."""

from edge_assembler.core.hls.model import Playlist


def render(playlist: Playlist) -> bytes:
    body = "\n".join(playlist.raw_lines())
    if playlist.final_newline:
        body += "\n"
    return (playlist.prefix + body).encode("utf-8")
