"""One plan drives both formats: the same edit values applied to an MPD by the DASH
dispatcher, and what it refuses."""

from pathlib import Path

import msgspec
import pytest

from edge_assembler.core import dash
from edge_assembler.core.dash.edits import apply
from edge_assembler.core.dash.events import detect_breaks
from edge_assembler.core.dash.invariants import check
from edge_assembler.core.edits import Plan
from edge_assembler.core.edits.interstitials import AddInterstitial
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.edits.uris import ProxyChildUris
from tests.dash_support import assert_mpegdash_agrees, schema_errors

CASE = Path(__file__).resolve().parents[3] / "golden" / "dash" / "splice" / "ffmpeg-midroll"
PLAN = b"""{"edits": [
  {"kind": "insert_run", "source": "ad", "at": 10.0, "marker_id": "break-1",
   "source_url": "https://ads.example.com/creatives/42/manifest.mpd"},
  {"kind": "prefer_languages", "type": "AUDIO", "languages": ["fr"]},
  {"kind": "filter_variants", "max_height": 540}
]}"""


def test_an_empty_plan_is_the_identity():
    data = (CASE / "input.mpd").read_bytes()
    assert dash.render(apply(dash.parse(data), Plan().edits, {})) == data


def test_one_plan_of_several_kinds_applies_to_an_mpd():
    plan = msgspec.json.decode(PLAN, type=Plan)
    source = dash.parse((CASE / "input.mpd").read_bytes())
    fetched = {"ad": dash.parse((CASE / "sources" / "ad.mpd").read_bytes())}
    out = apply(source, plan.edits, fetched)
    data = dash.render(out)
    assert schema_errors(data) == []
    assert check(dash.parse(data)) == []
    assert_mpegdash_agrees(data)
    assert len(out.periods) == len(source.periods) + 2  # content split around the ad
    ad = fetched["ad"].media_presentation_duration
    assert ad is not None
    assert out.media_presentation_duration == pytest.approx(
        (source.media_presentation_duration or 0) + ad
    )
    for period in out.periods:
        heights = [r.height for a in period.adaptation_sets for r in a.representations if r.height]
        # Above the cap only when nothing lower exists: a Period never loses its video.
        assert heights == [h for h in heights if h <= 540] or len(heights) == 1
    [marked] = detect_breaks(out)
    assert marked.start == pytest.approx(10.0)


@pytest.mark.parametrize(
    "edit",
    [
        AddInterstitial(id="i1", at=5.0, asset_uri="https://ads.example.com/a.m3u8"),
        ProxyChildUris(
            playlist_url="https://origin.example.com/a/master.m3u8",
            edge_base="/a/",
            token_param="t",
            token="x",
        ),
    ],
)
def test_hls_only_edits_are_refused_for_an_mpd(edit):
    mpd = dash.parse((CASE / "input.mpd").read_bytes())
    with pytest.raises(EditError, match="does not apply to an MPD"):
        apply(mpd, [edit], {})
