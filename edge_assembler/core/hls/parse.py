"""Bytes to playlist model. Lenient where players are lenient; anything else is a
ManifestError naming the line."""

import re
from collections.abc import Callable

from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls.attributes import parse_attributes
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
# BIS §4.4.4: tags only a media playlist carries (segment tags and media playlist tags).
MEDIA_TAGS = frozenset(
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
    first = next((i for i, raw in enumerate(raws) if raw.strip()), None)
    if first is None or raws[first].rstrip("\r") != "#EXTM3U":
        # RFC 8216 §4.3.1.1: the first line MUST be #EXTM3U.
        raise ManifestError(
            1 if first is None else first + 1, "playlist does not start with #EXTM3U"
        )
    uris = [i for i, raw in enumerate(raws) if raw and raw[0] != "#" and not raw.isspace()]
    # Plain substring tests first: the anchored regex only runs on likely multivariants.
    multivariant = any(name in text for name in _MULTIVARIANT_HINTS) and bool(
        _MULTIVARIANT_LINE.search(text)
    )
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
_MULTIVARIANT_HINTS = tuple(f"#{name}" for name in sorted(MULTIVARIANT_TAGS))
_MEDIA_LINE = _line_pattern(MEDIA_TAGS)
_INF = float("inf")


def _media(
    raws: list[str], uris: list[int], prefix: str, crlf: bool, final_newline: bool
) -> MediaPlaylist:
    head_end = _head_end(raws, uris[0] if uris else len(raws))
    segments: list[Segment] = []
    start = head_end
    for end in uris:
        extinf = raws[start]
        if end - start == 1 and extinf.startswith("#EXTINF:"):
            # The common case, EXTINF then URI, read inline: this loop is the hot path.
            duration_text, _, title = extinf[8:].partition(",")
            try:
                duration = float(duration_text)
            except ValueError:
                duration = -1.0
            if not 0 <= duration < _INF:
                parse_extinf(extinf, start + 1)  # raises the precise error
            title = title.removesuffix("\r")
            uri = raws[end]
            segments.append(Segment((extinf, uri), uri.strip(), duration, title, False, start + 1))
        else:
            segments.append(Segment.of(raws[start : end + 1], start + 1))
        start = end + 1
    facts = _media_facts(raws, segments, head_end, start)
    if "target_duration" not in facts:
        where = segments[0].number if segments else len(raws)
        raise ManifestError(where, "media playlist without #EXT-X-TARGETDURATION")
    return MediaPlaylist(
        head=tuple(raws[:head_end]),
        segments=tuple(segments),
        tail=tuple(raws[start:]),
        prefix=prefix,
        crlf=crlf,
        final_newline=final_newline,
        **facts,  # type: ignore[arg-type]
    )


def _head_end(raws: list[str], stop: int) -> int:
    """Head: up to the last playlist tag before the first segment-level line."""
    end = 0
    for i in range(stop):
        raw = raws[i]
        if raw.startswith("#EXT"):
            if tag_name(raw) not in HEADER_TAGS:
                break
            end = i + 1
    else:
        if stop == len(raws):
            end = stop
    return end


def _media_facts(
    raws: list[str], segments: list[Segment], head_end: int, tail_start: int
) -> dict[str, object]:
    """Playlist-wide facts, read from the head, the tail and any segment with extra lines."""
    facts: dict[str, object] = {}
    places = [range(head_end), range(tail_start, len(raws))]
    places += [range(s.number - 1, s.number - 1 + len(s.raw)) for s in segments if len(s.raw) > 2]
    for place in places:
        for i in place:
            raw = raws[i]
            if not raw.startswith("#EXT"):
                continue
            reader = _MEDIA_FACTS.get(tag_name(raw))
            if reader is not None:
                key, value = reader(classify(raw, i + 1))
                facts.setdefault(key, value)
    return facts


def _int(text: str, line: int, what: str) -> int:
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        raise ManifestError(line, f"{what} is not a decimal integer: {text!r}")
    return int(text)


def _skipped(line: Line) -> int:
    count = parse_attributes(line.value, line.number).get("SKIPPED-SEGMENTS")
    if count is None:
        raise ManifestError(line.number, "EXT-X-SKIP without SKIPPED-SEGMENTS")
    return _int(count, line.number, "SKIPPED-SEGMENTS")


def _part_target(line: Line) -> float:
    target = parse_attributes(line.value, line.number).get("PART-TARGET")
    if target is None:
        raise ManifestError(line.number, "EXT-X-PART-INF without PART-TARGET")
    return parse_float(target, line.number, "PART-TARGET")


_MEDIA_FACTS: dict[str, Callable[[Line], tuple[str, object]]] = {
    "EXT-X-VERSION": lambda line: ("version", _int(line.value, line.number, "VERSION")),
    "EXT-X-TARGETDURATION": lambda line: (
        "target_duration",
        # Lenient: a few packagers write "10.0"; the value is an integer (BIS §4.4.3.1).
        round(parse_float(line.value, line.number, "TARGETDURATION")),
    ),
    "EXT-X-MEDIA-SEQUENCE": lambda line: (
        "media_sequence",
        _int(line.value, line.number, "MEDIA-SEQUENCE"),
    ),
    "EXT-X-DISCONTINUITY-SEQUENCE": lambda line: (
        "discontinuity_sequence",
        _int(line.value, line.number, "DISCONTINUITY-SEQUENCE"),
    ),
    "EXT-X-PLAYLIST-TYPE": lambda line: ("playlist_type", line.value.strip()),
    "EXT-X-ENDLIST": lambda line: ("endlist", True),
    "EXT-X-I-FRAMES-ONLY": lambda line: ("i_frames_only", True),
    "EXT-X-PART-INF": lambda line: ("part_target", _part_target(line)),
    "EXT-X-SKIP": lambda line: ("skipped", _skipped(line)),
}


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
