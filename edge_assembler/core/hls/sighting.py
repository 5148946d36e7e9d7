"""A live break as the edge records it when it first sees it (DESIGN §4 "Live in-stream ad
replacement needs the break history").

The record fixes, once for the whole stream, what numbering needs (``live.BreakRecord``):
the origin MSN of the break's first segment and how many origin segments it replaces.
A window may show the break closed (its CUE-IN listed, or its signalled duration covered):
the count is the listed one. A window that shows it open only has its signalled duration:
the segments still to come are counted at the window's typical segment duration. A window
that starts inside the break (``elapsed_before_window``, from CUE-OUT-CONT or a date range)
places its start the same way. ``age`` dates the break's start back from the live
edge (the end of the window) in media time. The planned duration of the fill is the signalled one
(SPEC_RULES 44), else that of a closed break; a break whose length nobody announced and
whose end is not listed has none: it is recorded all the same, so that it is never
replaced, not even once a later window shows its end.
"""

from collections.abc import Iterable
from statistics import median
from typing import Final, NamedTuple

from edge_assembler.core.hls.cues import Break, detect_breaks
from edge_assembler.core.hls.lines import tag_name
from edge_assembler.core.hls.model import MediaPlaylist
from edge_assembler.core.hls.parse import SEGMENT_TAGS

MAX_CUE: Final = 2048  # characters of the origin's cue lines kept with a record


class Sighting(NamedTuple):
    """A break of a live window, as the stream's history records it."""

    id: str
    start_msn: int
    replaced: int
    duration: float | None  # the fill's planned duration; None: not replaced
    cue: str  # the origin's cue lines where the window shows the break start
    age: float  # seconds of media from the break's start to the end of the window


def sightings(playlist: MediaPlaylist) -> tuple[Sighting, ...]:
    """The breaks of a live window that span at least one origin segment."""
    segments = playlist.segments
    if not segments or playlist.endlist:
        return ()
    typical = median(s.duration for s in segments)
    if typical <= 0:
        return ()
    first = playlist.msn(0)
    out = []
    for found in detect_breaks(playlist):
        sighting = _sighting(playlist, found, first, typical)
        if sighting is not None:
            out.append(sighting)
    return tuple(out)


def _sighting(playlist: MediaPlaylist, found: Break, first: int, typical: float) -> Sighting | None:
    before = 0
    if found.start_index == 0 and found.elapsed_before_window > 0:
        before = round(found.elapsed_before_window / typical)
    start = max(first + found.start_index - before, 0)
    listed = playlist.segments[found.start_index : found.end_index]
    covered = found.elapsed_before_window + sum(s.duration for s in listed)
    replaced = first + found.end_index - start
    duration = found.signalled_duration
    if found.closed and duration is None:
        duration = covered
    elif not found.closed and duration is not None:
        replaced += max(round((duration - covered) / typical), 0)
    if replaced < 1:
        return None
    age = found.elapsed_before_window + sum(
        s.duration for s in playlist.segments[found.start_index :]
    )
    return Sighting(found.id, start, replaced, duration, _cue(playlist, found), age)


def _cue(playlist: MediaPlaylist, found: Break) -> str:
    """The cue lines of the first listed segment of the break."""
    index = min(found.start_index, len(playlist.segments) - 1)
    lines = (
        raw.removesuffix("\r")
        for raw in playlist.segments[index].raw[:-1]
        if raw.startswith("#") and tag_name(raw) not in SEGMENT_TAGS
    )
    return "\n".join(lines)[:MAX_CUE]


def unrecorded(seen: Iterable[Sighting], known: Iterable[tuple[str, int, int]]) -> list[Sighting]:
    """The sightings of breaks not in the history ``known`` (id, start MSN, replaced): not
    by id, nor over a known break's run (a dialect naming a break only where it starts
    names it by its start MSN in a window that opens inside it)."""
    known = tuple(known)
    ids = {k[0] for k in known}
    return [
        s
        for s in seen
        if s.id not in ids
        and not any(
            s.start_msn < start + max(replaced, 1) and start < s.start_msn + s.replaced
            for _, start, replaced in known
        )
    ]
