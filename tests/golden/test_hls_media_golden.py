"""Golden cases of the media-playlist edits that join runs of segments.

Each case directory under ``hls/{splice,replace_break,trim,compose}/`` holds the edited
playlist (``input.m3u8``), the fetched playlists by key (``sources/<key>.m3u8``), the edit
as msgspec JSON (``edit.json``) and the reviewed output (``expected.m3u8``).
"""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest

from edge_assembler.core.edits.compose import Compose, apply_compose
from edge_assembler.core.edits.replace_break import ReplaceBreak, apply_replace_break
from edge_assembler.core.edits.splice import InsertRun, apply_insert_run
from edge_assembler.core.edits.trim import Trim, apply_trim
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.invariants import check
from edge_assembler.core.hls.model import tagged_segments
from tests.hls_support import assert_m3u8_agrees, check_golden

HERE = Path(__file__).parent / "hls"
Apply = Callable[[MediaPlaylist, Any, Mapping[str, MediaPlaylist]], MediaPlaylist]
EDITS: dict[str, tuple[type, Apply]] = {
    "splice": (InsertRun, apply_insert_run),
    "replace_break": (ReplaceBreak, apply_replace_break),
    "trim": (Trim, apply_trim),
    "compose": (Compose, apply_compose),
}
CASES = sorted(case for kind in EDITS for case in (HERE / kind).iterdir() if case.is_dir())


def _load(path: Path) -> MediaPlaylist:
    playlist = parse(path.read_bytes())
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def _name(case: Path) -> str:
    return f"{case.parent.name}/{case.name}"


def run_case(case: Path) -> bytes:
    kind, apply = EDITS[case.parent.name]
    fetched = {p.stem: _load(p) for p in sorted((case / "sources").glob("*.m3u8"))}
    edit = msgspec.json.decode((case / "edit.json").read_bytes(), type=kind)
    edited = apply(_load(case / "input.m3u8"), edit, fetched)
    # What the edit recorded about its result is what a fresh look finds.
    assert edited.fact(tagged_segments) == tagged_segments(edited)
    lines = "\n".join(edited.raw_lines()) + ("\n" if edited.final_newline else "")
    assert render(edited) == (edited.prefix + lines).encode()
    return render(edited)


def test_every_kind_has_cases():
    assert {case.parent.name for case in CASES} == set(EDITS)


@pytest.mark.parametrize("case", CASES, ids=_name)
def test_golden(case: Path, update_golden: bool):
    output = run_case(case)
    check_golden(case / "expected.m3u8", output, update_golden)
    assert_m3u8_agrees(output)
    rewritten = parse(output)
    assert isinstance(rewritten, MediaPlaylist)
    assert check(rewritten) == []
