"""Matching an ad's ladder to the content's, rendition by rendition (sans I/O).

An ad named by its multivariant playlist may have another ladder than the content. Each
content media playlist is described from the content's multivariant playlist (``describe``)
and the ad's playlist that plays in its place is chosen from the ad's (``choose``):

* a variant (BIS §4.4.6.2 EXT-X-STREAM-INF): the nearest BANDWIDTH within the same codec
  family (CODECS: avc1/avc3 are "avc", hvc1/hev1 "hevc") and resolution class (RESOLUTION:
  SD up to 576 lines, HD 720, FHD 1080, UHD above), else within the same family, else any;
* an audio rendition (BIS §4.4.6.1 EXT-X-MEDIA TYPE=AUDIO): the same LANGUAGE and CHANNELS,
  else the same LANGUAGE, else a DEFAULT=YES rendition, else the first;
* a subtitles rendition (TYPE=SUBTITLES): the same LANGUAGE, else none: the ad's seams are
  then padded with empty WebVTT (``padding``) so that every rendition keeps the same
  discontinuities and duration.

A content playlist the multivariant playlist does not list (a track the rules added) is
taken by its nature: one of WebVTT segments is subtitles of an unknown language, padded.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

from edge_assembler.core.edits.renditions import language as language_tag
from edge_assembler.core.edits.scopes import line_body, resolve_uri, with_ending
from edge_assembler.core.hls.attributes import parse_attributes
from edge_assembler.core.hls.lines import tag_name
from edge_assembler.core.hls.model import MediaPlaylist, MultivariantPlaylist, Segment
from edge_assembler.core.hls.parse import parse

TrackKind = Literal["video", "audio", "subtitles"]

# RFC 6381 sample entries of the video codecs, by family (BIS §4.4.6.2 CODECS).
FAMILIES = {
    "avc1": "avc",
    "avc3": "avc",
    "hvc1": "hevc",
    "hev1": "hevc",
    "dvh1": "dolby-vision",
    "dvhe": "dolby-vision",
    "av01": "av1",
    "vp09": "vp9",
    "vp08": "vp8",
}
# The resolution classes, by the largest number of lines (the shorter side) they hold.
CLASSES = ((576, "SD"), (720, "HD"), (1080, "FHD"))
UHD = "UHD"
# Segment URI extensions of WebVTT subtitles (BIS §3.1.4).
WEBVTT_EXTENSIONS = (".vtt", ".webvtt")


@dataclass(frozen=True, slots=True)
class Track:
    """One playlist of a multivariant playlist, as matching sees it. ``uri`` is as written
    ("" for a playlist the multivariant playlist does not list). A "video" track is any
    variant (EXT-X-STREAM-INF), an audio-only one included."""

    kind: TrackKind
    uri: str
    bandwidth: int = 0
    family: str | None = None
    resolution: str | None = None
    language: str | None = None  # the primary language subtag, lower case
    channels: int | None = None
    default: bool = False


UNLISTED_SUBTITLES = Track("subtitles", "")


def tracks(playlist: MultivariantPlaylist) -> tuple[Track, ...]:
    """The audio and subtitles renditions with a URI, then the variants, in playlist order.
    A URI listed both ways (an audio-only variant of an audio rendition) is described by the
    rendition first. Use it as ``playlist.fact(tracks)``."""
    out: list[Track] = []
    for line in playlist.renditions:
        attributes = parse_attributes(line.value, line.number)
        kind = (attributes.get("TYPE") or "").strip().upper()
        uri = attributes.get("URI")
        if uri is None or kind not in ("AUDIO", "SUBTITLES"):
            continue  # BIS §4.4.6.1: no URI means the media is in the variants' streams
        out.append(
            Track(
                "audio" if kind == "AUDIO" else "subtitles",
                uri,
                language=_language(attributes.get("LANGUAGE")),
                channels=_channels(attributes.get("CHANNELS")) if kind == "AUDIO" else None,
                default=(attributes.get("DEFAULT") or "").strip().upper() == "YES",
            )
        )
    for variant in playlist.variants:
        attributes = variant.attributes()
        bandwidth = attributes.number("BANDWIDTH")
        out.append(
            Track(
                "video",
                variant.uri,
                bandwidth=int(bandwidth) if bandwidth is not None else 0,
                family=family(attributes.get("CODECS")),
                resolution=resolution_class(attributes.get("RESOLUTION")),
            )
        )
    return tuple(out)


def family(codecs: str | None) -> str | None:
    """The video codec family of a CODECS value ("avc1.64001f,mp4a.40.2" -> "avc"); None
    for no video codec (an audio-only variant) or no CODECS."""
    for codec in (codecs or "").split(","):
        entry = codec.strip().partition(".")[0].lower()
        if entry in FAMILIES:
            return FAMILIES[entry]
    return None


def resolution_class(resolution: str | None) -> str | None:
    """The class of a RESOLUTION value ("1280x720" -> "HD") by its shorter side; None when
    absent or malformed."""
    width, _, height = (resolution or "").lower().partition("x")
    if not (width.strip().isdigit() and height.strip().isdigit()):
        return None
    lines = min(int(width), int(height))
    return next((name for most, name in CLASSES if lines <= most), UHD)


def describe(master: MultivariantPlaylist, master_uri: str, playlist_uri: str) -> Track | None:
    """The track of ``master`` (at ``master_uri``) whose URI resolves to ``playlist_uri``;
    None when it lists no such playlist."""
    for track in master.fact(tracks):
        if urljoin(master_uri, track.uri) == playlist_uri:
            return track
    return None


def identify(
    master: MultivariantPlaylist, master_uri: str, playlist_uri: str, playlist: MediaPlaylist
) -> Track | None:
    """``describe``, else, for a playlist the master does not list, its nature: WebVTT
    segments are subtitles of an unknown language (``UNLISTED_SUBTITLES``)."""
    track = describe(master, master_uri, playlist_uri)
    if track is None and is_webvtt(playlist):
        return UNLISTED_SUBTITLES
    return track


def is_webvtt(playlist: MediaPlaylist) -> bool:
    """Whether every segment of ``playlist`` (at least one) is a WebVTT document, by the
    extension of its URI's path."""
    return bool(playlist.segments) and all(
        urlsplit(s.uri).path.lower().endswith(WEBVTT_EXTENSIONS) for s in playlist.segments
    )


def choose(track: Track, ad: MultivariantPlaylist, ad_uri: str) -> str | None:
    """The URI (resolved against ``ad_uri``) of the playlist of ``ad`` that plays in place
    of ``track``; None when there is none (subtitles: pad; else the ad cannot play here)."""
    candidates = [t for t in ad.fact(tracks) if t.kind == track.kind]
    match track.kind:
        case "video":
            chosen = _video(track, candidates)
        case "audio":
            chosen = _audio(track, candidates)
        case "subtitles":
            chosen = _subtitles(track, candidates)
    return None if chosen is None else urljoin(ad_uri, chosen.uri)


def reference(ad: MultivariantPlaylist, ad_uri: str) -> str | None:
    """The URI of the ad's first variant: the playlist whose segments pace the padding."""
    variants = ad.variants
    return urljoin(ad_uri, variants[0].uri) if variants else None


def _video(track: Track, candidates: list[Track]) -> Track | None:
    """Nearest BANDWIDTH in the narrowest of: same family and class, same family, any
    (ties: the lower bandwidth, then the first listed)."""
    same_family = [t for t in candidates if t.family == track.family]
    same_class = [t for t in same_family if t.resolution == track.resolution]
    pool = same_class or same_family or candidates
    if not pool:
        return None
    return min(pool, key=lambda t: (abs(t.bandwidth - track.bandwidth), t.bandwidth))


def _audio(track: Track, candidates: list[Track]) -> Track | None:
    same_language = [t for t in candidates if t.language == track.language]
    return _first(
        (t for t in same_language if t.channels == track.channels),
        same_language,
        (t for t in candidates if t.default),
        candidates,
    )


def _subtitles(track: Track, candidates: list[Track]) -> Track | None:
    if track.language is None:
        return None  # an unknown language matches none: padding, not another language
    return _first(t for t in candidates if t.language == track.language)


def _first(*pools: Iterable[Track]) -> Track | None:
    for pool in pools:
        for track in pool:
            return track
    return None


def _language(value: str | None) -> str | None:
    return language_tag(value)[1] if value and value.strip() else None


def _channels(value: str | None) -> int | None:
    """BIS §4.4.6.1 CHANNELS: the first parameter is the count of audio channels."""
    count = (value or "").partition("/")[0].strip()
    return int(count) if count.isdigit() else None


# -- the ad's playlists as the splice reads them -----------------------------------------


def rebased(playlist: MediaPlaylist, uri: str) -> MediaPlaylist:
    """``playlist`` with its segment, KEY and MAP URIs resolved against its own ``uri``: a
    splice resolves them against the asset's catalogue URL (its multivariant playlist)."""
    crlf = playlist.crlf
    segments = tuple(_rebased(segment, uri, crlf) for segment in playlist.segments)
    return playlist.evolve(segments=segments)


def _rebased(segment: Segment, uri: str, crlf: bool) -> Segment:
    lines = []
    for raw in segment.raw[:-1]:
        if tag_name(raw) in ("EXT-X-KEY", "EXT-X-MAP"):
            raw = with_ending(resolve_uri(line_body(raw), uri), crlf)
        lines.append(raw)
    lines.append(with_ending(urljoin(uri, segment.uri), crlf))
    return Segment.of(lines)


def padding(video: MediaPlaylist, document_uri: str) -> MediaPlaylist:
    """A WebVTT subtitles playlist for an ad without subtitles: the segments (durations and
    discontinuities) of its ``video`` playlist, each the empty WebVTT document at
    ``document_uri`` (BIS §3.1.4: a WebVTT segment may hold no cue)."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{video.target_duration}",
        f"#EXT-X-MEDIA-SEQUENCE:{video.media_sequence}",
    ]
    if video.discontinuity_sequence:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{video.discontinuity_sequence}")
    if video.playlist_type is not None:
        lines.append(f"#EXT-X-PLAYLIST-TYPE:{video.playlist_type}")
    for segment in video.segments:
        if segment.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [f"#EXTINF:{_duration(segment)},", document_uri]
    if video.endlist:
        lines.append("#EXT-X-ENDLIST")
    playlist = parse(("\n".join(lines) + "\n").encode())
    assert isinstance(playlist, MediaPlaylist)  # only media playlist tags above
    return playlist


def _duration(segment: Segment) -> str:
    """The EXTINF duration as the source wrote it (the same float, the same text)."""
    extinf = next(raw for raw in segment.raw if raw.startswith("#EXTINF:"))  # Segment.of
    return extinf[8:].partition(",")[0].strip()


__all__ = [
    "UNLISTED_SUBTITLES",
    "Track",
    "TrackKind",
    "choose",
    "describe",
    "family",
    "identify",
    "is_webvtt",
    "padding",
    "rebased",
    "reference",
    "resolution_class",
    "tracks",
]
