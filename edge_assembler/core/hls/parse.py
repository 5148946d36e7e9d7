"""Bytes to playlist model. Lenient where players are lenient; anything else is a
ManifestError naming the line."""

import re
from collections.abc import Callable, Iterable
from itertools import chain
from typing import NamedTuple

from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls.attributes import parse_attributes
from edge_assembler.core.hls.cues import CUE_PREFIXES, cue_lines
from edge_assembler.core.hls.layout import record_parsed
from edge_assembler.core.hls.lines import Kind, Line, classify, decode, split, tag_name
from edge_assembler.core.hls.model import (
    Item,
    MediaPlaylist,
    MultivariantPlaylist,
    Playlist,
    Segment,
    Variant,
    parse_extinf,
    parse_float,
    tagged_segments,
)

# RFC 8216 §4.3.4 / BIS §4.4.6: tags only a multivariant playlist carries.
MULTIVARIANT_TAGS = frozenset(
    {
        "EXT-X-STREAM-INF",
        "EXT-X-MEDIA",
        "EXT-X-I-FRAME-STREAM-INF",
        "EXT-X-SESSION-DATA",
        "EXT-X-SESSION-KEY",
        "EXT-X-CONTENT-STEERING",
    }
)
# BIS §4.4.4: the media segment tags, which describe a segment's media.
SEGMENT_TAGS = frozenset(
    {
        "EXTINF",
        "EXT-X-BYTERANGE",
        "EXT-X-DISCONTINUITY",
        "EXT-X-KEY",
        "EXT-X-MAP",
        "EXT-X-PROGRAM-DATE-TIME",
        "EXT-X-GAP",
        "EXT-X-BITRATE",
        "EXT-X-PART",
    }
)
# BIS §4.4.3-4.4.5: tags only a media playlist carries (segment and media playlist tags).
MEDIA_TAGS = SEGMENT_TAGS | frozenset(
    {
        "EXT-X-TARGETDURATION",
        "EXT-X-MEDIA-SEQUENCE",
        "EXT-X-DISCONTINUITY-SEQUENCE",
        "EXT-X-ENDLIST",
        "EXT-X-PLAYLIST-TYPE",
        "EXT-X-I-FRAMES-ONLY",
        "EXT-X-PART-INF",
        "EXT-X-SKIP",
        "EXT-X-PRELOAD-HINT",
        "EXT-X-RENDITION-REPORT",
    }
)
# Playlist-wide tags that open a media playlist; anything else starts the first segment.
HEADER_TAGS = frozenset(
    {
        "EXTM3U",
        "EXT-X-VERSION",
        "EXT-X-TARGETDURATION",
        "EXT-X-MEDIA-SEQUENCE",
        "EXT-X-DISCONTINUITY-SEQUENCE",
        "EXT-X-PLAYLIST-TYPE",
        "EXT-X-I-FRAMES-ONLY",
        "EXT-X-INDEPENDENT-SEGMENTS",
        "EXT-X-START",
        "EXT-X-PART-INF",
        "EXT-X-SERVER-CONTROL",
        "EXT-X-ALLOW-CACHE",
        "EXT-X-DEFINE",
    }
)


def parse(data: bytes) -> Playlist:
    """Parse a multivariant or media playlist; ``render(parse(data)) == data``."""
    text, prefix = decode(data)
    raws, final_newline = split(text)
    # The first non-blank line; it is the first line of nearly every playlist.
    first = (
        0 if raws and raws[0].strip() else next((i for i, r in enumerate(raws) if r.strip()), None)
    )
    if first is None or raws[first].rstrip("\r") != "#EXTM3U":
        # RFC 8216 §4.3.1.1: the first line MUST be #EXTM3U.
        raise ManifestError(
            1 if first is None else first + 1, "playlist does not start with #EXTM3U"
        )
    uris = [i for i, raw in enumerate(raws) if raw and raw[0] != "#" and not raw.isspace()]
    # Plain substring tests first: the anchored regex only runs on likely multivariants.
    multivariant = _likely_multivariant(text) and bool(_MULTIVARIANT_LINE.search(text))
    if multivariant and _MEDIA_LINE.search(text):
        _refuse_mixed(raws)
    crlf = raws[first].endswith("\r")
    if multivariant:
        lines = [classify(raw, i) for i, raw in enumerate(raws, 1)]
        return _multivariant(lines, prefix, crlf, final_newline)
    return _media(raws, uris, prefix, crlf, final_newline)


def _refuse_mixed(raws: list[str]) -> None:
    """BIS §4.4.4/§4.4.6: clients MUST fail on a playlist that is both kinds."""
    first: dict[str, int] = {}
    for i, raw in enumerate(raws):
        name = tag_name(raw)
        for kind, names in (("multivariant", MULTIVARIANT_TAGS), ("media", MEDIA_TAGS)):
            if name in names:
                first.setdefault(kind, i)
    clash = max(first.values())
    raise ManifestError(clash + 1, f"#{tag_name(raws[clash])} in a playlist of the other kind")


def _line_pattern(names: frozenset[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(name) for name in sorted(names))
    return re.compile(rf"^#(?:{alternatives})[ \t]*(?::|\r?$)", re.MULTILINE)


_MULTIVARIANT_LINE = _line_pattern(MULTIVARIANT_TAGS)
# "#EXT-X-MEDIA" is also the start of "#EXT-X-MEDIA-SEQUENCE", in every live playlist: it
# is told apart by counting, so the regex does not run on every media playlist.
# One search for the other names: a regex of literal alternatives is faster than several
# substring tests.
_MULTIVARIANT_HINT = re.compile(
    "|".join(re.escape(f"#{name}") for name in sorted(MULTIVARIANT_TAGS - {"EXT-X-MEDIA"}))
)


def _likely_multivariant(text: str) -> bool:
    """Whether ``text`` may hold a multivariant tag line (never False when it does)."""
    if _MULTIVARIANT_HINT.search(text):
        return True
    return text.count("#EXT-X-MEDIA") > text.count("#EXT-X-MEDIA-SEQUENCE")


_MEDIA_LINE = _line_pattern(MEDIA_TAGS)
_INF = float("inf")


def _media(
    raws: list[str], uris: list[int], prefix: str, crlf: bool, final_newline: bool
) -> MediaPlaylist:
    head_end, head_tags = _head_end(raws, uris[0] if uris else len(raws))
    segments: list[Segment] = []
    tagged: list[int] = []  # segments with more lines than EXTINF and URI
    # Read on the way over the tagged segments' lines, so nothing walks them again: where
    # playlist tags stand among them, and the lines that can carry cues (``cue_lines``).
    seen = _Seen([], [])
    # One EXTINF line (duration and title) is repeated on most segments: read it once.
    extinfs: dict[str, tuple[float, str]] = {}
    start = head_end
    for end in uris:
        extinf = raws[start]
        known = extinfs.get(extinf) if end - start == 1 else None
        if known is None and end - start == 1 and extinf.startswith("#EXTINF:"):
            known = extinfs[extinf] = _extinf(extinf, start + 1)
        if known is not None:
            # The common case, EXTINF then URI, read inline: this loop is the hot path.
            uri = raws[end]
            segment = Segment((extinf, uri), uri.strip(), *known, False, start + 1)
        else:
            index = len(segments)
            segment = _tagged_segment(raws[start : end + 1], start + 1, index, extinfs, seen)
            tagged.append(index)
        segments.append(segment)
        start = end + 1
    facts = _media_facts(raws, head_tags, start, seen.facts)
    if "target_duration" not in facts:
        where = segments[0].number if segments else len(raws)
        raise ManifestError(where, "media playlist without #EXT-X-TARGETDURATION")
    playlist = MediaPlaylist(
        head=tuple(raws[:head_end]),
        segments=tuple(segments),
        tail=tuple(raws[start:]),
        prefix=prefix,
        crlf=crlf,
        final_newline=final_newline,
        **facts,  # type: ignore[arg-type]
    )
    playlist.remember(tagged_segments, tuple(tagged))
    tail = [(len(segments), raw) for raw in playlist.tail if raw.startswith(CUE_PREFIXES)]
    playlist.remember(cue_lines, (*seen.cues, *tail))
    record_parsed(playlist, raws)
    return playlist


class _Seen(NamedTuple):
    """What ``_media`` notes in the tagged segments' lines."""

    facts: list[int]  # where lines that may be playlist tags stand in the source
    cues: list[tuple[int, str]]  # ``cue_lines`` of the segments


def _tagged_segment(
    raw: list[str], number: int, index: int, extinfs: dict[str, tuple[float, str]], seen: _Seen
) -> Segment:
    """``Segment.of(raw, number)`` for a segment with more lines than EXTINF and URI, its
    EXTINF read through the parse's memo of them: a live window's break segments (cue
    tags) are the tagged ones, and their EXTINF is the one every segment repeats. Its lines
    that may be playlist tags or cues are noted in ``seen``."""
    extinf = None
    discontinuity = False
    for i, line in enumerate(raw):
        if not line.startswith("#EXT"):
            continue  # the URI, comments
        if line.startswith("#EXTINF:"):
            extinf = i
        elif line.startswith(CUE_PREFIXES):
            seen.cues.append((index, line))
        elif line.startswith(_NOTED):  # else: most other segment tags
            if line.startswith(_FACT_PREFIXES):
                seen.facts.append(number - 1 + i)
            elif tag_name(line) == "EXT-X-DISCONTINUITY":
                discontinuity = True
    if extinf is None:
        return Segment.of(raw, number)  # raises the precise error
    line = raw[extinf]
    known = extinfs.get(line)
    if known is None:
        known = extinfs[line] = _extinf(line, number + extinf)
    uri = raw[-1]
    return Segment(tuple(raw), uri.strip(), *known, discontinuity, number)


def _extinf(raw: str, number: int) -> tuple[float, str]:
    """Duration and title of an EXTINF line (a fast path of ``parse_extinf``)."""
    duration_text, _, title = raw[8:].partition(",")
    try:
        duration = float(duration_text)
    except ValueError:
        duration = -1.0
    if not 0 <= duration < _INF:
        parse_extinf(raw, number)  # raises the precise error
    return duration, title.removesuffix("\r")


def _head_end(raws: list[str], stop: int) -> tuple[int, list[tuple[int, str]]]:
    """Head: up to the last playlist tag before the first segment-level line; and where its
    playlist tags stand, with their names (for ``_media_facts``)."""
    end = 0
    named: list[tuple[int, str]] = []
    for i in range(stop):
        raw = raws[i]
        if raw.startswith("#EXT"):
            # A lookup settles the usual spelling; tag_name reads any other (spaces, CR).
            name = _HEADER_NAMES.get(raw.partition(":")[0]) or tag_name(raw)
            if name not in HEADER_TAGS:
                break
            named.append((i, name))
            end = i + 1
    else:
        if stop == len(raws):
            end = stop
    return end, named


def _media_facts(
    raws: list[str], head: list[tuple[int, str]], tail_start: int, among_segments: list[int]
) -> dict[str, object]:
    """Playlist-wide facts, read from the head's tags (``_head_end``), the tail and the
    lines of ``raws`` at ``among_segments`` (the segments' lines that may be playlist
    tags); the first one wins."""
    facts: dict[str, object] = {}
    named: Iterable[tuple[int, str]] = head
    if tail_start < len(raws) or among_segments:  # rare in a live window
        others = chain(range(tail_start, len(raws)), among_segments)
        named = chain(head, ((i, _fact_name(raws[i])) for i in others))
    for i, name in named:
        fact = _MEDIA_FACTS.get(name)
        if fact is not None:
            key, read = fact
            value = raws[i].partition(":")[2].removesuffix("\r")  # as classify(raw).value
            facts.setdefault(key, read(value, i + 1))
    return facts


def _fact_name(raw: str) -> str:
    """The tag name of a line that may be a playlist tag, else ""."""
    return tag_name(raw) if raw.startswith(_FACT_PREFIXES) else ""


def _int(text: str, line: int, what: str) -> int:
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        raise ManifestError(line, f"{what} is not a decimal integer: {text!r}")
    return int(text)


def _skipped(value: str, line: int) -> int:
    count = parse_attributes(value, line).get("SKIPPED-SEGMENTS")
    if count is None:
        raise ManifestError(line, "EXT-X-SKIP without SKIPPED-SEGMENTS")
    return _int(count, line, "SKIPPED-SEGMENTS")


def _part_target(value: str, line: int) -> float:
    target = parse_attributes(value, line).get("PART-TARGET")
    if target is None:
        raise ManifestError(line, "EXT-X-PART-INF without PART-TARGET")
    return parse_float(target, line, "PART-TARGET")


def _integer(what: str) -> Callable[[str, int], int]:
    return lambda value, line: _int(value, line, what)


def _target_duration(value: str, line: int) -> int:
    # Lenient: a few packagers write "10.0"; the value is an integer (BIS §4.4.3.1).
    return round(parse_float(value, line, "TARGETDURATION"))


# The MediaPlaylist field each playlist tag sets, and how its value (what follows the
# first ":") reads.
_MEDIA_FACTS: dict[str, tuple[str, Callable[[str, int], object]]] = {
    "EXT-X-VERSION": ("version", _integer("VERSION")),
    "EXT-X-TARGETDURATION": ("target_duration", _target_duration),
    "EXT-X-MEDIA-SEQUENCE": ("media_sequence", _integer("MEDIA-SEQUENCE")),
    "EXT-X-DISCONTINUITY-SEQUENCE": ("discontinuity_sequence", _integer("DISCONTINUITY-SEQUENCE")),
    "EXT-X-PLAYLIST-TYPE": ("playlist_type", lambda value, line: value.strip()),
    "EXT-X-ENDLIST": ("endlist", lambda value, line: True),
    "EXT-X-I-FRAMES-ONLY": ("i_frames_only", lambda value, line: True),
    "EXT-X-PART-INF": ("part_target", _part_target),
    "EXT-X-SKIP": ("skipped", _skipped),
}
# A cheap first filter: the other lines skip tag_name and the lookup.
_FACT_PREFIXES = tuple(f"#{name}" for name in _MEDIA_FACTS)
_HEADER_NAMES = {f"#{name}": name for name in HEADER_TAGS}
# The lines of a tagged segment ``_tagged_segment`` looks at beyond its EXTINF and cues.
_NOTED = ("#EXT-X-DISCONTINUITY", *_FACT_PREFIXES)


def _multivariant(
    lines: list[Line], prefix: str, crlf: bool, final_newline: bool
) -> MultivariantPlaylist:
    items: list[Item] = []
    version = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.name == "EXT-X-VERSION" and version is None:
            version = _int(line.value, line.number, "VERSION")
        if line.name != "EXT-X-STREAM-INF":
            if line.kind is Kind.URI:
                raise ManifestError(line.number, "URI line without #EXT-X-STREAM-INF")
            items.append(line)
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].kind is not Kind.URI:
            if lines[j].kind is Kind.TAG:
                raise ManifestError(line.number, "#EXT-X-STREAM-INF not followed by its URI")
            j += 1
        if j == len(lines):
            raise ManifestError(line.number, "#EXT-X-STREAM-INF without a URI line")
        items.append(Variant(line, tuple(lines[i + 1 : j]), lines[j]))
        i = j + 1
    return MultivariantPlaylist(tuple(items), version, prefix, crlf, final_newline)
