"""Trim: cut a VOD playlist at the last segment boundary at or before a duration (a
boundary less than ``TOLERANCE`` after it counts as on it).

What follows the cut goes, and with it every EXT-X-DATERANGE that starts at or after the
cut (in the kept segments or after EXT-X-ENDLIST). The tail stays (EXT-X-ENDLIST and the
playlist tags after the last segment). A legacy cue pair cut in two is closed with an
``EXT-X-CUE-IN`` before EXT-X-ENDLIST, so no CUE-OUT is left without its CUE-IN
(SPEC_RULES 45).
"""

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from datetime import datetime

from edge_assembler.core.edits.base import Edit
from edge_assembler.core.edits.scopes import date_ranged, has_dates
from edge_assembler.core.edits.seams import EditError, Seconds, boundaries, snap
from edge_assembler.core.hls.attributes import parse_attributes
from edge_assembler.core.hls.dates import parse_date, segment_dates
from edge_assembler.core.hls.lines import classify, tag, tag_name
from edge_assembler.core.hls.model import MediaPlaylist, Segment, tagged_segments


class Trim(Edit, tag="trim", frozen=True):
    """Keep the first ``duration`` seconds, cut at a segment boundary."""

    duration: Seconds


def apply_trim(
    playlist: MediaPlaylist, edit: Trim, fetched: Mapping[str, MediaPlaylist]
) -> MediaPlaylist:
    if playlist.live:
        raise EditError("only a VOD playlist (with EXT-X-ENDLIST) can be trimmed")
    if edit.duration >= boundaries(playlist)[-1]:
        return playlist
    end = snap(playlist, edit.duration, "before")
    if end == 0:
        raise EditError(f"trimming to {edit.duration:g} s leaves no segment")
    cut = segment_dates(playlist)[end] if has_dates(playlist) else None
    kept = playlist.segments[:end]
    ranged = [i for i in date_ranged(playlist) if i < end] if cut is not None else []
    if ranged:  # only these can lose a date range
        changed = list(kept)
        for i in ranged:
            changed[i] = _before(kept[i], cut)
        kept = tuple(changed)
    tail = [raw for raw in playlist.tail if _starts_before(raw, cut)]
    tagged = playlist.fact(tagged_segments)
    if _open_cue(kept[i] for i in tagged[: bisect_left(tagged, end)]):
        at = next((i for i, raw in enumerate(tail) if tag_name(raw) == "EXT-X-ENDLIST"), 0)
        tail.insert(at, tag("EXT-X-CUE-IN", crlf=playlist.crlf))
    return playlist.evolve(segments=kept, tail=tuple(tail))


def _before(segment: Segment, cut: datetime | None) -> Segment:
    """``segment`` without the date ranges that start at or after ``cut``."""
    if cut is None or len(segment.raw) < 3:
        return segment
    raw = tuple(line for line in segment.raw if _starts_before(line, cut))
    return segment if raw == segment.raw else segment._replace(raw=raw, number=0)


def _starts_before(raw: str, cut: datetime | None) -> bool:
    if cut is None or tag_name(raw) != "EXT-X-DATERANGE":
        return True
    line = classify(raw)
    start = parse_attributes(line.value, line.number).get("START-DATE")
    return start is None or parse_date(start, line.number) < cut


def _open_cue(segments: Iterable[Segment]) -> bool:
    """Whether the last legacy cue marker of ``segments`` (those with tags, in order)
    opens a break."""
    opened = False
    for segment in segments:
        for raw in segment.raw:
            match tag_name(raw):
                case "EXT-X-CUE-OUT":
                    opened = True
                case "EXT-X-CUE-IN":
                    opened = False
                case _:
                    pass
    return opened
