"""Golden cases of AddInterstitial: each directory under ``hls/interstitials/`` holds the
primary playlist (``input.m3u8``), the edit as msgspec JSON (``edit.json``) and the
reviewed output (``expected.m3u8``)."""

from pathlib import Path

import msgspec
import pytest

from edge_assembler.core.edits.interstitials import AddInterstitial, apply_add_interstitial
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.invariants import check
from tests.hls_support import assert_m3u8_agrees, check_golden

HERE = Path(__file__).parent / "hls" / "interstitials"
CASES = sorted(case for case in HERE.iterdir() if case.is_dir())


def _load(data: bytes) -> MediaPlaylist:
    playlist = parse(data)
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def test_the_cases_are_there() -> None:
    assert {case.name for case in CASES} >= {
        "vod-midroll",
        "vod-preroll-asset-list",
        "live-window-cue",
        "vod-postroll",
    }


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_golden(case: Path, update_golden: bool) -> None:
    edit = msgspec.json.decode((case / "edit.json").read_bytes(), type=AddInterstitial)
    primary = _load((case / "input.m3u8").read_bytes())
    output = render(apply_add_interstitial(primary, edit))
    check_golden(case / "expected.m3u8", output, update_golden)
    assert_m3u8_agrees(output)
    rewritten = _load(output)
    assert check(rewritten) == []
    # The interstitial leaves the segments and their numbering alone (DESIGN §4).
    assert [s.uri for s in rewritten.segments] == [s.uri for s in primary.segments]
    assert rewritten.media_sequence == primary.media_sequence
    # Applying the edit again changes nothing.
    assert render(apply_add_interstitial(rewritten, edit)) == output
