"""What the rules know of an origin manifest: ``ManifestFacts``, derived from a parsed HLS
playlist or DASH MPD (the origin version, shared by every viewer; DESIGN §2)."""

from typing import Literal

import msgspec

from edge_assembler.core.dash.events import detect_breaks as dash_breaks
from edge_assembler.core.dash.model import Mpd
from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls.attributes import parse_attributes
from edge_assembler.core.hls.cues import detect_breaks as hls_breaks
from edge_assembler.core.hls.model import MediaPlaylist, MultivariantPlaylist, Playlist

Format = Literal["hls", "dash"]
Kind = Literal["multivariant", "media", "mpd"]


class BreakFact(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A signalled ad break: its id (as the edits name it), start and planned duration."""

    id: str
    start: float
    duration: float | None = None


class ManifestFacts(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The origin manifest of one request, as the rules see it.

    ``rendition`` is the path of a media playlist relative to its presentation
    ("720p/index.m3u8"): asset URLs containing ``{rendition}`` name the matching rendition
    of an ad or recap. ``duration`` is ``None`` when unknown (multivariant, open live)."""

    format: Format
    kind: Kind
    path: str
    live: bool = False
    duration: float | None = None
    breaks: tuple[BreakFact, ...] = ()
    audio_languages: tuple[str, ...] = ()
    subtitle_languages: tuple[str, ...] = ()
    rendition: str | None = None


def hls_facts(
    playlist: Playlist, *, path: str, live: bool = False, rendition: str | None = None
) -> ManifestFacts:
    """Facts of an HLS playlist. A multivariant playlist does not say whether the
    presentation is live: the caller does (``live``); a media playlist says it itself."""
    if isinstance(playlist, MultivariantPlaylist):
        audio, subtitles = _hls_languages(playlist)
        return ManifestFacts(
            format="hls",
            kind="multivariant",
            path=path,
            live=live,
            audio_languages=audio,
            subtitle_languages=subtitles,
        )
    return _media_facts(playlist, path, rendition)


def _media_facts(playlist: MediaPlaylist, path: str, rendition: str | None) -> ManifestFacts:
    duration, breaks = playlist.fact(_media_shape)
    return ManifestFacts(
        format="hls",
        kind="media",
        path=path,
        live=playlist.live,
        duration=duration,
        breaks=breaks,
        rendition=rendition,
    )


def _media_shape(playlist: MediaPlaylist) -> tuple[float | None, tuple[BreakFact, ...]]:
    """A media playlist's duration (None when live) and breaks: a fact of the parsed
    playlist, computed once for all its viewers (a 1 h VOD has 600 segments to add up)."""
    starts = playlist.starts()
    breaks = tuple(
        BreakFact(
            id=b.id,
            # A live window opening inside a break: its start, before the window.
            start=(starts[b.start_index] if b.start_index < len(starts) else playlist.duration)
            - b.elapsed_before_window,
            duration=b.signalled_duration,
        )
        for b in hls_breaks(playlist)
    )
    return (None if playlist.live else playlist.duration), breaks


def _hls_languages(playlist: MultivariantPlaylist) -> tuple[tuple[str, ...], tuple[str, ...]]:
    found: dict[str, dict[str, None]] = {"AUDIO": {}, "SUBTITLES": {}}
    for line in playlist.renditions:
        try:
            attrs = parse_attributes(line.value, line.number)
        except ManifestError:  # a tag the edits would refuse too: no facts from it
            continue
        kind, language = attrs.get("TYPE"), attrs.get("LANGUAGE")
        if kind in found and language:
            found[kind][language] = None
    return tuple(found["AUDIO"]), tuple(found["SUBTITLES"])


def dash_facts(mpd: Mpd, *, path: str) -> ManifestFacts:
    """Facts of an MPD: a dynamic MPD is live; breaks as ``dash.events`` detects them."""
    languages: dict[str, dict[str, None]] = {"audio": {}, "text": {}}
    for period in mpd.periods:
        for adaptation_set in period.adaptation_sets:
            kind, lang = adaptation_set.content_type, adaptation_set.lang
            if kind in languages and lang:
                languages[kind][lang] = None
    return ManifestFacts(
        format="dash",
        kind="mpd",
        path=path,
        live=mpd.dynamic,
        duration=None if mpd.dynamic else mpd.media_presentation_duration,
        breaks=tuple(
            BreakFact(id=b.id, start=b.start, duration=b.duration) for b in dash_breaks(mpd)
        ),
        audio_languages=tuple(languages["audio"]),
        subtitle_languages=tuple(languages["text"]),
    )
