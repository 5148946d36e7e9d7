"""AddInterstitial: where the date range goes and what it says, refusals, asset URIs and
asset lists. Whole playlists are in the golden cases (tests/golden/hls/interstitials)."""

import json
from pathlib import Path

import msgspec
import pytest

from edge_assembler.core.edits.interstitials import (
    AddInterstitial,
    SkipControl,
    apply_add_interstitial,
    asset_list_json,
    interstitial_uri,
)
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.attributes import parse_attributes
from edge_assembler.core.hls.invariants import check
from tests.hls_support import assert_m3u8_agrees

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "hls"
AD = "https://ads.example.com/ad.m3u8"

VOD = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:6
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:00.000Z
#EXTINF:6.000,
s0.ts
#EXTINF:6.000,
s1.ts
#EXTINF:6.000,
s2.ts
#EXT-X-ENDLIST
"""
LIVE = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:40
#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:04:00.000Z
#EXTINF:6.000,
s40.ts
#EXTINF:6.000,
s41.ts
#EXTINF:6.000,
s42.ts
"""


def media(text: str) -> MediaPlaylist:
    playlist = parse(text.encode())
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def added(
    playlist: MediaPlaylist, edit: AddInterstitial, *, m3u8: bool = True
) -> tuple[MediaPlaylist, str, int]:
    """The output (checked), its new DATERANGE line and where it went (segment index;
    len(segments) for the tail). ``m3u8``: the library reads this kind of playlist."""
    out = apply_add_interstitial(playlist, edit)
    if m3u8:
        assert_m3u8_agrees(render(out))
    assert check(out) == []
    groups = [*(s.raw for s in out.segments), out.tail]
    for index, lines in enumerate(groups):
        for raw in lines:
            if raw.startswith("#EXT-X-DATERANGE") and f'ID="{edit.id}"' in raw:
                return out, raw, index
    raise AssertionError("no date range written")


def attribute(line: str, name: str) -> str | None:
    return parse_attributes(line.split(":", 1)[1]).get(name)


@pytest.mark.parametrize(
    ("at", "segment", "start"),
    [
        (0.0, 0, "2025-01-01T00:00:00.000Z"),
        (5.95, 1, "2025-01-01T00:00:05.950Z"),  # within TOLERANCE of the next boundary
        (6.05, 1, "2025-01-01T00:00:06.050Z"),
        (7.5, 2, "2025-01-01T00:00:07.500Z"),
        (18.0, 3, "2025-01-01T00:00:18.000Z"),  # the end: before EXT-X-ENDLIST
    ],
)
def test_an_interstitial_goes_before_the_segment_at_or_after_at(at, segment, start):
    out, line, index = added(media(VOD), AddInterstitial("ad", at=at, asset_uri=AD))
    assert index == segment
    assert attribute(line, "START-DATE") == start
    assert attribute(line, "X-RESUME-OFFSET") == "0"
    if index == len(out.segments):
        assert out.tail[0] == line
        assert out.tail[1] == "#EXT-X-ENDLIST"


def test_a_live_interstitial_replaces_primary_content():
    _, line, index = added(media(LIVE), AddInterstitial("ad", at=6.0, asset_uri=AD))
    assert index == 1
    assert attribute(line, "START-DATE") == "2025-01-01T00:04:06.000Z"
    assert attribute(line, "X-RESUME-OFFSET") is None  # BIS D.2: resume after its duration


def test_an_interstitial_that_slid_out_of_a_live_window_stays_on_its_date():
    # SPEC_RULES 38: not removed while its range still covers listed segments.
    edit = AddInterstitial("ad", at=-4.0, asset_uri=AD, duration=30.0)
    _, line, index = added(media(LIVE), edit)
    assert index == 0
    assert attribute(line, "START-DATE") == "2025-01-01T00:03:56.000Z"


def test_dates_follow_the_program_date_time_of_each_segment():
    text = VOD.replace("s2.ts", "s2.ts\n#EXT-X-PROGRAM-DATE-TIME:2025-01-01T01:00:00.000Z")
    text = text.replace("#EXT-X-ENDLIST", "#EXTINF:6.000,\ns3.ts\n#EXT-X-ENDLIST")
    _, line, _ = added(media(text), AddInterstitial("ad", at=20.0, asset_uri=AD))
    assert attribute(line, "START-DATE") == "2025-01-01T01:00:02.000Z"


@pytest.mark.parametrize(
    ("cue", "at", "segment", "start"),
    [
        ("PRE", None, 0, "2025-01-01T00:00:00.000Z"),
        ("PRE,ONCE", 4.0, 0, "2025-01-01T00:00:04.000Z"),
        ("POST", None, 3, "2025-01-01T00:00:18.000Z"),
        ("POST,ONCE", 10.0, 3, "2025-01-01T00:00:10.000Z"),
        ("ONCE", 12.0, 2, "2025-01-01T00:00:12.000Z"),
    ],
)
def test_cues(cue, at, segment, start):
    out, line, index = added(media(VOD), AddInterstitial("ad", at=at, cue=cue, asset_uri=AD))
    assert (index, attribute(line, "START-DATE"), attribute(line, "CUE")) == (segment, start, cue)
    if "POST" in cue:
        assert out.tail == ("#EXT-X-ENDLIST", line)  # SPEC_RULES 50


def test_every_attribute():
    edit = AddInterstitial(
        "break 7",
        at=6.0,
        asset_list="pods/7.json",
        duration=30.0,
        planned_duration=31.5,
        resume_offset=-2.5,
        playout_limit=25.0,
        restrict="JUMP",
        snap="IN",
        timeline_occupies="POINT",
        timeline_style="PRIMARY",
        content_may_vary=False,
    )
    _, line, _ = added(media(VOD), edit)
    assert line == (
        '#EXT-X-DATERANGE:ID="break 7",CLASS="com.apple.hls.interstitial",'
        'START-DATE="2025-01-01T00:00:06.000Z",DURATION=30,PLANNED-DURATION=31.5,'
        'X-ASSET-LIST="pods/7.json?_HLS_interstitial_id=break%207",X-RESUME-OFFSET=-2.5,'
        'X-PLAYOUT-LIMIT=25,X-SNAP="IN",X-RESTRICT="JUMP",X-CONTENT-MAY-VARY="NO",'
        'X-TIMELINE-OCCUPIES="POINT",X-TIMELINE-STYLE="PRIMARY"'
    )


def test_a_finished_playlist_without_dates_gets_them_from_the_epoch():
    text = VOD.replace("#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:00.000Z\n", "")
    text = text.replace("s1.ts\n", "s1.ts\n#EXT-X-DISCONTINUITY\n")
    out, line, _ = added(media(text), AddInterstitial("ad", at=6.0, asset_uri=AD))
    dates = [s.program_date_time for s in out.segments]
    assert dates == ["1970-01-01T00:00:00.000Z", None, "1970-01-01T00:00:12.000Z"]
    assert out.segments[2].raw[:2] == (
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:12.000Z",
    )
    assert attribute(line, "START-DATE") == "1970-01-01T00:00:06.000Z"


def test_the_date_range_precedes_the_parts_of_its_segment():
    # BIS §4.4.4.9: tags of a parent segment come before its first EXT-X-PART.
    playlist = media((CORPUS / "m3u8py__llhls-parts-preload-rendition-reports.m3u8").read_text())
    at = sum(s.duration for s in playlist.segments[:7])
    # The m3u8 library counts the trailing parts as a segment (see test_corpus.py).
    out, line, index = added(playlist, AddInterstitial("ad", at=at, asset_uri=AD), m3u8=False)
    assert index == 7
    raw = out.segments[7].raw
    assert raw[0] == line
    assert raw[1].startswith("#EXT-X-PART:")


def test_crlf_and_input_untouched():
    playlist = media(VOD.replace("\n", "\r\n"))
    out, line, _ = added(playlist, AddInterstitial("ad", at=6.0, asset_uri=AD))
    assert line.endswith("\r")
    assert render(playlist) == VOD.replace("\n", "\r\n").encode()
    assert len(render(out).split(b"\r\n")) == len(render(playlist).split(b"\r\n")) + 1


def test_other_date_ranges_stay():
    first = apply_add_interstitial(media(VOD), AddInterstitial("one", at=6.0, asset_uri=AD))
    _, _, index = added(first, AddInterstitial("two", at=6.0, asset_uri=AD))
    assert index == 1
    assert first.segments[1].raw[0].startswith('#EXT-X-DATERANGE:ID="one"')


def test_applying_twice_changes_nothing_and_a_clash_is_refused():
    edit = AddInterstitial("ad", at=6.0, asset_uri=AD)
    once = apply_add_interstitial(media(VOD), edit)
    assert apply_add_interstitial(once, edit) is once
    with pytest.raises(EditError, match="SPEC_RULES 37"):
        apply_add_interstitial(once, AddInterstitial("ad", at=12.0, asset_uri=AD))


@pytest.mark.parametrize(
    ("text", "edit", "reason"),
    [
        (VOD, AddInterstitial("ad", at=1.0), "exactly one"),
        (VOD, AddInterstitial("ad", at=1.0, asset_uri=AD, asset_list="x.json"), "exactly one"),
        (VOD, AddInterstitial("ad", at=1.0, asset_uri="ad.m3u8"), "not absolute"),
        (VOD, AddInterstitial("ad", asset_uri=AD), "needs `at`"),
        (VOD, AddInterstitial("ad", cue="ONCE", asset_uri=AD), "needs `at`"),
        (VOD, AddInterstitial("ad", at=18.5, asset_uri=AD), "after the end"),
        (VOD, AddInterstitial('a"d', at=1.0, asset_uri=AD), "id"),
        (VOD, AddInterstitial("ad", at=1.0, asset_uri=AD, restrict="SEEK"), "restrict"),
        (VOD, AddInterstitial("ad", at=1.0, asset_uri=AD, snap="OUT,"), "snap"),
        (LIVE, AddInterstitial("ad", cue="PRE", asset_uri=AD), "stable START-DATE"),
        (
            LIVE.replace("#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:04:00.000Z\n", ""),
            AddInterstitial("ad", at=1.0, asset_uri=AD),
            "SPEC_RULES 34",
        ),
        (
            VOD.replace("#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:00.000Z\n", ""),
            AddInterstitial("ad", at=1.0, asset_uri=AD, epoch="yesterday"),
            "epoch",
        ),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-ENDLIST\n",
            AddInterstitial("ad", at=0.0, asset_uri=AD),
            "no segment",
        ),
    ],
)
def test_refusals(text, edit, reason):
    with pytest.raises(EditError, match=reason):
        apply_add_interstitial(media(text), edit)


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"kind": "add_interstitial", "id": "a", "restrict": "SEEK"}, "$.restrict"),
        ({"kind": "add_interstitial", "id": "a", "cue": "PRE,POST"}, "$.cue"),
        ({"kind": "add_interstitial", "id": "a", "duration": -1}, "$.duration"),
        ({"kind": "add_interstitial", "id": "a", "playout_limit": 0}, "$.playout_limit"),
        ({"kind": "add_interstitial", "id": "a", "timeline_style": "BOLD"}, "$.timeline_style"),
    ],
)
def test_decoding_names_the_bad_field(document, path):
    with pytest.raises(msgspec.ValidationError, match=f"at `\\{path}`"):
        msgspec.json.decode(json.dumps(document), type=AddInterstitial)


def test_decoding_refuses_unknown_fields():
    document = json.dumps({"kind": "add_interstitial", "id": "a", "at": 1, "speed": 2})
    with pytest.raises(msgspec.ValidationError, match="unknown field `speed`"):
        msgspec.json.decode(document, type=AddInterstitial)


@pytest.mark.parametrize(
    ("uri", "identifier", "expected"),
    [
        (AD, "ad", f"{AD}?_HLS_interstitial_id=ad"),
        (f"{AD}?a=1", "ad", f"{AD}?a=1&_HLS_interstitial_id=ad"),
        (f"{AD}?", "ad", f"{AD}?_HLS_interstitial_id=ad"),
        (f"{AD}#t=3", "ad", f"{AD}?_HLS_interstitial_id=ad#t=3"),
        (f"{AD}?_HLS_interstitial_id=ad", "ad", f"{AD}?_HLS_interstitial_id=ad"),
        (AD, "a b/&c", f"{AD}?_HLS_interstitial_id=a%20b%2F%26c"),
        ("data:application/json,{}", "ad", "data:application/json,{}"),
    ],
)
def test_interstitial_uri(uri, identifier, expected):
    assert interstitial_uri(uri, identifier) == expected


def test_asset_list_json():
    assert asset_list_json([(AD, 15), ("https://ads.example.com/2.m3u8", 14.5)]) == (
        b'{"ASSETS":[{"URI":"https://ads.example.com/ad.m3u8","DURATION":15.0},'
        b'{"URI":"https://ads.example.com/2.m3u8","DURATION":14.5}]}'
    )
    assert asset_list_json([]) == b'{"ASSETS":[]}'  # BIS D.5: resume without playing


def test_asset_list_json_with_skip_control():
    document = asset_list_json([(AD, 15.0)], SkipControl(offset=5, label_id="Exit-Label"))
    assert json.loads(document) == {
        "ASSETS": [{"URI": AD, "DURATION": 15.0}],
        "SKIP-CONTROL": {"OFFSET": 5, "LABEL-ID": "Exit-Label"},
    }
    decoded = msgspec.json.decode(b'{"OFFSET":5,"DURATION":20}', type=SkipControl)
    assert decoded == SkipControl(offset=5, duration=20)
    with pytest.raises(msgspec.ValidationError, match="LABEL-ID"):
        msgspec.json.decode(b'{"LABEL-ID":"Exit label!"}', type=SkipControl)


@pytest.mark.parametrize(
    ("assets", "reason"),
    [
        ([("ad.m3u8", 15.0)], "not absolute"),
        ([(AD, -1.0)], "duration"),
        ([(AD, float("nan"))], "duration"),
    ],
)
def test_asset_list_json_refusals(assets, reason):
    with pytest.raises(EditError, match=reason):
        asset_list_json(assets)
