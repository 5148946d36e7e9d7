"""Compose: a new VOD made of time ranges of one or more playlists, in order.

The base of highlights, recaps cut from earlier episodes, alternative scenes and shortened
cuts. Each range snaps to the nearest segment boundaries of its playlist; ranges join with
the seams of ``join.join`` (a range that continues the previous one of the same playlist
joins without a discontinuity). The edited playlist gives the header (version, target
duration, media sequence, playlist type) and may be one of the sources, as ``"self"``.

Every range keeps only its media tags: the cue tags and date ranges of the sources describe
their own timelines, not the new one. Content ranges keep their program dates unless they
would overlap an earlier range (SPEC_RULES 32); ad ranges are marked as breaks. The result
ends with EXT-X-ENDLIST; the live-delivery tags of the header (EXT-X-PART-INF,
EXT-X-SERVER-CONTROL) go, since the new playlist has no parts and never changes.
"""

from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

from edge_assembler.core.edits.assemble import assemble
from edge_assembler.core.edits.base import Edit
from edge_assembler.core.edits.join import join
from edge_assembler.core.edits.seams import (
    SELF,
    CueSpan,
    EditError,
    Run,
    Seconds,
    dates_of,
    snap,
    source_playlist,
    take,
)
from edge_assembler.core.hls.lines import tag, tag_name
from edge_assembler.core.hls.model import MediaPlaylist
from edge_assembler.core.hls.parse import HEADER_TAGS

# Header tags of live delivery that a finished playlist without parts cannot keep.
_LIVE_ONLY = frozenset({"EXT-X-PART-INF", "EXT-X-SERVER-CONTROL"})


class Range(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Seconds ``start`` to ``end`` of ``fetched[source]`` (its URL: ``source_url``)."""

    source: str
    source_url: str
    start: Seconds
    end: Seconds
    role: Literal["content", "ad", "recap", "bumper"] = "content"


class Compose(Edit, tag="compose", frozen=True):
    ranges: Annotated[tuple[Range, ...], msgspec.Meta(min_length=1)]


def apply_compose(
    playlist: MediaPlaylist, edit: Compose, fetched: Mapping[str, MediaPlaylist]
) -> MediaPlaylist:
    if playlist.i_frames_only or playlist.skipped:
        raise EditError("a composition needs a full media playlist as its header")
    runs = [_run(playlist, part, fetched) for part in edit.ranges]
    joined = join(runs, first_msn=playlist.msn(0), live=False, ended=True, crlf=playlist.crlf)
    endlist = [raw for raw in playlist.tail if tag_name(raw) == "EXT-X-ENDLIST"][:1]
    # Header tags some packagers write among the first segment's lines stay in the header.
    stray = [r for s in playlist.segments[:1] for r in s.raw if tag_name(r) in HEADER_TAGS]
    header = playlist.evolve(
        head=tuple(r for r in (*playlist.head, *stray) if tag_name(r) not in _LIVE_ONLY),
        tail=tuple(endlist or [tag("EXT-X-ENDLIST", crlf=playlist.crlf)]),
        endlist=True,
        part_target=None,
    )
    return assemble(header, joined, inserted=joined.segments)


def _run(playlist: MediaPlaylist, part: Range, fetched: Mapping[str, MediaPlaylist]) -> Run:
    if part.end <= part.start:
        raise EditError(f"range {part.start:g}-{part.end:g} s of {part.source!r} is empty")
    own = part.source == SELF
    source = playlist if own else source_playlist(fetched, part.source, complete=False)
    start, end = snap(source, part.start), snap(source, part.end)
    if end <= start:
        raise EditError(
            f"range {part.start:g}-{part.end:g} s of {part.source!r} holds no whole segment"
        )
    run = take(
        source,
        start,
        end,
        source=part.source,
        base_url=None if own else part.source_url,
        keep_tags=False,
        own_clock=part.role == "content",
        dates=dates_of(source) if part.role == "content" else None,
    )
    return run.evolve(cue=CueSpan(run.duration, 0.0)) if part.role == "ad" else run
