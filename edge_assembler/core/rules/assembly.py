"""Content-shaping actions (DESIGN §5): a recap or bumper before or after the content
(``insert``), the composition of content ranges and modules (``compose``) and the trim
to a session length (``trim``)."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Final, Literal

from edge_assembler.core.edits.compose import Compose, Range
from edge_assembler.core.edits.seams import SELF
from edge_assembler.core.edits.splice import InsertRun
from edge_assembler.core.edits.trim import Trim
from edge_assembler.core.rules.facts import Kind
from edge_assembler.core.rules.matchers import BY_SESSION, bucket
from edge_assembler.core.rules.planning import (
    MEDIA,
    SLACK,
    CAsset,
    Planner,
    Planning,
    Ref,
    Skip,
    runs_json,
    vod,
)
from edge_assembler.core.rules.schema import Module

_ROLE_ORDER: Final = {"ad": 0, "bumper": 1, "recap": 2}  # before/after the content


@dataclass(frozen=True, slots=True)
class InsertPlan(Planner):
    name: ClassVar[str] = "insert"
    kinds: ClassVar[frozenset[Kind]] = MEDIA

    ref: Ref
    role: str
    position: str

    def plan(self, p: Planning, rule: str) -> bool:
        vod(p, f"a {self.role}")
        p.claim(f"{self.role}:{self.position}", rule, f"the {self.position} {self.role}")
        asset = self.ref.resolve(p)
        url = p.allowed(asset)
        p.show(asset, url)
        runs = (
            InsertRun(
                source=asset.id,
                source_url=url,
                position=self.position,  # type: ignore[arg-type]  # "pre" | "post"
                role=self.role,  # type: ignore[arg-type]  # "recap" | "bumper"
            ),
        )
        p.place(self.position, _ROLE_ORDER[self.role], 0.0, runs, runs_json(runs, self.position))
        return True


# -- composition -------------------------------------------------------------------------


class PartPlan(ABC):
    __slots__ = ()

    @abstractmethod
    def ranges(self, p: Planning) -> list[Range]: ...


@dataclass(frozen=True, slots=True)
class ContentPlan(PartPlan):
    start: float
    end: float | None

    def ranges(self, p: Planning) -> list[Range]:
        end = p.facts.duration if self.end is None else self.end
        if end is None:
            raise Skip("the content's duration is unknown")
        if end <= self.start:
            raise Skip(f"content range {self.start:g}-{end:g} s is empty")
        return [Range(source=SELF, source_url="", start=self.start, end=end)]


def _module_range(p: Planning, asset: CAsset, module: Module) -> Range:
    url = p.allowed(asset)
    p.show(asset, url)
    role: Literal["content", "recap"] = "content"
    if asset.kind == "recap" or module.kind == "recap":
        role = "recap"
    return Range(source=asset.id, source_url=url, start=module.start, end=module.end, role=role)


def _within(p: Planning, found: list[tuple[CAsset, Module]], limit: float | None) -> list[Range]:
    out, total = [], 0.0
    for asset, module in found:
        length = module.end - module.start
        if limit is not None and total + length > limit + SLACK:
            continue
        try:
            out.append(_module_range(p, asset, module))
        except Skip as skip:
            p.notes.append(str(skip))
            continue
        total += length
    if not out:
        raise Skip("no module fits" if found else "no module matches")
    return out


@dataclass(frozen=True, slots=True)
class ModulesPlan(PartPlan):
    ref: Ref
    module_kind: str | None
    tags: frozenset[str]
    max_duration: float | None

    def ranges(self, p: Planning) -> list[Range]:
        asset = self.ref.resolve(p)
        found = [
            (asset, m)
            for m in asset.modules
            if (self.module_kind is None or m.kind == self.module_kind)
            and self.tags.issubset(m.tags)
        ]
        return _within(p, found, self.max_duration)


@dataclass(frozen=True, slots=True)
class HighlightsPlan(PartPlan):
    pool: tuple[tuple[CAsset, Module], ...]  # modules of the kind, by asset id then start
    tags: frozenset[str]
    by_interests: bool
    max_duration: float

    def ranges(self, p: Planning) -> list[Range]:
        interests = p.ctx.interests
        if self.by_interests and not interests:
            raise Skip("the viewer states no interests")
        found = [
            (asset, m)
            for asset, m in self.pool
            if self.tags.issubset(m.tags)
            and (not self.by_interests or any(t in interests for t in m.tags))
        ]
        return _within(p, found, self.max_duration)


@dataclass(frozen=True, slots=True)
class ChoicePlan(PartPlan):
    param: str
    options: tuple[tuple[str, Ref, str], ...]  # (value, asset, module id), by value
    default: str | None
    key: bytes | None  # cohort key when a salt is given

    def ranges(self, p: Planning) -> list[Range]:
        value = p.ctx.hint("choice", self.param)
        chosen = next((o for o in self.options if o[0] == value), None)
        if chosen is None and self.key is not None:
            chosen = self.options[bucket(p.ctx.session_id, self.key, n=len(self.options))]
            p.memo[BY_SESSION] = True
        if chosen is None:
            chosen = next((o for o in self.options if o[0] == self.default), None)
        if chosen is None:
            raise Skip(f"no choice {self.param} and no default")
        asset = chosen[1].resolve(p)
        module = next((m for m in asset.modules if m.id == chosen[2]), None)
        if module is None:
            raise Skip(f"asset {asset.id} has no module {chosen[2]}")
        return [_module_range(p, asset, module)]


@dataclass(frozen=True, slots=True)
class ComposePlan(Planner):
    name: ClassVar[str] = "compose"
    kinds: ClassVar[frozenset[Kind]] = MEDIA

    parts: tuple[PartPlan, ...]

    def plan(self, p: Planning, rule: str) -> bool:
        vod(p, "a composition")
        p.claim("compose", rule, "the composition")
        ranges = [r for part in self.parts for r in part.ranges(p)]
        duration = sum(r.end - r.start for r in ranges)
        p.composed = (rule, Compose(ranges=tuple(ranges)), duration)
        return True


@dataclass(frozen=True, slots=True)
class TrimPlan(Planner):
    name: ClassVar[str] = "trim"
    kinds: ClassVar[frozenset[Kind]] = MEDIA

    seconds: float | None

    def plan(self, p: Planning, rule: str) -> bool:
        vod(p, "a trim")
        seconds = self.seconds if self.seconds is not None else p.ctx.session_length_hint
        if seconds is None:
            raise Skip("no session-length hint")
        content = p.content_duration()
        if content is not None and seconds >= content:
            raise Skip(f"the content ({content:g} s) fits in {seconds:g} s")
        p.claim("trim", rule, "the trim")
        p.trimmed = Trim(duration=seconds)
        return True
