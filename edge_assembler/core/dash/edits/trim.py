"""Trim on an MPD: keep the first ``duration`` seconds of a static presentation.

The cut goes at the last segment boundary common to the video and audio Representations at
or before ``duration`` (a boundary less than ``TOLERANCE`` after it counts as at it), as in
the HLS edit. The Period it falls in is cut there (``periods.cut``: its SegmentTimelines and
SegmentLists lose the later segments, its later Events go), every later Period goes, and
``mediaPresentationDuration`` becomes the cut time. A duration at or past the end changes
nothing; one that leaves no segment is refused. A live MPD cannot be trimmed: its end is
not known yet.
"""

from collections.abc import Mapping

from edge_assembler.core.dash.edits.periods import (
    SAME_INSTANT,
    assemble,
    content_pieces,
    snapped,
)
from edge_assembler.core.dash.model import Mpd
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.edits.trim import Trim


def apply_trim(mpd: Mpd, edit: Trim, fetched: Mapping[str, Mpd]) -> Mpd:
    if mpd.dynamic:
        raise EditError("only a static MPD can be trimmed")
    end = mpd.periods[-1].end if mpd.periods else None
    if end is None:
        raise EditError("the MPD has no known end")
    if edit.duration >= end - SAME_INSTANT:
        return mpd
    root = mpd.copy_root()
    work = Mpd.of(root)
    cut_at, _ = snapped(work, edit.duration, "before")
    if cut_at <= SAME_INSTANT:
        raise EditError(f"trimming to {edit.duration:g} s leaves no segment")
    return assemble(work, root, content_pieces(work, 0.0, cut_at))
