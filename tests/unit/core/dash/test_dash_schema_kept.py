"""An edit never turns a schema-valid MPD into an invalid one: every edit kind of the
shared plan, applied to every corpus MPD that validates against the MPEG-DASH XSD, either
refuses with EditError or produces an MPD that still validates, re-parses, adds no
invariant violation and reads the same with an independent parser."""

from pathlib import Path

import pytest

from edge_assembler.core import dash
from edge_assembler.core.dash.edits import apply
from edge_assembler.core.dash.events import detect_breaks
from edge_assembler.core.dash.invariants import check
from edge_assembler.core.edits import AnyEdit
from edge_assembler.core.edits.renditions import DropRenditions, PreferLanguages
from edge_assembler.core.edits.replace_break import ReplaceBreak
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.edits.splice import InsertRun
from edge_assembler.core.edits.trim import Trim
from edge_assembler.core.edits.uris import ResolveUris, SegmentBase
from edge_assembler.core.edits.variants import FilterVariants
from tests.dash_support import assert_mpegdash_agrees, schema_errors

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "dash"
AD = Path(__file__).resolve().parents[3] / "golden" / "dash" / "splice" / "ffmpeg-midroll"
AD_URL = "https://ads.example.com/creatives/42/manifest.mpd"
MPD_URL = "https://origin.example.com/vod/manifest.mpd"


def _valid_corpus() -> list[Path]:
    return [p for p in sorted(CORPUS.glob("*.mpd")) if not schema_errors(p.read_bytes())]


VALID = _valid_corpus()


def _edits(mpd: dash.Mpd) -> list[AnyEdit]:
    end = mpd.media_presentation_duration or 0.0
    edits: list[AnyEdit] = [
        FilterVariants(max_height=540),
        FilterVariants(max_bandwidth=1_000_000),
        PreferLanguages(type="AUDIO", languages=("fr",)),
        DropRenditions(type="AUDIO", languages=("en",)),
        SegmentBase(playlist_url=MPD_URL, base="https://cdn.example.com"),
        ResolveUris(playlist_url=MPD_URL),
        InsertRun(source="ad", source_url=AD_URL, position="pre"),
        InsertRun(source="ad", source_url=AD_URL, position="post"),
        InsertRun(source="ad", source_url=AD_URL, at=end / 2),
        Trim(duration=end / 2),
    ]
    edits += [
        ReplaceBreak(break_id=b.id, pod=("ad",), pod_urls=(AD_URL,), slate="ad", slate_url=AD_URL)
        for b in detect_breaks(mpd)
    ]
    return edits


def test_the_schema_valid_corpus_is_there():
    assert len(VALID) >= 15, f"expected the schema-valid corpus MPDs under {CORPUS}"


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_every_edit_keeps_a_valid_mpd_valid(path: Path):
    mpd = dash.parse(path.read_bytes())
    before = {violation.split(":", 1)[0] for violation in check(mpd)}
    fetched = {"ad": dash.parse((AD / "sources" / "ad.mpd").read_bytes())}
    applied = 0
    for edit in _edits(mpd):
        try:
            out = apply(mpd, [edit], fetched)
        except EditError:
            continue
        applied += 1
        data = dash.render(out)
        assert schema_errors(data) == [], (type(edit).__name__, path.name)
        reparsed = dash.parse(data)
        after = {violation.split(":", 1)[0] for violation in check(reparsed)}
        assert after <= before, (type(edit).__name__, after - before)
        assert_mpegdash_agrees(data)
    assert applied >= 4, f"only {applied} edits applied to {path.name}"
