"""``decide``: the plan for one request, from the manifest's facts, the viewer and the
rules (DESIGN §2). Pure and deterministic: no clock but ``ctx.now``, no randomness but
keyed hashes of the session id, so every node gives the same decision.

The request path is the index lookup (a few dict lookups and ANDs over bit masks), the
remaining checks of the candidate rules, and their actions. Why each other rule was
skipped is worked out only when ``Decision.trace`` is read (a debug endpoint, a dry run).
"""

from collections.abc import Mapping, Sequence
from hashlib import blake2b
from typing import Final, Literal

import msgspec

from edge_assembler.core.context import ViewerContext
from edge_assembler.core.edits import AnyEdit
from edge_assembler.core.rules.compile import CompiledRules, CRule
from edge_assembler.core.rules.facts import ManifestFacts
from edge_assembler.core.rules.matchers import BY_SESSION
from edge_assembler.core.rules.planning import Planning

_FINGERPRINTS_KEPT: Final = 1024  # plans whose fingerprints a rule set keeps
# Per matched rule (by number): whether an action did something, and the notes of those
# that did not.
_Outcomes = dict[int, tuple[bool, Sequence[str]]]


class TraceEntry(msgspec.Struct, frozen=True, kw_only=True):
    """What one rule did: ``fired`` (with notes on actions that did nothing) or
    ``skipped`` with the reason (the first condition that failed, or why no action
    applied)."""

    rule: str
    outcome: Literal["fired", "skipped"]
    reason: str = ""
    notes: tuple[str, ...] = ()


class Decision:
    """The plan for one request: ``edits`` in application order, ``needs`` (source key ->
    URL in the manifest's format, for the shell to fetch), the ``fired`` rule ids, a
    ``fingerprint`` of the edits (equal plans, equal fingerprints: the cohort cache key),
    ``by_session`` (the session id chose part of it: a cohort, a rotation) and the
    ``trace``."""

    __slots__ = ("_explained", "_inputs", "by_session", "edits", "fingerprint", "fired", "needs")

    def __init__(
        self,
        edits: tuple[AnyEdit, ...],
        needs: Mapping[str, str],
        fired: tuple[str, ...],
        fingerprint: str,
        inputs: tuple[ManifestFacts, ViewerContext, CompiledRules, _Outcomes],
        *,
        by_session: bool,
    ) -> None:
        self.edits = edits
        self.needs = needs
        self.fired = fired
        self.fingerprint = fingerprint
        self.by_session = by_session
        self._inputs = inputs
        self._explained: tuple[TraceEntry, ...] | None = None

    @property
    def trace(self) -> tuple[TraceEntry, ...]:
        if self._explained is None:
            self._explained = _explain(*self._inputs)
        return self._explained

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return (self.edits, dict(self.needs), self.fired, self.trace) == (
            other.edits,
            dict(other.needs),
            other.fired,
            other.trace,
        )

    __hash__ = None  # type: ignore[assignment]  # equal decisions need not hash alike

    def amended(
        self,
        edits: tuple[AnyEdit, ...],
        needs: Mapping[str, str],
        fired: tuple[str, ...],
        fingerprint: str,
    ) -> "Decision":
        """This decision with the plan the shell completed (a live stream's replacements,
        decided break by break); the trace stays this request's own."""
        return Decision(edits, needs, fired, fingerprint, self._inputs, by_session=self.by_session)

    def to_builtins(self) -> dict[str, object]:
        """The decision as JSON-ready data (a dry run, a debug endpoint)."""
        return {
            "fired": list(self.fired),
            "fingerprint": self.fingerprint,
            "by_session": self.by_session,
            "edits": msgspec.to_builtins(self.edits),
            "needs": dict(self.needs),
            "trace": msgspec.to_builtins(self.trace),
        }


def decide(facts: ManifestFacts, ctx: ViewerContext, rules: CompiledRules) -> Decision:
    """The plan for ``facts`` and ``ctx`` under ``rules``."""
    planning = Planning(facts, ctx, rules.assets)
    memo = planning.memo
    outcomes: _Outcomes = {}
    fired: list[str] = []
    crules = rules.rules
    mask = rules.index.candidates(facts, ctx)
    while mask:
        low = mask & -mask
        mask ^= low
        index = low.bit_length() - 1
        rule = crules[index]
        holds = True
        for check in rule.checks:
            if not check.holds(facts, ctx, memo):
                holds = False
                break
        if not holds:
            continue
        did = False
        for action in rule.actions:
            if action.run(planning, rule.id):
                did = True
        notes = planning.notes
        if notes:
            outcomes[index] = (did, notes)
            planning.notes = []
        else:
            outcomes[index] = (did, ())
        if did:
            fired.append(rule.id)
    edits, data = planning.result()
    return Decision(
        edits,
        planning.needs,
        tuple(fired),
        _fingerprint(data, rules),
        (facts, ctx, rules, outcomes),
        by_session=BY_SESSION in memo,
    )


def _fingerprint(data: bytes, rules: CompiledRules) -> str:
    """BLAKE2b-128 of the edits' JSON ``data`` (hex), kept by ``rules`` for plans seen
    before."""
    kept = rules.fingerprints
    found = kept.get(data)
    if found is None:
        found = blake2b(data, digest_size=16).hexdigest()
        if len(kept) >= _FINGERPRINTS_KEPT:
            kept.clear()
        kept[data] = found
    return found


def _explain(
    facts: ManifestFacts, ctx: ViewerContext, rules: CompiledRules, outcomes: _Outcomes
) -> tuple[TraceEntry, ...]:
    return tuple(_entry(i, rule, facts, ctx, outcomes) for i, rule in enumerate(rules.rules))


def _entry(
    index: int,
    rule: CRule,
    facts: ManifestFacts,
    ctx: ViewerContext,
    outcomes: _Outcomes,
) -> TraceEntry:
    outcome = outcomes.get(index)
    if outcome is None:
        reasons = (c.why_not(facts, ctx) for c in rule.conditions)
        reason = next((r for r in reasons if r is not None), "")
        return TraceEntry(rule=rule.id, outcome="skipped", reason=reason)
    did, notes = outcome  # matched: fired when an action did something
    if did:
        return TraceEntry(rule=rule.id, outcome="fired", notes=tuple(notes))
    return TraceEntry(rule=rule.id, outcome="skipped", reason="; ".join(notes))
