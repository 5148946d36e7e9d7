"""Shared inputs of the rules tests: a catalogue, contexts and manifest facts."""

from datetime import UTC, datetime
from typing import Any

import msgspec

from edge_assembler.core.context import ViewerContext
from edge_assembler.core.rules import CompiledRules, Decision, ManifestFacts, compile_documents

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)  # a Saturday

CATALOGUE = """
[[assets]]
id = "ad-1"
kind = "ad"
hls = "/ads/1/{rendition}"
dash = "https://ads.example/1.mpd"
duration = 15
tags = ["cars"]

[[assets]]
id = "ad-2"
kind = "ad"
hls = "/ads/2/{rendition}"
dash = "https://ads.example/2.mpd"
duration = 15
tags = ["cars"]

[[assets]]
id = "ad-3"
kind = "ad"
hls = "/ads/3/{rendition}"
duration = 30
tags = ["food"]

[[assets]]
id = "ad-us"
kind = "ad"
hls = "/ads/us/{rendition}"
duration = 10
territories = ["US"]

[[assets]]
id = "ad-old"
kind = "ad"
hls = "/ads/old/{rendition}"
duration = 10
valid_until = 2026-01-01T00:00:00Z

[[assets]]
id = "slate"
kind = "slate"
hls = "/slate/{rendition}"
duration = 2

[[assets]]
id = "bumper"
kind = "bumper"
hls = "/bumper/{rendition}"
duration = 3

[[assets]]
id = "recap-e1"
kind = "recap"
hls = "/recaps/e1/{rendition}"
duration = 60

[[assets]]
id = "e1"
kind = "episode"
hls = "/shows/e1/{rendition}"
dash = "/dash/e1/manifest.mpd"
duration = 1200
modules = [
  { id = "cold-open", kind = "chapter", start = 0, end = 120, tags = ["story"] },
  { id = "fight", kind = "highlight", start = 300, end = 360, tags = ["action"] },
  { id = "kiss", kind = "highlight", start = 600, end = 640, tags = ["romance"] },
  { id = "recap", kind = "recap", start = 1100, end = 1160 },
]

[[assets]]
id = "e2"
kind = "episode"
hls = "/shows/e2/{rendition}"
duration = 1200
modules = [
  { id = "north", kind = "scene", start = 100, end = 200 },
  { id = "south", kind = "scene", start = 200, end = 300 },
  { id = "chase", kind = "highlight", start = 900, end = 960, tags = ["action"] },
]

[[assets]]
id = "dub-fr"
kind = "audio"
hls = "/tracks/fr/index.m3u8"
dash = "https://tracks.example/fr.mpd"
rendition = { language = "fr", name = "Français", channels = "2", group = "aud" }

[[assets]]
id = "subs-de"
kind = "subtitles"
hls = "/tracks/de/subs.m3u8"
rendition = { language = "de", name = "Deutsch" }
"""


def compile_toml(rules: str, *, catalogue: str = CATALOGUE) -> CompiledRules:
    return compile_documents(
        [("rules/catalogue.toml", catalogue.encode()), ("rules/test.toml", rules.encode())]
    )


def ctx(**changes: Any) -> ViewerContext:
    base: dict[str, Any] = {"path": "/shows/e3/720p/index.m3u8", "now": NOW, "session_id": "s-1"}
    return ViewerContext(**(base | changes))


def media(**changes: Any) -> ManifestFacts:
    base: dict[str, Any] = {
        "format": "hls",
        "kind": "media",
        "path": "/shows/e3/720p/index.m3u8",
        "duration": 1200.0,
        "rendition": "720p/index.m3u8",
    }
    return ManifestFacts(**(base | changes))


def multivariant(**changes: Any) -> ManifestFacts:
    base: dict[str, Any] = {
        "format": "hls",
        "kind": "multivariant",
        "path": "/shows/e3/master.m3u8",
        "audio_languages": ("en",),
        "subtitle_languages": ("en",),
    }
    return ManifestFacts(**(base | changes))


def mpd(**changes: Any) -> ManifestFacts:
    base: dict[str, Any] = {
        "format": "dash",
        "kind": "mpd",
        "path": "/dash/e3/manifest.mpd",
        "duration": 1200.0,
        "audio_languages": ("en",),
    }
    return ManifestFacts(**(base | changes))


def edits(decision: Decision) -> list[dict[str, Any]]:
    """The edits as JSON data, without the fields left at None."""
    data: list[dict[str, Any]] = msgspec.json.decode(msgspec.json.encode(decision.edits))
    return [{k: v for k, v in edit.items() if v is not None} for edit in data]


def reason(decision: Decision, rule: str) -> str:
    entry = next(e for e in decision.trace if e.rule == rule)
    return entry.reason or "; ".join(entry.notes)
