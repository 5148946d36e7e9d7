"""Track and variant actions on multivariant playlists and MPDs (DESIGN §5): add an
audio or subtitles track, prefer or drop languages, prefer accessible tracks, cap the
variants."""

from dataclasses import dataclass
from typing import ClassVar, Final

from edge_assembler.core.edits.renditions import (
    AddRendition,
    DropRenditions,
    PreferAccessibility,
    PreferLanguages,
)
from edge_assembler.core.edits.variants import FilterVariants
from edge_assembler.core.rules.facts import Kind
from edge_assembler.core.rules.matchers import primary_language
from edge_assembler.core.rules.planning import TRACKS, Planner, Planning, Ref, Skip

_TRACK_TYPE: Final = {"audio": "AUDIO", "subtitles": "SUBTITLES"}


@dataclass(frozen=True, slots=True)
class AddTrackPlan(Planner):
    name: ClassVar[str] = "add_track"
    kinds: ClassVar[frozenset[Kind]] = TRACKS

    ref: Ref
    default: bool

    def plan(self, p: Planning, rule: str) -> bool:
        asset = self.ref.resolve(p)
        r = asset.rendition
        assert r is not None  # compile: audio and subtitles assets have a rendition
        kind = asset.kind
        present = p.facts.audio_languages if kind == "audio" else p.facts.subtitle_languages
        language = primary_language(r.language)
        if any(primary_language(lang) == language for lang in present):
            raise Skip(f"{kind} in {r.language} already present")
        p.claim(f"track:{kind}:{language}", rule, f"the {kind} track in {r.language}")
        url = p.allowed(asset)
        p.show(asset, None)
        if p.facts.format == "dash":
            p.needs[url] = url  # the MPD edit reads the track's MPD by its URL
        p.tracks.append(
            AddRendition(
                type=_TRACK_TYPE[kind],  # type: ignore[arg-type]  # "AUDIO" | "SUBTITLES"
                group_id=r.group,
                language=r.language,
                name=r.name,
                uri=url,
                default=self.default,
                characteristics=r.characteristics,
                channels=r.channels,
                forced=r.forced,
                bandwidth=r.bandwidth,
                codecs=r.codecs,
            )
        )
        return True


@dataclass(frozen=True, slots=True)
class PreferPlan(Planner):
    name: ClassVar[str] = "prefer_languages"
    kinds: ClassVar[frozenset[Kind]] = TRACKS

    type: str
    languages: tuple[str, ...]

    def plan(self, p: Planning, rule: str) -> bool:
        languages = self.languages or p.ctx.languages
        if not languages:
            raise Skip("the viewer states no language")
        p.claim(f"prefer:{self.type}", rule, f"the {self.type} language")
        p.tracks.append(
            PreferLanguages(type=_TRACK_TYPE[self.type], languages=languages)  # type: ignore[arg-type]
        )
        return True


@dataclass(frozen=True, slots=True)
class DropPlan(Planner):
    name: ClassVar[str] = "drop_languages"
    kinds: ClassVar[frozenset[Kind]] = TRACKS

    type: str
    languages: frozenset[str]  # primary subtags
    keep: frozenset[str] | None

    def plan(self, p: Planning, rule: str) -> bool:
        facts = p.facts
        present = facts.audio_languages if self.type == "audio" else facts.subtitle_languages
        if self.keep is not None:
            drop = tuple(lang for lang in present if primary_language(lang) not in self.keep)
        else:
            drop = tuple(lang for lang in present if primary_language(lang) in self.languages)
        if not drop:
            raise Skip(f"no {self.type} language to drop")
        edit = DropRenditions(type=_TRACK_TYPE[self.type], languages=drop)  # type: ignore[arg-type]
        p.tracks.append(edit)
        return True


@dataclass(frozen=True, slots=True)
class AccessPlan(Planner):
    name: ClassVar[str] = "prefer_accessibility"
    kinds: ClassVar[frozenset[Kind]] = TRACKS

    audio_description: bool | None
    sdh: bool | None

    def plan(self, p: Planning, rule: str) -> bool:
        needs = p.ctx.accessibility
        described = self.audio_description
        sdh = self.sdh
        if described is None:
            described = "audio-description" in needs
        if sdh is None:
            sdh = "sdh" in needs
        if not (described or sdh):
            raise Skip("no accessibility need")
        p.claim("accessibility", rule, "the accessibility preference")
        p.tracks.append(PreferAccessibility(audio_description=described, sdh=sdh))
        return True


@dataclass(frozen=True, slots=True)
class VariantsPlan(Planner):
    name: ClassVar[str] = "cap_variants"
    kinds: ClassVar[frozenset[Kind]] = TRACKS

    edit: FilterVariants

    def plan(self, p: Planning, rule: str) -> bool:
        p.tracks.append(self.edit)
        return True
