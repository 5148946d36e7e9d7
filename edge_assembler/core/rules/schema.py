"""The rules language: documents of assets and rules, as msgspec Structs (DESIGN §5).

Documents are TOML or JSON; each holds ``assets`` and ``rules``. Every Struct forbids
unknown fields, actions are tagged by ``kind`` and composition parts by ``take``. What a
type cannot say (a mid-roll needs ``at``, a window's hours, asset references) is checked
by ``compile``. ``python -m edge_assembler.core.rules`` prints the JSON Schema kept in
``rules/schema.json``.
"""

from datetime import datetime
from typing import Annotated, Final, Literal

import msgspec

from edge_assembler.core.context import Country, Device, LangTag, Need

SUPPORTED_SCHEMA_VERSIONS: Final = (1, 1)

Id = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$", max_length=128)]
# An asset id that may name a viewer's history hint or choice: "recap-{history.last_episode}".
AssetRef = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^([A-Za-z0-9._:-]|\{(history|choice)\.[A-Za-z0-9_-]+\})+$", max_length=128
    ),
]
Tag = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=64)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=r'^[^"\r\n]*$')]
Seconds = Annotated[float, msgspec.Meta(ge=0)]
Positive = Annotated[int, msgspec.Meta(gt=0)]
# An absolute http(s) URL or an origin path; "{rendition}" stands for the media
# playlist the content request is for (ManifestFacts.rendition).
Url = Annotated[str, msgspec.Meta(pattern=r"^(https?://[^\s/]+|/)[^\s]*$", max_length=2048)]
Clock = Annotated[str, msgspec.Meta(pattern=r"^\d\d:\d\d$")]  # "HH:MM", 24 h
Salt = Annotated[str, msgspec.Meta(pattern=r"^[!-~]{1,64}$")]  # a BLAKE2b key: ≤ 64 bytes
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
Layer = Literal["editorial", "targeted", "default"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TrackType = Literal["audio", "subtitles"]
CodecFamily = Literal[
    "avc", "hevc", "dolby-vision", "av1", "vp8", "vp9", "vvc",
    "aac", "mp3", "ac-3", "ec-3", "ac-4", "opus", "flac", "alac", "mpeg-h", "dts",
    "webvtt", "imsc",
]  # fmt: skip


class Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


# -- assets ------------------------------------------------------------------------------


class Rendition(Base, frozen=True):
    """How an audio or subtitle track asset appears in a multivariant playlist / MPD."""

    language: LangTag
    name: Text
    characteristics: Text | None = None
    channels: Text | None = None
    group: Text | None = None  # the group it joins; every group of its type when absent
    forced: bool = False
    bandwidth: Positive | None = None
    codecs: Text | None = None


class Module(Base, frozen=True):
    """A tagged time range of an asset (seconds from its start)."""

    id: Id
    kind: Literal["chapter", "scene", "highlight", "recap"]
    start: Seconds
    end: Seconds
    tags: tuple[Tag, ...] = ()


class Asset(Base, frozen=True):
    """Something a plan can put in front of a viewer, with its rights."""

    id: Id
    kind: Literal["ad", "recap", "bumper", "slate", "episode", "programme", "audio", "subtitles"]
    hls: Url | None = None
    dash: Url | None = None
    duration: Seconds | None = None
    tags: tuple[Tag, ...] = ()
    rendition: Rendition | None = None  # audio and subtitles assets
    modules: tuple[Module, ...] = ()
    territories: tuple[Country, ...] = ()  # allowed; empty: everywhere
    denied_territories: tuple[Country, ...] = ()
    valid_from: Instant | None = None
    valid_until: Instant | None = None  # exclusive


# -- matchers ----------------------------------------------------------------------------


class TimeWindow(Base, frozen=True):
    """Local time of day ``start``..``end`` (end exclusive; a window may pass midnight;
    "24:00" ends at midnight) in the IANA zone ``tz``, on ``days`` (all when empty)."""

    start: Clock
    end: Clock
    tz: str = "UTC"
    days: tuple[Weekday, ...] = ()


class Cohort(Base, frozen=True):
    """Sessions whose bucket (keyed BLAKE2b of the session id, key ``salt``; 10 000
    buckets) lies in ``[offset, offset + percent)`` percent."""

    salt: Salt
    percent: Annotated[float, msgspec.Meta(gt=0, le=100)]
    offset: Annotated[float, msgspec.Meta(ge=0, lt=100)] = 0


class SessionLength(Base, frozen=True):
    """The viewer's session-length hint in ``[min, max]`` seconds; no hint never matches."""

    min: Seconds | None = None
    max: Seconds | None = None


class Match(Base, frozen=True):
    """All given conditions must hold; an empty match holds for every request."""

    path: tuple[str, ...] = ()  # globs: "*" within a path segment, "**" across them
    stream: tuple[str, ...] = ()
    format: tuple[Literal["hls", "dash"], ...] = ()
    live: bool | None = None
    country: tuple[Country, ...] = ()
    not_country: tuple[Country, ...] = ()
    device: tuple[Device, ...] = ()
    language: tuple[LangTag, ...] = ()  # the viewer's first preference, primary subtag
    accessibility: tuple[Need, ...] = ()  # any of these needs
    time: TimeWindow | None = None
    cohort: Cohort | None = None
    session_length: SessionLength | None = None
    history: dict[str, tuple[str, ...]] = {}  # hint -> accepted values ("*": any value)
    choice: dict[str, tuple[str, ...]] = {}  # choice param -> accepted values ("*": any)
    consent: tuple[str, ...] = ()  # every flag granted
    interests: tuple[Tag, ...] = ()  # any of these interests


# -- actions -----------------------------------------------------------------------------


class Action(Base, frozen=True, tag_field="kind"):
    pass


class AdBreak(Action, tag="ad_break", frozen=True):
    """An ad pod at a slot: ``pre``/``post`` roll, ``mid`` at ``at`` seconds of content,
    or at every signalled break (``cues``: replaced, or ``cue_mode = "insert"`` before it).
    The pod is ``pod`` (asset ids, in order) or ``count`` ads tagged with all of ``tags``,
    rotated per session; it stops before ``max_duration`` (or the break) is exceeded.
    ``pin`` (editorial rules only) gives everyone the same pod and keeps other rules off
    the slot. ``mode = "interstitial"`` schedules HLS interstitials instead of splicing."""

    slot: Literal["pre", "mid", "post", "cues"]
    at: Seconds | None = None
    pod: tuple[Id, ...] = ()
    tags: tuple[Tag, ...] = ()
    count: Positive = 1
    max_duration: Seconds | None = None
    slate: Id | None = None
    cue_mode: Literal["replace", "insert"] = "replace"
    mode: Literal["splice", "interstitial"] = "splice"
    pin: bool = False


class InsertAsset(Action, tag="insert", frozen=True):
    """A recap or bumper before (or after) the content."""

    role: Literal["recap", "bumper"]
    asset: AssetRef
    position: Literal["pre", "post"] = "pre"


class ModuleRef(Base, frozen=True):
    asset: AssetRef
    module: Id


class Part(Base, frozen=True, tag_field="take"):
    pass


class ContentPart(Part, tag="content", frozen=True):
    """Seconds ``start``..``end`` of the content itself (``end``: its end)."""

    start: Seconds = 0
    end: Seconds | None = None


class ModulesPart(Part, tag="modules", frozen=True):
    """The modules of one asset with ``module_kind`` and all of ``tags``, in time order,
    while they fit in ``max_duration``: e.g. a recap cut from the last episode seen."""

    asset: AssetRef
    module_kind: Literal["chapter", "scene", "highlight", "recap"] | None = None
    tags: tuple[Tag, ...] = ()
    max_duration: Seconds | None = None


class HighlightsPart(Part, tag="highlights", frozen=True):
    """Modules of ``module_kind`` from every catalogue asset with all of ``tags`` and (with
    ``by_interests``) a tag among the viewer's interests, by asset id then start time,
    while they fit in ``max_duration``."""

    max_duration: Seconds
    module_kind: Literal["chapter", "scene", "highlight", "recap"] = "highlight"
    tags: tuple[Tag, ...] = ()
    by_interests: bool = True


class ChoicePart(Part, tag="choice", frozen=True):
    """One module among ``options``, by the viewer's choice ``param``; without one, by
    cohort (keyed hash with ``salt``) when given, else ``default``."""

    param: str
    options: dict[str, ModuleRef]
    default: str | None = None
    salt: Salt | None = None


AnyPart = ContentPart | ModulesPart | HighlightsPart | ChoicePart


class ComposeParts(Action, tag="compose", frozen=True):
    """Build the presentation from parts: recaps, highlight reels, branching scenes."""

    parts: Annotated[tuple[AnyPart, ...], msgspec.Meta(min_length=1)]


class AddTrack(Action, tag="add_track", frozen=True):
    """Add an audio or subtitle track asset (a dub, subtitles) to the presentation."""

    asset: AssetRef
    default: bool = False


class PreferLanguage(Action, tag="prefer_languages", frozen=True):
    """Make ``languages`` (the viewer's preferences when empty) the default of ``type``."""

    type: TrackType = "audio"
    languages: tuple[LangTag, ...] = ()


class DropLanguages(Action, tag="drop_languages", frozen=True):
    """Drop renditions of ``type`` in ``languages``, or in every language but ``keep``
    (e.g. languages not licensed here)."""

    type: TrackType = "audio"
    languages: tuple[LangTag, ...] = ()
    keep: tuple[LangTag, ...] = ()


class PreferAccess(Action, tag="prefer_accessibility", frozen=True):
    """Default to audio description / SDH subtitles; each ``None`` follows the viewer."""

    audio_description: bool | None = None
    sdh: bool | None = None


class CapVariants(Action, tag="cap_variants", frozen=True):
    max_height: Positive | None = None
    max_bandwidth: Positive | None = None
    drop_codecs: tuple[CodecFamily, ...] = ()
    only_codecs: tuple[CodecFamily, ...] = ()


class TrimTo(Action, tag="trim", frozen=True):
    """Cut a VOD to ``seconds``, or to the viewer's session-length hint."""

    seconds: Seconds | None = None


class FrequencyCap(Action, tag="cap", frozen=True):
    """Editorial: at most ``max`` showings per session of each asset in ``assets`` and of
    the assets tagged with each of ``tags`` (earlier showings: ViewerContext.exposures)."""

    max: Annotated[int, msgspec.Meta(ge=0)]
    assets: tuple[Id, ...] = ()
    tags: tuple[Tag, ...] = ()


AnyAction = (
    AdBreak
    | InsertAsset
    | ComposeParts
    | AddTrack
    | PreferLanguage
    | DropLanguages
    | PreferAccess
    | CapVariants
    | TrimTo
    | FrequencyCap
)


class Rule(Base, frozen=True):
    """When ``match`` holds, do ``actions``. Rules run by layer (editorial, targeted,
    default), then higher ``priority``, then ``id``."""

    id: Id
    actions: Annotated[tuple[AnyAction, ...], msgspec.Meta(min_length=1)]
    layer: Layer = "targeted"
    priority: int = 0
    match: Match = Match()
    description: str = ""


class Document(Base, frozen=True):
    """One rules file of a bundle."""

    assets: tuple[Asset, ...] = ()
    rules: tuple[Rule, ...] = ()


def json_schema() -> bytes:
    """The JSON Schema of a document, as kept in ``rules/schema.json``."""
    schema = msgspec.json.schema(Document)
    return msgspec.json.format(msgspec.json.encode(schema), indent=2) + b"\n"
