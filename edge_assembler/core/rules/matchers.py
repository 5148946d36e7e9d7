"""Compiled matchers, and the bit-mask index that keeps most of them off the request path.

Rules are numbered in evaluation order; a set of rules is an ``int`` with bit ``i`` for
rule ``i``. The conditions with a closed set of values (format, live, country, device,
first language, stream, path) are precomputed into masks: ``Index.candidates`` is a
handful of dict lookups and ANDs. The rest (time window, cohort, session length, history,
choices, consent, accessibility, interests) are ``Check`` objects run for the candidates
only. Every condition also explains itself (``why_not``) for the decision trace.
"""

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from hashlib import blake2b
from typing import Final

from edge_assembler.core.context import ViewerContext
from edge_assembler.core.edits.renditions import ISO_639_2
from edge_assembler.core.rules.facts import ManifestFacts

BUCKETS: Final = 10_000  # cohort resolution: 0.01 %
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PATHS_KEPT: Final = 4096  # path -> mask memo entries before it starts over

Memo = dict[object, object]
# Set in a decide call's memo when the session id chose something (a cohort, a pod
# rotation, a choice by cohort): the plan is then the session's own, not one that every
# request with the same URL and context headers gets (``Decision.by_session``).
BY_SESSION: Final = "by-session"


def primary_language(tag: str) -> str:
    """The primary subtag, lower case, ISO 639-2 read as ISO 639-1 ("eng" is "en")."""
    primary = tag.partition("-")[0].lower()
    return ISO_639_2.get(primary, primary)


def bucket(session_id: str, key: bytes, salt: str = "", n: int = BUCKETS) -> int:
    """The keyed BLAKE2b bucket of ``session_id`` (and ``salt``) among ``n``: the same in
    every process (never Python's ``hash()``)."""
    return keyed_bucket(keyed(key), session_id, salt, n)


def keyed(key: bytes) -> blake2b:
    """The hash state ``bucket`` starts from for ``key``: compiled once per rule."""
    return blake2b(key=key, digest_size=8)


def keyed_bucket(start: blake2b, session_id: str, salt: str = "", n: int = BUCKETS) -> int:
    """``bucket`` from the state ``keyed`` made (copied, never changed)."""
    state = start.copy()
    state.update(f"{session_id}\x00{salt}".encode())
    return int.from_bytes(state.digest(), "big") % n


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A path glob: ``**`` any characters, ``*`` and ``?`` within one path segment,
    ``[abc]``/``[!abc]`` a character class. ``ValueError`` for an unclosed class."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) else i + 1)
            if end < 0:
                raise ValueError(f"unclosed '[' in glob {pattern!r}")
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = (body[1:] if negate else body).replace("\\", "\\\\").replace("[", "\\[")
            body = "\\" + body if body.startswith("^") else body
            out.append(f"[^/{body}]" if negate else f"[{body}]")
            i = end + 1
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(char) or re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


def _listed(values: Iterable[object]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


# -- checks run per candidate ------------------------------------------------------------


class Check(ABC):
    """A condition evaluated per request; ``holds`` is the fast path, ``why_not`` the
    trace (``None`` when it holds). ``memo`` is per request (local times, buckets)."""

    __slots__ = ()

    @abstractmethod
    def holds(self, facts: ManifestFacts, ctx: ViewerContext, memo: Memo) -> bool: ...

    @abstractmethod
    def explain(self, facts: ManifestFacts, ctx: ViewerContext) -> str: ...

    def why_not(self, facts: ManifestFacts, ctx: ViewerContext) -> str | None:
        return None if self.holds(facts, ctx, {}) else self.explain(facts, ctx)


@dataclass(frozen=True, slots=True)
class TimeCheck(Check):
    zone: tzinfo
    zone_name: str
    start: int  # minutes after midnight
    end: int  # exclusive; 1440 for "24:00"; < start for a window across midnight
    days: frozenset[int]  # datetime.weekday() values; empty: every day

    def holds(self, facts: ManifestFacts, ctx: ViewerContext, memo: Memo) -> bool:
        local = memo.get(self.zone)
        if not isinstance(local, datetime):
            local = memo[self.zone] = ctx.now.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        if self.start < self.end:
            inside = self.start <= minute < self.end
        else:  # across midnight: the part after midnight belongs to the previous day
            inside = minute >= self.start or minute < self.end
            if minute < self.end:
                day = (day - 1) % 7
        return inside and (not self.days or day in self.days)

    def explain(self, facts: ManifestFacts, ctx: ViewerContext) -> str:
        local = ctx.now.astimezone(self.zone)
        days = f" on {','.join(WEEKDAYS[d] for d in sorted(self.days))}" if self.days else ""
        window = f"{_clock(self.start)}-{_clock(self.end)}{days}"
        when = f"{local:%H:%M} {WEEKDAYS[local.weekday()]}"
        return f"match.time: {when} in {self.zone_name} outside {window}"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class CohortCheck(Check):
    salt: str
    key: bytes
    low: int  # buckets [low, high)
    high: int
    start: blake2b = field(compare=False)  # keyed(key)

    def holds(self, facts: ManifestFacts, ctx: ViewerContext, memo: Memo) -> bool:
        found = memo.get(self.key)  # rules with the same salt share the bucket
        if isinstance(found, int):
            value = found
        else:
            value = memo[self.key] = keyed_bucket(self.start, ctx.session_id)
            memo[BY_SESSION] = True
        return self.low <= value < self.high

    def explain(self, facts: ManifestFacts, ctx: ViewerContext) -> str:
        value = keyed_bucket(self.start, ctx.session_id) / 100
        span = f"[{self.low / 100:g}, {self.high / 100:g})"
        return f"match.cohort: bucket {value:.2f} % outside {span} % (salt {self.salt})"


@dataclass(frozen=True, slots=True)
class SessionCheck(Check):
    low: float | None
    high: float | None

    def holds(self, facts: ManifestFacts, ctx: ViewerContext, memo: Memo) -> bool:
        hint = ctx.session_length_hint
        return (
            hint is not None
            and (self.low is None or hint >= self.low)
            and (self.high is None or hint <= self.high)
        )

    def explain(self, facts: ManifestFacts, ctx: ViewerContext) -> str:
        hint = ctx.session_length_hint
        span = f"[{self.low or 0:g}, {'∞' if self.high is None else f'{self.high:g}'}] s"
        if hint is None:
            return "match.session_length: no session-length hint"
        return f"match.session_length: {hint:g} s outside {span}"


@dataclass(frozen=True, slots=True)
class HintCheck(Check):
    """A history hint or a choice with one of ``values`` (``None``: any value)."""

    namespace: str  # "history" | "choice"
    name: str
    values: frozenset[str] | None

    def holds(self, facts: ManifestFacts, ctx: ViewerContext, memo: Memo) -> bool:
        value = ctx.hint("history" if self.namespace == "history" else "choice", self.name)
        return value is not None and (self.values is None or value in self.values)

    def explain(self, facts: ManifestFacts, ctx: ViewerContext) -> str:
        value = ctx.hint("history" if self.namespace == "history" else "choice", self.name)
        wanted = "any value" if self.values is None else _listed(sorted(self.values))
        return f"match.{self.namespace}.{self.name}: {value or 'none'} not in {wanted}"


@dataclass(frozen=True, slots=True)
class ConsentCheck(Check):
    flags: tuple[str, ...]

    def holds(self, facts: ManifestFacts, ctx: ViewerContext, memo: Memo) -> bool:
        return all(flag in ctx.consent for flag in self.flags)

    def explain(self, facts: ManifestFacts, ctx: ViewerContext) -> str:
        missing = [flag for flag in self.flags if flag not in ctx.consent]
        return f"match.consent: {', '.join(missing)} not granted"


@dataclass(frozen=True, slots=True)
class AnyOfCheck(Check):
    """One of ``values`` among the viewer's accessibility needs or interests."""

    field: str  # "accessibility" | "interests"
    values: frozenset[str]

    def holds(self, facts: ManifestFacts, ctx: ViewerContext, memo: Memo) -> bool:
        have: tuple[str, ...] = getattr(ctx, self.field)
        return any(value in self.values for value in have)

    def explain(self, facts: ManifestFacts, ctx: ViewerContext) -> str:
        have: tuple[str, ...] = getattr(ctx, self.field)
        return f"match.{self.field}: {_listed(have)} has none of {_listed(sorted(self.values))}"


# -- conditions indexed into masks -------------------------------------------------------

Key = Callable[[ManifestFacts, ViewerContext], object]


def _first_language(facts: ManifestFacts, ctx: ViewerContext) -> object:
    return primary_language(ctx.languages[0]) if ctx.languages else None


# name -> (the request's value, how it is shown in a trace)
KEYS: Final[dict[str, Key]] = {
    "format": lambda facts, ctx: facts.format,
    "live": lambda facts, ctx: facts.live,
    "country": lambda facts, ctx: ctx.country,
    "device": lambda facts, ctx: ctx.device,
    "language": _first_language,
    "stream": lambda facts, ctx: ctx.stream_id,
}


@dataclass(frozen=True, slots=True)
class Indexed:
    """A condition of one rule on an indexed key: the value is one of ``allowed`` (when
    given) and none of ``denied``."""

    name: str
    allowed: frozenset[object] | None
    denied: frozenset[object] = frozenset()

    def why_not(self, facts: ManifestFacts, ctx: ViewerContext) -> str | None:
        value = KEYS[self.name](facts, ctx)
        shown = "unknown" if value is None else str(value).lower() if self.name == "live" else value
        if self.allowed is not None and value not in self.allowed:
            return f"match.{self.name}: {shown} not in {_listed(sorted(map(str, self.allowed)))}"
        if value in self.denied:
            return f"match.not_{self.name}: {shown} in {_listed(sorted(map(str, self.denied)))}"
        return None


@dataclass(frozen=True, slots=True)
class PathCondition:
    globs: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]

    def why_not(self, facts: ManifestFacts, ctx: ViewerContext) -> str | None:
        if any(p.match(facts.path) for p in self.patterns):
            return None
        return f"match.path: {facts.path} not in {_listed(self.globs)}"


Condition = Indexed | PathCondition | Check


@dataclass(frozen=True, slots=True)
class _Dimension:
    key: Key
    free: int  # the rules this key does not constrain
    masks: dict[object, int]  # value -> the rules that hold for it (incl. ``free``)


@dataclass(frozen=True, slots=True)
class Index:
    """The rules that hold for a request on every indexed condition, as a bit mask."""

    everything: int
    dimensions: tuple[_Dimension, ...]
    path_free: int
    paths: tuple[tuple[re.Pattern[str], int], ...]  # glob -> the rules it lets through
    _path_masks: dict[str, int] = field(default_factory=dict, compare=False)

    def candidates(self, facts: ManifestFacts, ctx: ViewerContext) -> int:
        mask = self.everything
        for dim in self.dimensions:
            mask &= dim.masks.get(dim.key(facts, ctx), dim.free)
            if not mask:
                return 0
        if self.paths:
            mask &= self._path_mask(facts.path)
        return mask

    def _path_mask(self, path: str) -> int:
        found = self._path_masks.get(path)
        if found is None:
            found = self.path_free
            for pattern, bits in self.paths:
                if pattern.match(path):
                    found |= bits
            if len(self._path_masks) >= _PATHS_KEPT:
                self._path_masks.clear()
            self._path_masks[path] = found
        return found


def build_index(conditions: Sequence[Sequence[Condition]]) -> Index:
    """The index of rules numbered as ``conditions`` (one sequence per rule)."""
    everything = (1 << len(conditions)) - 1
    dimensions = []
    for name, key in KEYS.items():
        constrained = [
            (1 << i, c)
            for i, conds in enumerate(conditions)
            for c in conds
            if isinstance(c, Indexed) and c.name == name
        ]
        if not constrained:
            continue
        free = everything
        for bit, _ in constrained:
            free &= ~bit
        values = {v for _, c in constrained for v in (*(c.allowed or ()), *c.denied)}
        masks = {}
        for value in values:
            mask = free
            for bit, c in constrained:
                if (c.allowed is None or value in c.allowed) and value not in c.denied:
                    mask |= bit
            masks[value] = mask
        # A value no rule names passes the rules that only deny values.
        free |= sum(bit for bit, c in constrained if c.allowed is None)
        dimensions.append(_Dimension(key, free, masks))
    path_free = everything
    globs: dict[str, tuple[re.Pattern[str], int]] = {}
    for i, conds in enumerate(conditions):
        for cond in conds:
            if isinstance(cond, PathCondition):
                path_free &= ~(1 << i)
                for glob, pattern in zip(cond.globs, cond.patterns, strict=True):
                    globs[glob] = (pattern, globs.get(glob, (pattern, 0))[1] | 1 << i)
    return Index(everything, tuple(dimensions), path_free, tuple(globs.values()))
