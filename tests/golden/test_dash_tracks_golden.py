"""Golden cases of the DASH track and BaseURL edits: ``dash/{tracks,baseurls}/<case>/`` holds
the input (``input.mpd``, or ``corpus.txt`` naming a file of the shared corpus, read in place),
``edit.json`` (the edit as msgspec JSON), ``sources/<key>.mpd`` for AddRendition and the
reviewed ``expected.mpd``, compared in canonical form (``pytest --update-golden`` rewrites it).
Every output re-parses, adds no invariant violation, stays schema-valid when its input was,
and reads the same in `mpegdash`."""

import difflib
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest

from edge_assembler.core.dash import Mpd, parse, render
from edge_assembler.core.dash.edits import baseurls, tracks
from edge_assembler.core.dash.invariants import check
from edge_assembler.core.edits.renditions import (
    AddRendition,
    DropRenditions,
    PreferAccessibility,
    PreferLanguages,
)
from edge_assembler.core.edits.uris import ResolveUris, SegmentBase
from edge_assembler.core.edits.variants import FilterVariants
from tests.dash_support import assert_mpegdash_agrees, c14n, schema_errors

HERE = Path(__file__).resolve().parent / "dash"
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "dash"
CASES = sorted(p for kind in ("tracks", "baseurls") for p in (HERE / kind).iterdir())

AnyEdit = (
    AddRendition
    | PreferLanguages
    | DropRenditions
    | PreferAccessibility
    | FilterVariants
    | SegmentBase
    | ResolveUris
)
Apply = Callable[[Mpd, Any, Mapping[str, Mpd]], Mpd]
APPLY: dict[type, Apply] = {
    AddRendition: tracks.apply_add_rendition,
    PreferLanguages: lambda m, e, _: tracks.apply_prefer_languages(m, e),
    DropRenditions: lambda m, e, _: tracks.apply_drop_renditions(m, e),
    PreferAccessibility: lambda m, e, _: tracks.apply_prefer_accessibility(m, e),
    FilterVariants: lambda m, e, _: tracks.apply_filter_variants(m, e),
    SegmentBase: lambda m, e, _: baseurls.apply_segment_base(m, e),
    ResolveUris: lambda m, e, _: baseurls.apply_resolve_uris(m, e),
}


def read_input(case: Path) -> bytes:
    named = case / "corpus.txt"
    if named.exists():
        return (CORPUS / named.read_text().strip()).read_bytes()
    return (case / "input.mpd").read_bytes()


def rules(mpd: Mpd) -> Counter[str]:
    return Counter(problem.split(":", 1)[0] for problem in check(mpd))


def assert_valid_edit(before: bytes, after: bytes) -> None:
    """The checks every edited MPD passes (DASH edit house rules)."""
    result = parse(after)
    assert render(result) == after
    assert not rules(result) - rules(parse(before)), check(result)
    if not schema_errors(before):
        assert schema_errors(after) == []
    assert_mpegdash_agrees(after)


def check_c14n_golden(expected_path: Path, actual: bytes, update: bool) -> None:
    if update:
        expected_path.write_bytes(actual)
        return
    assert expected_path.exists(), f"missing {expected_path}; run with --update-golden"
    expected, got = c14n(expected_path.read_bytes()), c14n(actual)
    if expected != got:
        diff = difflib.unified_diff(
            expected.decode().splitlines(), got.decode().splitlines(), lineterm=""
        )
        raise AssertionError(f"{expected_path} differs:\n" + "\n".join(diff))


def test_every_kind_has_cases():
    assert {case.parent.name for case in CASES} == {"tracks", "baseurls"}
    assert len(CASES) >= 14


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden(case: Path, update_golden: bool) -> None:
    edit = msgspec.json.decode((case / "edit.json").read_bytes(), type=AnyEdit)
    data = read_input(case)
    sources = {p.stem: parse(p.read_bytes()) for p in sorted((case / "sources").glob("*.mpd"))}
    out = render(APPLY[type(edit)](parse(data), edit, sources))
    check_c14n_golden(case / "expected.mpd", out, update_golden)
    assert_valid_edit(data, out)
    # A second run changes nothing, and hands back the very same document.
    again = parse(out)
    if not isinstance(edit, AddRendition):
        assert APPLY[type(edit)](again, edit, sources) is again
