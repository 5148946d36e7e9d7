"""InsertRun: put every segment of another playlist (an ad, a recap, a bumper) before the
first segment, after the last, at a time offset or at the start of a signalled break.

A time offset snaps to a segment boundary (``snap``): durations alone decide, so the
video, audio and subtitle playlists of one presentation get their seams at the same media
time, within ``TOLERANCE`` when their segments are cut at the same times (AAC segments of
2.005/1.984 s drift by less than one audio frame). Insertion at a cue goes before the
first segment of the break and leaves the origin's cue tags where they are.

An ad is marked as a break (CUE-OUT/CUE-IN) and, given a ``marker_id`` in a playlist with
program dates, announced with an EXT-X-DATERANGE carrying ``creative_id``; recaps and
bumpers get only their discontinuities. A live playlist keeps its target duration: a
longer inserted segment is refused (SPEC_RULES 18).
"""

from collections.abc import Mapping
from typing import Literal

from edge_assembler.core.edits.assemble import assemble
from edge_assembler.core.edits.base import Edit
from edge_assembler.core.edits.join import join
from edge_assembler.core.edits.seams import (
    AdMark,
    CueSpan,
    EditError,
    QuotedText,
    Seconds,
    Snap,
    content,
    dates_of,
    snap,
    source_playlist,
    take,
)
from edge_assembler.core.hls.cues import detect_breaks
from edge_assembler.core.hls.model import MediaPlaylist


class InsertRun(Edit, tag="insert_run", frozen=True):
    """Insert all segments of ``fetched[source]`` (its URL: ``source_url``)."""

    source: str
    source_url: str
    at: Seconds | None = None  # seconds from the start of the playlist ("mid")
    cue: str | None = None  # id of a detected break ("mid")
    position: Literal["pre", "mid", "post"] = "mid"
    role: Literal["ad", "recap", "bumper"] = "ad"
    marker_id: QuotedText | None = None  # EXT-X-DATERANGE ID of an ad
    creative_id: QuotedText | None = None
    snap: Snap = "nearest"


def apply_insert_run(
    playlist: MediaPlaylist, edit: InsertRun, fetched: Mapping[str, MediaPlaylist]
) -> MediaPlaylist:
    if playlist.i_frames_only:
        raise EditError("runs are not inserted into I-frame playlists")
    source = source_playlist(fetched, edit.source)
    index = _position(playlist, edit)
    run = take(
        source,
        0,
        len(source.segments),
        source=edit.source,
        base_url=edit.source_url,
        keep_tags=False,
    )
    if edit.role == "ad":
        mark = None
        if edit.marker_id is not None:
            mark = AdMark(edit.marker_id, edit.creative_id, 0.0, run.duration)
        run = run.evolve(cue=CueSpan(run.duration, 0.0), mark=mark)
    dates = dates_of(playlist)
    count = len(playlist.segments)
    runs = [*content(playlist, 0, index, dates), run, *content(playlist, index, count, dates)]
    joined = join(
        runs,
        first_msn=playlist.msn(0),
        live=playlist.live,
        ended=playlist.endlist,
        crlf=playlist.crlf,
    )
    return assemble(playlist, joined, inserted=run.segments)


def _position(playlist: MediaPlaylist, edit: InsertRun) -> int:
    """The index of the segment the run goes before."""
    if edit.position == "pre":
        return 0
    if edit.position == "post":
        return len(playlist.segments)
    return _middle(playlist, edit)


def _middle(playlist: MediaPlaylist, edit: InsertRun) -> int:
    if (edit.at is None) == (edit.cue is None):
        raise EditError("a mid-roll needs exactly one of 'at' and 'cue'")
    if edit.at is not None:
        return snap(playlist, edit.at, edit.snap)
    for found in detect_breaks(playlist):
        if found.id == edit.cue:
            return found.start_index
    raise EditError(f"no break {edit.cue!r} in the playlist")
