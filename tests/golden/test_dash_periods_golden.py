"""Golden cases of the DASH edits that cut and insert Periods.

Each case directory under ``dash/{splice,replace_break,trim,compose}/`` holds the edited MPD
(``input.mpd``, or ``corpus.txt`` naming a corpus MPD read at test time), the fetched MPDs by
key (``sources/<key>.mpd``), the edit as msgspec JSON (``edit.json``) and the reviewed output
(``expected.mpd``), compared in canonical form (W3C C14N 2.0).
"""

import difflib
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest

from edge_assembler.core.dash import Mpd, parse, render
from edge_assembler.core.dash.edits.compose import apply_compose
from edge_assembler.core.dash.edits.replace_break import apply_replace_break
from edge_assembler.core.dash.edits.splice import apply_insert_run
from edge_assembler.core.dash.edits.trim import apply_trim
from edge_assembler.core.dash.invariants import check
from edge_assembler.core.edits.compose import Compose
from edge_assembler.core.edits.replace_break import ReplaceBreak
from edge_assembler.core.edits.splice import InsertRun
from edge_assembler.core.edits.trim import Trim
from tests.dash_support import assert_mpegdash_agrees, c14n, schema_errors

HERE = Path(__file__).parent / "dash"
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "dash"
Apply = Callable[[Mpd, Any, Mapping[str, Mpd]], Mpd]
EDITS: dict[str, tuple[type, Apply]] = {
    "splice": (InsertRun, apply_insert_run),
    "replace_break": (ReplaceBreak, apply_replace_break),
    "trim": (Trim, apply_trim),
    "compose": (Compose, apply_compose),
}
CASES = sorted(case for kind in EDITS for case in (HERE / kind).iterdir() if case.is_dir())


def _name(case: Path) -> str:
    return f"{case.parent.name}/{case.name}"


def input_of(case: Path) -> bytes:
    named = case / "corpus.txt"
    if named.exists():
        return (CORPUS / named.read_text().strip()).read_bytes()
    return (case / "input.mpd").read_bytes()


def run_case(case: Path) -> bytes:
    kind, apply = EDITS[case.parent.name]
    fetched = {p.stem: parse(p.read_bytes()) for p in sorted((case / "sources").glob("*.mpd"))}
    edit: Any = msgspec.json.decode((case / "edit.json").read_bytes(), type=kind)
    return render(apply(parse(input_of(case)), edit, fetched))


def check_canonical(expected_path: Path, actual: bytes, update: bool) -> None:
    """``actual`` equals the reviewed file in canonical XML; ``--update-golden`` rewrites it."""
    if update:
        expected_path.write_bytes(actual)
        return
    if not expected_path.exists():
        raise AssertionError(f"missing golden file {expected_path}; run with --update-golden")
    expected = expected_path.read_bytes()
    if c14n(actual) != c14n(expected):
        diff = difflib.unified_diff(
            expected.decode().splitlines(), actual.decode().splitlines(), lineterm=""
        )
        raise AssertionError(f"{expected_path} differs:\n" + "\n".join(diff))


def test_every_kind_has_cases() -> None:
    assert {case.parent.name for case in CASES} == set(EDITS)


@pytest.mark.parametrize("case", CASES, ids=_name)
def test_golden(case: Path, update_golden: bool) -> None:
    original = input_of(case)
    output = run_case(case)
    check_canonical(case / "expected.mpd", output, update_golden)
    assert_mpegdash_agrees(output)
    if not schema_errors(original):
        assert schema_errors(output) == []
    before = Counter(m.partition(":")[0] for m in check(parse(original)))
    after = Counter(m.partition(":")[0] for m in check(parse(output)))
    assert after - before == Counter()
