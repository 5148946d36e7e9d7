"""Self-test vectors of a bundle (``tests/*.json``), run at compile time like Envoy's
warming (BUNDLES §4.5 step 8): a bundle whose rules do not do what its authors wrote
down never becomes active.

A vector: ``{"facts": ManifestFacts, "context": ViewerContext, "expect": {"fired": [rule
ids], "edits": [edit kinds or edit objects], "needs": {key: url}}}``. An expected edit
object matches when every field it gives equals the edit's (``kind`` included).
"""

from collections.abc import Sequence
from typing import Any

import msgspec

from edge_assembler.core.context import ViewerContext
from edge_assembler.core.rules.compile import CompiledRules, located
from edge_assembler.core.rules.decide import decide
from edge_assembler.core.rules.errors import RulesError
from edge_assembler.core.rules.facts import ManifestFacts


class Expect(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    fired: tuple[str, ...] | None = None
    edits: tuple[str | dict[str, Any], ...] | None = None
    needs: dict[str, str] | None = None


class Vector(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    facts: ManifestFacts
    context: ViewerContext
    expect: Expect
    description: str = ""


_DECODER = msgspec.json.Decoder(Vector)


def run_vectors(vectors: Sequence[tuple[str, bytes]], rules: CompiledRules) -> None:
    """``RulesError("selftest_failed")`` naming the first vector that fails."""
    for name, data in vectors:
        try:
            vector = _DECODER.decode(data)
        except msgspec.ValidationError as exc:
            raise located(name, str(exc)) from None
        except msgspec.DecodeError as exc:
            raise located(name, str(exc), where="") from None
        problem = mismatch(vector, rules)
        if problem is not None:
            raise RulesError("selftest_failed", name, problem[0], problem[1])


def mismatch(vector: Vector, rules: CompiledRules) -> tuple[str, str] | None:
    """(path, message) of the first expectation ``vector`` fails, or ``None``."""
    decision = decide(vector.facts, vector.context, rules)
    expect = vector.expect
    if expect.fired is not None and tuple(expect.fired) != decision.fired:
        return "$.expect.fired", f"expected {list(expect.fired)}, got {list(decision.fired)}"
    if expect.edits is not None:
        actual: list[dict[str, Any]] = msgspec.json.decode(msgspec.json.encode(decision.edits))
        kinds = [edit["kind"] for edit in actual]
        if len(actual) != len(expect.edits):
            return "$.expect.edits", f"expected {len(expect.edits)} edits, got {kinds}"
        for i, (want, got) in enumerate(zip(expect.edits, actual, strict=True)):
            if isinstance(want, str):
                want = {"kind": want}
            wrong = {k: got.get(k) for k, v in want.items() if got.get(k) != v}
            if wrong:
                return f"$.expect.edits[{i}]", f"expected {want}, got {got}"
    if expect.needs is not None and expect.needs != dict(decision.needs):
        return "$.expect.needs", f"expected {expect.needs}, got {dict(decision.needs)}"
    return None
