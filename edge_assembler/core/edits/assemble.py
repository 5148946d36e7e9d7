"""Assembling an edited media playlist: the joined segments and the playlist tags they
need (target duration, version, discontinuity sequence, tail), and the compatibility
version segment lines require (SPEC_RULES 5, BIS §8).
"""

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from math import ceil

from edge_assembler.core.edits.clock import shift_daterange
from edge_assembler.core.edits.join import Joined
from edge_assembler.core.edits.scopes import key_attributes, line_body
from edge_assembler.core.edits.seams import EditError, round_duration, with_lines
from edge_assembler.core.hls.layout import record
from edge_assembler.core.hls.lines import tag, tag_name
from edge_assembler.core.hls.model import MediaPlaylist, Segment, tagged_segments
from edge_assembler.core.hls.parse import HEADER_TAGS

_HEADER_PREFIXES = tuple(f"#{name}" for name in HEADER_TAGS)


def assemble(
    playlist: MediaPlaylist,
    joined: Joined,
    *,
    inserted: Sequence[Segment],
    tail: tuple[str, ...] | None = None,
) -> MediaPlaylist:
    """``playlist`` with the joined segments and the playlist tags they need: the target
    duration (SPEC_RULES 17-18), the version (SPEC_RULES 5), the discontinuity sequence
    (SPEC_RULES 11) and the tail with the closing cue and moved date ranges.

    ``inserted`` are the segments of the foreign runs: only they, and the IVs written
    out, can need a later version than the playlist already declares. ``tail``: the
    playlist's tail as the edit changed it.

    Only the tagged segments are looked at: the others are plain (EXTINF and URI)."""
    head = list(playlist.head)
    segments = _hoist(head, playlist, joined)
    needed = max(required_version(inserted, playlist), 2 if joined.ivs else 1)
    version = max(playlist.version or 1, needed)
    target = _target(playlist, inserted, version)
    if target != playlist.target_duration:
        _set(head, "EXT-X-TARGETDURATION", str(target), playlist.crlf)
    if version != (playlist.version or 1):
        _set(head, "EXT-X-VERSION", str(version), playlist.crlf)
    if playlist.live and any(segments[i].discontinuity for i in joined.tagged):
        _ensure(head, "EXT-X-DISCONTINUITY-SEQUENCE", playlist.discontinuity_sequence, playlist)
    assembled = playlist.evolve(
        head=tuple(head),
        segments=segments,
        tail=_tail(playlist.tail if tail is None else tail, joined),
        target_duration=target,
        version=version if playlist.version or version > 1 else None,
    )
    tagged = tuple(i for i in joined.tagged if len(segments[i].raw) > 2)  # after _hoist
    assembled.remember(tagged_segments, tagged)
    if segments is joined.segments:  # else _hoist changed a segment the pieces hold
        record(assembled, joined.pieces)
    return assembled


def _target(playlist: MediaPlaylist, inserted: Sequence[Segment], version: int) -> int:
    """BIS §4.4.3.1, §8: from version 6 every EXTINF rounded to the nearest integer, before
    it every EXTINF, is at most the target duration."""
    covering = round_duration if version >= 6 else _ceil
    longest = max((covering(s.duration) for s in inserted), default=0)
    if longest <= playlist.target_duration:
        return playlist.target_duration
    if playlist.live:
        # SPEC_RULES 18, BIS §6.2.1: the target duration of a live playlist MUST NOT change.
        raise EditError(
            f"an inserted segment of {longest} s exceeds the target duration "
            f"{playlist.target_duration} s of a live playlist"
        )
    return longest


def _ceil(seconds: float) -> int:
    return ceil(seconds - 1e-6)


def _tail(tail: tuple[str, ...], joined: Joined) -> tuple[str, ...]:
    lines = list(tail)
    if joined.shifts:
        lines = [shift_daterange(raw, joined.shifts) for raw in lines]
    if joined.trailing:
        at = next((i for i, r in enumerate(lines) if tag_name(r) == "EXT-X-ENDLIST"), 0)
        lines[at:at] = joined.trailing
    return tuple(lines)


def _set(head: list[str], name: str, value: str, crlf: bool) -> None:
    """Rewrite the head's ``name`` tag, or add it after #EXTM3U."""
    for i, raw in enumerate(head):
        if tag_name(raw) == name:
            head[i] = tag(name, value, crlf=raw.endswith("\r"))
            return
    at = next((i + 1 for i, raw in enumerate(head) if tag_name(raw) == "EXTM3U"), 0)
    head.insert(at, tag(name, value, crlf=crlf))


def _ensure(head: list[str], name: str, value: int, playlist: MediaPlaylist) -> None:
    if not any(tag_name(raw) == name for raw in head):
        head.append(tag(name, str(value), crlf=playlist.crlf))


def _hoist(head: list[str], playlist: MediaPlaylist, joined: Joined) -> tuple[Segment, ...]:
    """Playlist tags written among the first segment's lines (seen in the wild) move to
    the head when a seam changed that segment, since it may no longer be the first
    (BIS §4.4.3.2-3: MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE precede every segment)."""
    segments = joined.segments
    stray = [i for i in joined.tagged if _has_header_tags(segments[i].raw)]
    if not stray:
        return segments
    kept = {id(segment) for segment in playlist.segments}
    moved = [i for i in stray if id(segments[i]) not in kept]
    if not moved:
        return segments
    out = list(segments)
    for i in moved:
        segment = out[i]
        head += [r for r in segment.raw if tag_name(r) in HEADER_TAGS]
        out[i] = with_lines(segment, [r for r in segment.raw if tag_name(r) not in HEADER_TAGS])
    return tuple(out)


@lru_cache(maxsize=4096)
def _has_header_tags(raw: tuple[str, ...]) -> bool:
    """Cached: the same segments are joined for many requests."""
    return any(r.startswith(_HEADER_PREFIXES) and tag_name(r) in HEADER_TAGS for r in raw)


def required_version(segments: Iterable[Segment], playlist: MediaPlaylist) -> int:
    """The compatibility version the segment lines need (SPEC_RULES 5, BIS §8)."""
    return lines_version(segments, playlist.i_frames_only)


def lines_version(segments: Iterable[Segment], i_frames_only: bool) -> int:
    """``required_version`` for the segments of a playlist that is or is not I-frames only."""
    return max((_version_of(s.raw, i_frames_only) for s in segments), default=1)


@lru_cache(maxsize=4096)
def _version_of(raw: tuple[str, ...], i_frames_only: bool) -> int:
    """The version a segment's lines need (cached: an ad is inserted for many requests)."""
    return max((_line_version(line, i_frames_only) for line in raw[:-1]), default=1)


def _key_version(raw: str, i_frames_only: bool) -> int:
    attributes = key_attributes(line_body(raw))
    if "KEYFORMAT" in attributes or "KEYFORMATVERSIONS" in attributes:
        return 5
    if (attributes.get("METHOD") or "").startswith("SAMPLE-AES"):
        return 5
    return 2 if "IV" in attributes else 1


# BIS §8: the lowest version that allows each segment tag, by the start of its line.
_VERSIONS: dict[str, Callable[[str, bool], int]] = {
    "#EXTINF:": lambda raw, i_frames: 3 if "." in raw[8:].partition(",")[0] else 1,
    "#EXT-X-BYTERANGE:": lambda raw, i_frames: 4,
    "#EXT-X-MAP:": lambda raw, i_frames: 5 if i_frames else 6,
    "#EXT-X-KEY:": _key_version,
}


def _line_version(raw: str, i_frames_only: bool) -> int:
    rule = _VERSIONS.get(raw[: raw.find(":") + 1])
    return rule(raw, i_frames_only) if rule else 1
