"""Writing a media playlist's segments without visiting every one of them.

An edit keeps most segments of the playlist it edits, in long runs, and changes a few
(DESIGN §2: unchanged runs of the origin text are copied through as they were). A playlist
may know its *layout*: its segments as pieces, each a run of consecutive segments of a
parsed playlist (``Lines``, written as one slice of the parsed source's lines) or a single
segment an edit wrote. ``parse`` gives a playlist the layout of one piece; an edit that keeps
runs of a playlist builds its result's layout from that playlist's, with ``pieces_of``. So
rendering an edited playlist costs what was edited, not the length of the playlist.

A layout is a fact of the playlist (``MediaPlaylist.fact``): ``evolve`` forgets it, and a
playlist without one is written segment by segment.
"""

from bisect import bisect_right
from collections.abc import Sequence
from typing import NamedTuple

from edge_assembler.core.hls.model import MediaPlaylist, Segment


class Lines(NamedTuple):
    """Segments ``start:stop`` of a parsed playlist, whose lines are consecutive in its
    source: a parsed segment's ``number`` is its first line there."""

    source: Sequence[str]  # the parsed text's lines, never changed
    segments: tuple[Segment, ...]  # the parsed playlist's segments
    start: int
    stop: int

    def text(self) -> str:
        last = self.segments[self.stop - 1]
        first_line = self.segments[self.start].number - 1
        return "\n".join(self.source[first_line : last.number - 1 + len(last.raw)])

    def part(self, start: int, stop: int) -> "Lines":
        """Segments ``start:stop`` of this piece."""
        return Lines(self.source, self.segments, self.start + start, self.start + stop)


Piece = Lines | Segment


def layout(playlist: MediaPlaylist) -> tuple[Piece, ...] | None:
    """The playlist's pieces; None when not known (each segment is written on its own).
    Builders record it with ``playlist.remember(layout, ...)``; use ``playlist.fact``."""
    return None


def record(playlist: MediaPlaylist, pieces: Sequence[Piece]) -> None:
    """Record the layout of a playlist its builder knows: ``pieces`` hold exactly its
    segments, in order."""
    known: tuple[Piece, ...] | None = tuple(pieces)
    playlist.remember(layout, known)


def record_parsed(playlist: MediaPlaylist, source: Sequence[str]) -> None:
    """Record the layout of a playlist just parsed from the lines ``source``."""
    count = len(playlist.segments)
    record(playlist, [Lines(source, playlist.segments, 0, count)] if count else [])


def pieces_of(playlist: MediaPlaylist, start: int, stop: int) -> list[Piece]:
    """The pieces of ``playlist.segments[start:stop]``."""
    pieces = playlist.fact(layout)
    if pieces is None:
        return list(playlist.segments[start:stop])
    starts = playlist.fact(_starts)
    k = bisect_right(starts, start) - 1
    out: list[Piece] = []
    while start < stop:
        piece, begin = pieces[k], starts[k]
        size = starts[k + 1] - begin
        low, high = start - begin, min(stop - begin, size)
        whole = low == 0 and high == size
        out.append(piece if whole or isinstance(piece, Segment) else piece.part(low, high))
        start = begin + high
        k += 1
    return out


def _starts(playlist: MediaPlaylist) -> list[int]:
    """The index of the first segment of every piece, and the segment count at the end."""
    out = [0]
    for piece in playlist.fact(layout) or ():
        out.append(out[-1] + (1 if isinstance(piece, Segment) else piece.stop - piece.start))
    return out


def segment_text(playlist: MediaPlaylist) -> list[str]:
    """The segments' lines for ``render``: whole lines, or several joined by LF."""
    pieces = playlist.fact(layout)
    if pieces is None:
        return [raw for segment in playlist.segments for raw in segment.raw]
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, Segment):
            out.extend(piece.raw)
        else:
            out.append(piece.text())
    return out


__all__ = ["Lines", "Piece", "layout", "pieces_of", "record", "record_parsed", "segment_text"]
