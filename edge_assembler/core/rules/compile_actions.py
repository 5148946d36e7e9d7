"""Compile a rule's actions into planners (``ads``, ``assembly``, ``tracks``), checking
what the types cannot: references to assets of the right kind, which fields go together,
offsets beyond a known duration. Every error names the member and the JSON path."""

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final

from edge_assembler.core.edits.variants import FilterVariants
from edge_assembler.core.rules.ads import AdBreakPlan, CapPlan, rights_bounds
from edge_assembler.core.rules.assembly import (
    ChoicePlan,
    ComposePlan,
    ContentPlan,
    HighlightsPlan,
    InsertPlan,
    ModulesPlan,
    PartPlan,
    TrimPlan,
)
from edge_assembler.core.rules.errors import RulesError
from edge_assembler.core.rules.matchers import keyed, primary_language
from edge_assembler.core.rules.planning import CAsset, Planner, Ref
from edge_assembler.core.rules.schema import (
    AdBreak,
    AddTrack,
    AnyAction,
    AnyPart,
    CapVariants,
    ChoicePart,
    ComposeParts,
    ContentPart,
    DropLanguages,
    FrequencyCap,
    HighlightsPart,
    InsertAsset,
    ModulesPart,
    PreferAccess,
    PreferLanguage,
    Rule,
    TrimTo,
)
from edge_assembler.core.rules.tracks import (
    AccessPlan,
    AddTrackPlan,
    DropPlan,
    PreferPlan,
    VariantsPlan,
)

_PLACEHOLDER: Final = re.compile(r"\{(history|choice)\.([A-Za-z0-9_-]+)\}")
_AD: Final = frozenset({"ad"})
_SLATE: Final = frozenset({"slate", "ad"})
_MODULES: Final = frozenset({"episode", "programme", "recap"})
_TRACK: Final = frozenset({"audio", "subtitles"})


@dataclass(frozen=True, slots=True)
class Located:
    file: str
    path: str  # "$.rules[3]"

    def error(self, sub: str, message: str) -> RulesError:
        return RulesError("rules_invalid", self.file, self.path + sub, message)


@dataclass(frozen=True, slots=True)
class Scope:
    """What an action's checks need: the rule, its catalogue, where it is."""

    rule: Rule
    where: Located
    assets: dict[str, CAsset]

    def error(self, sub: str, message: str) -> RulesError:
        return self.where.error(sub, message)

    def asset(self, sub: str, name: str, kinds: frozenset[str]) -> CAsset:
        found = self.assets.get(name)
        if found is None:
            raise self.error(sub, f"no asset {name!r}")
        if found.kind not in kinds:
            raise self.error(sub, f"asset {name!r} is a {found.kind}, not a {_kinds(kinds)}")
        return found

    def ref(self, sub: str, text: str, kinds: frozenset[str]) -> Ref:
        pieces: list[str | tuple[Any, str]] = []
        last = 0
        for found in _PLACEHOLDER.finditer(text):
            pieces += [text[last : found.start()], (found[1], found[2])]
            last = found.end()
        pieces.append(text[last:])
        pieces = [p for p in pieces if p != ""]
        if len(pieces) == 1 and isinstance(pieces[0], str):
            self.asset(sub, text, kinds)
        else:
            pattern = re.compile(
                "".join(re.escape(p) if isinstance(p, str) else "[A-Za-z0-9._:-]+" for p in pieces)
            )
            if not any(pattern.fullmatch(a.id) and a.kind in kinds for a in self.assets.values()):
                raise self.error(sub, f"no {_kinds(kinds)} asset matches {text!r}")
        return Ref(text, tuple(pieces), kinds)

    def durations(self) -> list[tuple[str, float]]:
        """Known durations of the catalogue assets the rule's streams are."""
        out = []
        for stream in self.rule.match.stream:
            asset = self.assets.get(stream)
            if asset is not None and asset.duration is not None:
                out.append((stream, asset.duration))
        return out


def _kinds(kinds: frozenset[str]) -> str:
    return "/".join(sorted(kinds))


def compile_action(action: AnyAction, at: str, scope: Scope) -> Planner:
    match action:
        case AdBreak():
            return _ad_break(action, at, scope)
        case InsertAsset():
            ref = scope.ref(f"{at}.asset", action.asset, frozenset({action.role}))
            return InsertPlan(ref, action.role, action.position)
        case ComposeParts():
            parts = tuple(
                _part(part, f"{at}.parts[{i}]", scope) for i, part in enumerate(action.parts)
            )
            return ComposePlan(parts)
        case AddTrack():
            return AddTrackPlan(scope.ref(f"{at}.asset", action.asset, _TRACK), action.default)
        case PreferLanguage():
            return PreferPlan(action.type, action.languages)
        case DropLanguages():
            if bool(action.languages) == bool(action.keep):
                raise scope.error(at, "needs exactly one of languages and keep")
            keep = frozenset(map(primary_language, action.keep)) if action.keep else None
            return DropPlan(action.type, frozenset(map(primary_language, action.languages)), keep)
        case PreferAccess():
            return AccessPlan(action.audio_description, action.sdh)
        case CapVariants():
            edit = FilterVariants(
                max_height=action.max_height,
                max_bandwidth=action.max_bandwidth,
                drop_codecs=action.drop_codecs,
                only_codecs=action.only_codecs,
            )
            if edit == FilterVariants():
                raise scope.error(at, "caps nothing")
            return VariantsPlan(edit)
        case TrimTo():
            return TrimPlan(action.seconds)
        case FrequencyCap():
            return _cap(action, at, scope)


def _ad_break(action: AdBreak, at: str, scope: Scope) -> AdBreakPlan:
    if (action.slot == "mid") != (action.at is not None):
        raise scope.error(f"{at}.at", "needed by a mid-roll, and by it only")
    if bool(action.pod) == bool(action.tags):
        raise scope.error(at, "needs exactly one of pod and tags")
    if action.pin and scope.rule.layer != "editorial":
        raise scope.error(f"{at}.pin", "only editorial rules pin a slot")
    if action.slate is not None and action.slot != "cues":
        raise scope.error(f"{at}.slate", 'fills replaced breaks only (slot = "cues")')
    if action.at is not None:
        for stream, duration in scope.durations():
            if action.at >= duration:
                raise scope.error(
                    f"{at}.at", f"{action.at:g} s is beyond the {duration:g} s of {stream!r}"
                )
    pod = tuple(scope.asset(f"{at}.pod[{i}]", name, _AD) for i, name in enumerate(action.pod))
    pool = tuple(
        a
        for _, a in sorted(scope.assets.items())
        if a.kind == "ad" and set(action.tags).issubset(a.tags)
    )
    if action.tags and not pool:
        raise scope.error(f"{at}.tags", f"no ad asset is tagged {', '.join(action.tags)}")
    slate = None if action.slate is None else scope.asset(f"{at}.slate", action.slate, _SLATE)
    key = hashlib.blake2b(f"rotate/{scope.rule.id}".encode(), digest_size=32).digest()
    territorial, instants = rights_bounds((*pod, *pool))
    return AdBreakPlan(
        slot=action.slot,
        slot_key=action.slot if action.at is None else f"mid@{action.at:g}",
        at=action.at,
        pod=pod,
        pool=pool,
        count=action.count,
        max_duration=action.max_duration,
        slate=slate,
        cue_mode=action.cue_mode,
        mode=action.mode,
        pin=action.pin,
        rotor=keyed(key),
        territorial=territorial,
        instants=instants,
    )


def _part(part: AnyPart, at: str, scope: Scope) -> PartPlan:
    match part:
        case ContentPart():
            if part.end is not None and part.end <= part.start:
                raise scope.error(f"{at}.end", f"must be after start ({part.start:g} s)")
            return ContentPlan(part.start, part.end)
        case ModulesPart():
            ref = scope.ref(f"{at}.asset", part.asset, _MODULES)
            return ModulesPlan(ref, part.module_kind, frozenset(part.tags), part.max_duration)
        case HighlightsPart():
            pool = tuple(
                (a, m)
                for _, a in sorted(scope.assets.items())
                for m in a.modules
                if m.kind == part.module_kind
            )
            if not pool:
                raise scope.error(f"{at}.module_kind", f"no asset has a {part.module_kind} module")
            return HighlightsPlan(pool, frozenset(part.tags), part.by_interests, part.max_duration)
        case ChoicePart():
            return _choice(part, at, scope)


def _choice(part: ChoicePart, at: str, scope: Scope) -> ChoicePlan:
    if not part.options:
        raise scope.error(f"{at}.options", "needs at least one option")
    if part.default is not None and part.default not in part.options:
        raise scope.error(f"{at}.default", f"{part.default!r} is not an option")
    options = []
    for value, option in sorted(part.options.items()):
        sub = f"{at}.options.{value}"
        ref = scope.ref(f"{sub}.asset", option.asset, _MODULES)
        if len(ref.pieces) == 1:
            asset = scope.assets[option.asset]
            if all(m.id != option.module for m in asset.modules):
                raise scope.error(
                    f"{sub}.module", f"asset {asset.id!r} has no module {option.module!r}"
                )
        options.append((value, ref, option.module))
    key = None if part.salt is None else part.salt.encode()
    return ChoicePlan(part.param, tuple(options), part.default, key)


def _cap(action: FrequencyCap, at: str, scope: Scope) -> CapPlan:
    if scope.rule.layer != "editorial":
        raise scope.error(at, "only editorial rules cap personalisation")
    if not (action.assets or action.tags):
        raise scope.error(at, "needs assets or tags")
    for i, name in enumerate(action.assets):
        if name not in scope.assets:
            raise scope.error(f"{at}.assets[{i}]", f"no asset {name!r}")
    return CapPlan(action.max, (*action.assets, *action.tags))
