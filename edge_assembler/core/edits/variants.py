"""Variant edits of a multivariant playlist (BIS §4.4.6.2-3; SPEC_RULES 60-73), and the
consistency check every multivariant edit must pass."""

from collections.abc import Container, Sequence
from typing import Annotated, Literal

import msgspec

from edge_assembler.core.edits.base import Edit
from edge_assembler.core.edits.renditions import I_FRAME, Rendition, renditions
from edge_assembler.core.hls.attributes import Attributes, parse_attributes
from edge_assembler.core.hls.lines import Line
from edge_assembler.core.hls.model import MultivariantPlaylist, Variant

CodecFamily = Literal[
    "avc", "hevc", "dolby-vision", "av1", "vp8", "vp9", "vvc",
    "aac", "mp3", "ac-3", "ec-3", "ac-4", "opus", "flac", "alac", "mpeg-h", "dts",
    "webvtt", "imsc",
]  # fmt: skip
VIDEO: frozenset[CodecFamily] = frozenset(
    {"avc", "hevc", "dolby-vision", "av1", "vp8", "vp9", "vvc"}
)
# RFC 6381 CODECS entries by sample entry (the part before the first dot), lower case.
SAMPLE_ENTRIES: dict[str, CodecFamily] = {
    "avc1": "avc", "avc2": "avc", "avc3": "avc", "avc4": "avc",
    "hvc1": "hevc", "hev1": "hevc",
    "dvh1": "dolby-vision", "dvhe": "dolby-vision", "dva1": "dolby-vision",
    "dvav": "dolby-vision", "dav1": "dolby-vision",
    "av01": "av1", "vp08": "vp8", "vp09": "vp9", "vvc1": "vvc", "vvi1": "vvc",
    "mp4a": "aac", "ac-3": "ac-3", "ec-3": "ec-3", "ac-4": "ac-4", "opus": "opus",
    "flac": "flac", "alac": "alac", "mha1": "mpeg-h", "mhm1": "mpeg-h",
    "dtsc": "dts", "dtse": "dts", "dtsh": "dts", "dtsl": "dts", "dtsx": "dts",
    "wvtt": "webvtt", "stpp": "imsc",
}  # fmt: skip
# MPEG-1/2 layer III inside "mp4a" (RFC 6381 §3.3 object type indications).
WHOLE_CODECS: dict[str, CodecFamily] = {"mp4a.40.34": "mp3", "mp4a.69": "mp3", "mp4a.6b": "mp3"}
Positive = Annotated[int, msgspec.Meta(gt=0)]
Signature = tuple[str | None, tuple[str, ...], str, str]


def codec_family(codec: str) -> CodecFamily | None:
    codec = codec.strip().lower()
    return WHOLE_CODECS.get(codec) or SAMPLE_ENTRIES.get(codec.split(".", 1)[0])


def codecs(attrs: Attributes) -> list[str]:
    return [c.strip() for c in (attrs.get("CODECS") or "").split(",") if c.strip()]


class FilterVariants(Edit, tag="filter_variants", frozen=True):
    """Drop the variants above ``max_height`` (RESOLUTION) or ``max_bandwidth`` (BANDWIDTH),
    those with a CODECS format of a family in ``drop_codecs``, and, when ``only_codecs`` is
    given, those with a format of any other family. SUPPLEMENTAL-CODECS are not looked at:
    their base layer, in CODECS, plays without them (BIS §4.4.6.2). A variant without the
    attribute a test needs passes that test.

    A dropped EXT-X-STREAM-INF goes with its URI line. An I-frame variant follows the
    variants with its RESOLUTION, video formats, VIDEO-RANGE and PATHWAY-ID: it stays while
    one of them does (SPEC_RULES 68); one that matches no variant is judged by the same
    tests on its own attributes. The filter never empties a pathway (SPEC_RULES 70): when it
    would drop all the variants of one, that pathway keeps its lowest-BANDWIDTH variant.
    Rendition groups are kept even when no variant uses them any more; every reference
    that remains still resolves (SPEC_RULES 62).
    """

    max_height: Positive | None = None
    max_bandwidth: Positive | None = None
    drop_codecs: tuple[CodecFamily, ...] = ()
    only_codecs: tuple[CodecFamily, ...] = ()

    def admits(self, attrs: Attributes) -> bool:
        height = _height(attrs)
        bandwidth = attrs.number("BANDWIDTH")
        families = [codec_family(c) for c in codecs(attrs)]
        return not (
            (self.max_height is not None and height is not None and height > self.max_height)
            or (self.max_bandwidth is not None and (bandwidth or 0) > self.max_bandwidth)
            or any(family in self.drop_codecs for family in families)
            or (self.only_codecs and any(f not in self.only_codecs for f in families))
        )


def apply_filter_variants(
    playlist: MultivariantPlaylist, edit: FilterVariants
) -> MultivariantPlaylist:
    variants = [
        (i, item.attributes()) for i, item in enumerate(playlist.items) if isinstance(item, Variant)
    ]
    kept = {i for i, attrs in variants if edit.admits(attrs)}
    kept |= _fallbacks(variants, kept)
    everything = {_signature(attrs) for _, attrs in variants}
    remaining = {_signature(attrs) for i, attrs in variants if i in kept}
    dropped = {i for i, _ in variants if i not in kept}
    for i, item in enumerate(playlist.items):
        if isinstance(item, Line) and item.name == I_FRAME:
            attrs = parse_attributes(item.value, item.number)
            if not _stays(attrs, edit, everything, remaining):
                dropped.add(i)
    if not dropped:
        return playlist
    items = tuple(item for i, item in enumerate(playlist.items) if i not in dropped)
    return playlist.evolve(items=items)


def _stays(
    attrs: Attributes, edit: FilterVariants, everything: set[Signature], remaining: set[Signature]
) -> bool:
    """An I-frame variant stays with the variants it matches (SPEC_RULES 68); one that
    matches none is judged on its own attributes."""
    signature = _signature(attrs)
    return signature in remaining if signature in everything else edit.admits(attrs)


def _height(attrs: Attributes) -> int | None:
    _, _, height = (attrs.get("RESOLUTION") or "").lower().partition("x")
    return int(height) if height.strip().isdigit() else None


def _fallbacks(variants: Sequence[tuple[int, Attributes]], kept: set[int]) -> set[int]:
    """The lowest-BANDWIDTH variant of every pathway the filter would empty."""
    pathways: dict[str, list[tuple[int, Attributes]]] = {}
    for i, attrs in variants:
        pathways.setdefault(attrs.get("PATHWAY-ID") or ".", []).append((i, attrs))

    def cost(variant: tuple[int, Attributes]) -> tuple[float, int]:
        bandwidth = variant[1].number("BANDWIDTH")
        return float("inf") if bandwidth is None else bandwidth, variant[0]

    return {
        min(members, key=cost)[0]
        for members in pathways.values()
        if not any(i in kept for i, _ in members)
    }


def _signature(attrs: Attributes) -> Signature:
    video = sorted(c.lower() for c in codecs(attrs) if codec_family(c) in VIDEO)
    return (
        attrs.get("RESOLUTION"),
        tuple(video),
        attrs.get("VIDEO-RANGE") or "SDR",  # BIS §4.4.6.2: absence implies SDR
        attrs.get("PATHWAY-ID") or ".",  # BIS §4.4.6.2: absence is the pathway "."
    )


# -- consistency -------------------------------------------------------------------------

REFERENCES = ("AUDIO", "VIDEO", "SUBTITLES", "CLOSED-CAPTIONS")


def check_multivariant(playlist: MultivariantPlaylist) -> list[str]:
    """What breaks the rules a multivariant edit must keep, as readable problems (none when
    all hold): a variant without BANDWIDTH (SPEC_RULES 60), a group reference that names no
    group of its TYPE (SPEC_RULES 62), more than one DEFAULT=YES member, a NAME used twice
    or DEFAULT=YES with AUTOSELECT=NO in a group (SPEC_RULES 63), no variant at all."""
    by_group: dict[tuple[str, str], list[Rendition]] = {}
    for rendition in renditions(playlist):
        key = (rendition.attrs.get("TYPE") or "", rendition.group)
        by_group.setdefault(key, []).append(rendition)
    problems: list[str] = []
    for (media_type, group_id), members in by_group.items():
        problems += _group_problems(f'{media_type} group "{group_id}"', members)
    for variant in playlist.variants:
        where = f"variant {variant.uri}"
        problems += _variant_problems(where, variant.attributes(), by_group.keys(), REFERENCES)
    for line in playlist.i_frame_variants:
        attrs = parse_attributes(line.value, line.number)
        where = f"I-frame variant {attrs.get('URI')}"
        # BIS §4.4.6.3: I-frame variants take VIDEO but no AUDIO/SUBTITLES/CLOSED-CAPTIONS.
        problems += _variant_problems(where, attrs, by_group.keys(), ("VIDEO",))
        problems += [] if "URI" in attrs else [f"{where}: no URI"]
    if not playlist.variants:
        problems.append("no EXT-X-STREAM-INF variant")
    return problems


def _group_problems(where: str, members: Sequence[Rendition]) -> list[str]:
    defaults = [m for m in members if m.default]
    problems = [f"{where}: {len(defaults)} members with DEFAULT=YES"] if len(defaults) > 1 else []
    names = [m.name for m in members]
    for name in sorted({n for n in names if names.count(n) > 1}, key=str):
        problems.append(f'{where}: NAME "{name}" used {names.count(name)} times')
    for member in defaults:
        # BIS §4.4.6.1: if AUTOSELECT is present it MUST be YES when DEFAULT=YES.
        if member.attrs.get("AUTOSELECT") not in (None, "YES"):
            problems.append(f'{where}: "{member.name}" is DEFAULT=YES but not AUTOSELECT=YES')
    return problems


def _variant_problems(
    where: str, attrs: Attributes, known: Container[tuple[str, str]], references: Sequence[str]
) -> list[str]:
    problems = [] if "BANDWIDTH" in attrs else [f"{where}: no BANDWIDTH"]
    for attribute in references:
        value = attrs.get(attribute)
        # BIS §4.4.6.2: CLOSED-CAPTIONS=NONE is an enumerated-string, not a group.
        if value is None or (attribute == "CLOSED-CAPTIONS" and value == "NONE"):
            continue
        if (attribute, value) not in known:
            problems.append(f'{where}: {attribute}="{value}" names no {attribute} group')
    return problems
