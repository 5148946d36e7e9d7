"""The Period machinery of the DASH edits: splitting a Period at a segment boundary (every
addressing form and level), snapping, assembling the Period list, and the tree helpers."""

import zlib
from pathlib import Path

import pytest
from lxml import etree
from lxml.etree import _Element

from edge_assembler.core.dash import Mpd, parse, render
from edge_assembler.core.dash.edits.periods import (
    Piece,
    assemble,
    cut,
    derived_id,
    event_number,
    exact_cuts,
    insert_child,
    remove,
    snap_offset,
    split,
    xs_duration,
)
from edge_assembler.core.dash.elements import children
from edge_assembler.core.edits.seams import EditError
from tests.dash_support import assert_sound, c14n, times

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "dash"
NS = "{urn:mpeg:dash:schema:mpd:2011}"


def doc(periods: str, attributes: str = 'type="static" mediaPresentationDuration="PT30S"') -> Mpd:
    return parse(
        f'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" {attributes}>{periods}</MPD>'.encode()
    )


def video(addressing: str, *, rep: str = "", lang: str = "") -> str:
    """A video AdaptationSet with ``addressing`` at its level and one Representation."""
    return (
        f'<AdaptationSet id="1" mimeType="video/mp4"{lang}>{addressing}'
        f'<Representation id="v" bandwidth="1">{rep}</Representation></AdaptationSet>'
    )


def parts(mpd: Mpd) -> list[_Element]:
    return children(mpd.root, "Period")


def attributes(element: _Element) -> dict[str, str]:
    return {str(k): str(v) for k, v in element.attrib.items()}


def template(period: _Element) -> dict[str, str]:
    """The attributes of the lowest SegmentTemplate/List/Base of the first Representation."""
    for element in period.iter(NS + "SegmentTemplate", NS + "SegmentList", NS + "SegmentBase"):
        last = element
    return attributes(last)


def timeline(period: _Element) -> list[dict[str, str]]:
    return [{str(k): str(v) for k, v in s.attrib.items()} for s in period.iter(NS + "S")]


# --- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(10, "PT10S"), (2.5, "PT2.5S"), (0.1 + 0.2, "PT0.3S"), (173402.036, "PT173402.036S"),
     (1 / 3, "PT0.333333S"), (0, "PT0S")],
)  # fmt: skip
def test_xs_duration(seconds: float, text: str) -> None:
    assert xs_duration(seconds) == text


def test_derived_id() -> None:
    assert derived_id("8778696", 29.952) == "8778696_PT29.952S"


@pytest.mark.parametrize(
    ("name", "number"),
    [("4002", 4002), ("break-1", zlib.crc32(b"break-1")), ("4294967296", zlib.crc32(b"4294967296")),
     ("\u00b9", zlib.crc32("\u00b9".encode()))],
)  # fmt: skip
def test_event_number(name: str, number: int) -> None:
    assert event_number(name) == number


# --- snapping ------------------------------------------------------------------------------

TWO_SECONDS = '<SegmentTemplate timescale="1000" duration="2000" media="$Number$.m4s"/>'


@pytest.mark.parametrize(
    ("offset", "mode", "expected"),
    [
        (3.0, "before", 2.0),
        (3.0, "after", 4.0),
        (3.0, "nearest", 2.0),  # a tie goes to the earlier boundary
        (5.2, "nearest", 6.0),
        (3.95, "before", 4.0),  # less than TOLERANCE before a boundary counts as at it
        (4.05, "after", 4.0),
        (29.5, "after", 30.0),  # the Period end
        (0.4, "before", 0.0),
    ],
)
def test_snap_offset(offset: float, mode: str, expected: float) -> None:
    (period,) = doc(f'<Period id="p">{video(TWO_SECONDS)}</Period>').periods
    assert snap_offset(period, offset, mode, length=30.0) == expected  # type: ignore[arg-type]


def test_single_segment_media_is_cut_where_asked() -> None:
    base = '<SegmentBase timescale="1000" indexRange="0-99"/>'
    (period,) = doc(f'<Period id="p">{video(base)}</Period>').periods
    assert snap_offset(period, 12.345, "nearest", length=30.0) == 12.345


@pytest.mark.parametrize(
    ("addressing", "exact"),
    [
        (TWO_SECONDS, False),
        ("<SegmentTemplate><SegmentTimeline><S d='2' r='-1'/></SegmentTimeline>"
         "</SegmentTemplate>", True),
        ('<SegmentBase indexRange="0-9"/>', True),
        ("", True),
    ],
)  # fmt: skip
def test_exact_cuts(addressing: str, exact: bool) -> None:
    (period,) = doc(f'<Period id="p">{video(addressing)}</Period>').periods
    assert exact_cuts(period) is exact


# --- splitting -----------------------------------------------------------------------------


def test_ffmpeg_template_continues_offset_and_number() -> None:
    rep = (
        '<SegmentTemplate timescale="1000000" duration="2000000" startNumber="1" '
        'media="chunk-$RepresentationID$-$Number%05d$.m4s" initialization="init.m4s"/>'
    )
    mpd = doc(f'<Period id="0" start="PT0.0S">{video("", rep=rep)}</Period>')
    edited = split(mpd, 10.0)
    first, second = parts(edited)
    assert times(edited) == [("0", 0.0, 10.0), ("0_PT10S", 10.0, 20.0)]
    assert template(first) == {
        "timescale": "1000000", "duration": "2000000", "startNumber": "1",
        "media": "chunk-$RepresentationID$-$Number%05d$.m4s", "initialization": "init.m4s",
    }  # fmt: skip
    assert template(second)["presentationTimeOffset"] == "10000000"
    assert template(second)["startNumber"] == "6"
    continuity = second.find(f"{NS}AdaptationSet/{NS}SupplementalProperty")
    assert continuity is not None
    assert attributes(continuity) == {
        "schemeIdUri": "urn:mpeg:dash:period-continuity:2015",
        "value": "0",
    }
    assert_sound(mpd, edited)


def test_adaptation_set_timeline_is_split_inside_a_run() -> None:
    addressing = (
        '<SegmentTemplate timescale="90000" media="$Number$.m4s" startNumber="1">'
        '<SegmentTimeline><S t="0" d="180000" r="14"/></SegmentTimeline></SegmentTemplate>'
    )
    mpd = doc(f'<Period id="p">{video(addressing)}</Period>')
    first, second = parts(split(mpd, 7.0))  # a tie between 6 and 8: 6
    assert timeline(first) == [{"t": "0", "d": "180000", "r": "2"}]
    assert timeline(second) == [{"t": "540000", "d": "180000", "r": "11"}]
    assert template(second)["presentationTimeOffset"] == "540000"
    assert template(second)["startNumber"] == "4"
    assert_sound(mpd, split(mpd, 7.0))


def test_period_level_time_template_gets_no_start_number() -> None:
    addressing = (
        '<SegmentTemplate timescale="1000" media="$Time$.m4s">'
        '<SegmentTimeline><S t="0" d="2000" r="4"/><S d="4000" r="4"/></SegmentTimeline>'
        "</SegmentTemplate>"
    )
    mpd = doc(f'<Period id="p">{addressing}{video("")}</Period>')
    first, second = parts(split(mpd, 14.0))  # the second S run: 10, 14, 18, ... 26
    assert timeline(first) == [{"t": "0", "d": "2000", "r": "4"}, {"d": "4000"}]
    assert timeline(second) == [{"t": "14000", "d": "4000", "r": "3"}]
    assert "startNumber" not in template(second)
    assert template(second)["presentationTimeOffset"] == "14000"


def test_open_repeat_is_counted_in_a_static_period() -> None:
    addressing = (
        '<SegmentTemplate timescale="1" media="$Number$.m4s">'
        '<SegmentTimeline><S t="0" d="2" r="-1"/></SegmentTimeline></SegmentTemplate>'
    )
    mpd = doc(f'<Period id="p">{video(addressing)}</Period>')
    first, second = parts(split(mpd, 10.0))
    assert timeline(first) == [{"t": "0", "d": "2", "r": "4"}]
    assert timeline(second) == [{"t": "10", "d": "2", "r": "9"}]
    assert template(second)["startNumber"] == "6"


def test_open_repeat_stays_open_in_an_open_live_period() -> None:
    addressing = (
        '<SegmentTemplate timescale="1" media="$Number$.m4s">'
        '<SegmentTimeline><S t="0" d="2" r="-1"/></SegmentTimeline></SegmentTemplate>'
    )
    live = 'type="dynamic" availabilityStartTime="2026-01-01T00:00:00Z" minimumUpdatePeriod="PT2S"'
    (period,) = doc(f'<Period id="p" start="PT0S">{video(addressing)}</Period>', live).periods
    assert timeline(cut(period, 10.0, None).element) == [{"t": "10", "d": "2", "r": "-1"}]


def test_straddling_audio_segments_go_to_both_parts() -> None:
    video_set = video(
        '<SegmentTemplate timescale="12800" media="v$Number$"><SegmentTimeline>'
        '<S t="0" d="25600" r="14"/></SegmentTimeline></SegmentTemplate>'
    )
    audio_set = (
        '<AdaptationSet id="2" mimeType="audio/mp4" codecs="mp4a.40.2">'
        '<SegmentTemplate timescale="48000" media="a$Number$"><SegmentTimeline>'
        '<S t="0" d="96256" r="1"/><S d="95232"/><S d="96256" r="11"/></SegmentTimeline>'
        '</SegmentTemplate><Representation id="a" bandwidth="1"/></AdaptationSet>'
    )
    mpd = doc(f'<Period id="p">{video_set}{audio_set}</Period>')
    edited = split(mpd, 10.0)  # audio boundary at 10.0053 s: within one AAC frame
    first, second = parts(edited)
    assert timeline(first)[-1] == {"d": "96256", "r": "1"}  # ends 480256, after 10 s
    assert timeline(second)[1] == {"t": "384000", "d": "96256", "r": "10"}
    assert (
        children(children(second, "AdaptationSet")[1], "SegmentTemplate")[0].get(
            "presentationTimeOffset"
        )
        == "480000"
    )
    assert_sound(mpd, edited)


def test_segment_list_loses_its_urls_on_each_side() -> None:
    urls = "".join(f'<SegmentURL media="s{i}.m4s"/>' for i in range(1, 16))
    addressing = f'<SegmentList timescale="1000" duration="2000">{urls}</SegmentList>'
    mpd = doc(f'<Period id="p">{video(addressing)}</Period>')
    first, second = parts(split(mpd, 4.0))
    assert [u.get("media") for u in first.iter(NS + "SegmentURL")] == ["s1.m4s", "s2.m4s"]
    assert [u.get("media") for u in second.iter(NS + "SegmentURL")][:2] == ["s3.m4s", "s4.m4s"]
    assert template(second)["startNumber"] == "3"
    assert template(second)["presentationTimeOffset"] == "4000"


def test_segment_list_with_a_timeline() -> None:
    urls = "".join(f'<SegmentURL media="s{i}.m4s"/>' for i in range(1, 6))
    addressing = (
        f'<SegmentList timescale="10"><SegmentTimeline><S t="0" d="60" r="4"/>'
        f"</SegmentTimeline>{urls}</SegmentList>"
    )
    mpd = doc(f'<Period id="p">{video(addressing)}</Period>')
    first, second = parts(split(mpd, 12.0))
    assert [u.get("media") for u in first.iter(NS + "SegmentURL")] == ["s1.m4s", "s2.m4s"]
    assert [u.get("media") for u in second.iter(NS + "SegmentURL")] == [
        "s3.m4s",
        "s4.m4s",
        "s5.m4s",
    ]
    assert timeline(second) == [{"t": "120", "d": "60", "r": "2"}]


def test_segment_base_and_sidecar_files_get_an_offset() -> None:
    base = '<SegmentBase timescale="48000" indexRange="800-999"/>'
    sidecar = (
        '<AdaptationSet id="3" mimeType="text/vtt" lang="en">'
        '<Representation id="t" bandwidth="1"><BaseURL>subs.vtt</BaseURL></Representation>'
        "</AdaptationSet>"
    )
    mpd = doc(f'<Period id="p">{video(base)}{sidecar}</Period>')
    edited = split(mpd, 12.5)
    first, second = parts(edited)
    assert times(edited) == [("p", 0.0, 12.5), ("p_PT12.5S", 12.5, 17.5)]
    assert template(first) == {"timescale": "48000", "indexRange": "800-999"}
    (video_base, text_base) = second.iter(NS + "SegmentBase")
    assert video_base.get("presentationTimeOffset") == "600000"
    assert attributes(text_base) == {"timescale": "1000", "presentationTimeOffset": "12500"}
    assert_sound(mpd, edited)


def test_inherited_template_gets_values_on_the_lowest_level() -> None:
    rep = (
        '<SegmentTemplate media="r_$Number%09d$.mp4" startNumber="1"><SegmentTimeline>'
        '<S t="0" d="180000" r="14"/></SegmentTimeline></SegmentTemplate>'
    )
    outer = '<SegmentTemplate startNumber="1" timescale="90000"/>'
    mpd = doc(f'<Period id="p">{video(outer, rep=rep)}</Period>')
    second = parts(split(mpd, 10.0))[1]
    outer_twin, inner_twin = second.iter(NS + "SegmentTemplate")
    assert attributes(outer_twin) == {"startNumber": "1", "timescale": "90000"}
    assert inner_twin.get("presentationTimeOffset") == "900000"
    assert inner_twin.get("startNumber") == "6"


def test_an_offset_stated_above_is_updated_there() -> None:
    addressing = (
        '<SegmentTemplate timescale="1000" presentationTimeOffset="500" media="$Number$">'
        '<SegmentTimeline><S t="500" d="2000" r="14"/></SegmentTimeline></SegmentTemplate>'
    )
    mpd = doc(f'<Period id="p">{video(addressing)}</Period>')
    second = parts(split(mpd, 10.0))[1]
    (element,) = second.iter(NS + "SegmentTemplate")
    assert (element.get("presentationTimeOffset"), element.get("startNumber")) == ("10500", "6")


def test_segment_numbers_of_s_n_continue() -> None:
    addressing = (
        '<SegmentTemplate timescale="1" media="$Number$"><SegmentTimeline>'
        '<S t="0" d="2" r="4" n="100"/><S d="2" r="9" n="200"/></SegmentTimeline>'
        "</SegmentTemplate>"
    )
    mpd = doc(f'<Period id="p">{video(addressing)}</Period>')
    second = parts(split(mpd, 14.0))[1]
    assert timeline(second) == [{"t": "14", "d": "2", "r": "7", "n": "202"}]
    assert template(second)["startNumber"] == "202"


def test_fifth_edition_edge_attributes_go() -> None:
    corpus = parse(
        (CORPUS / "dashmpdrs__dashif-ad-insertion-tc6-period-continuity.mpd").read_bytes()
    )
    edited = split(corpus, 13.0)  # video 2 s and audio 3.008 s segments meet at 12 s
    assert [p.id for p in edited.periods] == ["P1", "P2", "P2_PT12S"]
    for element in parts(edited)[1:]:
        for addressing in element.iter(NS + "SegmentTemplate"):
            assert not {"eptDelta", "pdDelta"} & set(addressing.keys())
    assert_sound(corpus, edited)


def test_events_stay_in_the_part_they_start_in() -> None:
    events = (
        '<EventStream schemeIdUri="urn:example:chapters" timescale="10">'
        '<Event presentationTime="40" id="1"/><Event presentationTime="90" duration="50" id="2"/>'
        '<Event presentationTime="120" id="3"/></EventStream>'
    )
    mpd = doc(f'<Period id="p">{events}{video(TWO_SECONDS)}</Period>')
    first, second = parts(split(mpd, 10.0))
    assert [(e.get("id"), e.get("presentationTime")) for e in first.iter(NS + "Event")] == [
        ("1", "40"),
        ("2", "90"),  # it starts before the cut: it stays, its duration clipped by the Period
    ]
    assert [(e.get("id"), e.get("presentationTime")) for e in second.iter(NS + "Event")] == [
        ("3", "20")
    ]


def test_a_period_without_id_gets_no_continuity() -> None:
    mpd = doc(f"<Period>{video(TWO_SECONDS)}</Period>")
    edited = split(mpd, 10.0)
    assert times(edited) == [(None, 0.0, 10.0), (None, 10.0, 20.0)]
    assert not list(edited.root.iter(NS + "SupplementalProperty"))


def test_a_period_boundary_splits_nothing() -> None:
    mpd = doc(f'<Period id="a" duration="PT10S">{video(TWO_SECONDS)}</Period>'
              f'<Period id="b">{video(TWO_SECONDS)}</Period>')  # fmt: skip
    assert c14n(render(split(mpd, 10.0))) == c14n(render(mpd))


def test_a_live_period_without_end_cannot_be_snapped() -> None:
    live = 'type="dynamic" availabilityStartTime="2026-01-01T00:00:00Z" minimumUpdatePeriod="PT2S"'
    mpd = doc(f'<Period id="p" start="PT0S">{video(TWO_SECONDS)}</Period>', live)
    with pytest.raises(EditError, match="no known duration"):
        split(mpd, 10.0)


# --- assembling ----------------------------------------------------------------------------


def test_repeated_ids_are_made_unique() -> None:
    mpd = doc(f'<Period id="x" duration="PT10S">{video(TWO_SECONDS)}</Period>', 'type="static"')
    root = mpd.copy_root()
    work = Mpd.of(root)
    (period,) = work.periods
    pieces = [Piece(cut(period, 0.0, None).element, 10.0, True) for _ in range(3)]
    edited = assemble(work, root, pieces)
    assert times(edited) == [("x", 0.0, 10.0), ("x-2", 10.0, 10.0), ("x-3", 20.0, 10.0)]


def test_stale_continuity_is_removed() -> None:
    corpus = parse(
        (CORPUS / "dashmpdrs__dashif-ad-insertion-tc6-period-continuity.mpd").read_bytes()
    )
    root = corpus.copy_root()
    work = Mpd.of(root)
    second = work.periods[1]
    edited = assemble(work, root, [Piece(cut(second, 0.0, None).element, 18.0, True)])
    assert times(edited) == [("P2", 0.0, 18.0)]
    assert not list(edited.root.iter("{urn:mpeg:dash:schema:mpd:2011}SupplementalProperty"))


def test_the_input_tree_is_never_touched() -> None:
    mpd = doc(f'<Period id="0">{video(TWO_SECONDS)}</Period>')
    before = render(mpd)
    split(mpd, 10.0)
    assert render(mpd) == before
    assert etree.tostring(mpd.root) == etree.tostring(parse(before).root)


# --- tree helpers --------------------------------------------------------------------------


def test_insert_child_follows_the_schema_order() -> None:
    mpd = parse(
        b'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">\n  <Period>\n    <BaseURL>a/</BaseURL>\n'
        b'    <EventStream schemeIdUri="x"/>\n    <AdaptationSet id="1">\n'
        b'      <Role schemeIdUri="r" value="main"/>\n    </AdaptationSet>\n  </Period>\n</MPD>'
    )
    root = mpd.copy_root()
    period = children(root, "Period")[0]
    insert_child(period, period.makeelement(NS + "AssetIdentifier", {"schemeIdUri": "a"}))
    adaptation_set = children(period, "AdaptationSet")[0]
    insert_child(
        adaptation_set, period.makeelement(NS + "SupplementalProperty", {"schemeIdUri": "s"})
    )
    insert_child(period, period.makeelement(NS + "SupplementalProperty", {"schemeIdUri": "p"}))
    assert etree.tostring(period).decode().replace(
        ' xmlns="urn:mpeg:dash:schema:mpd:2011"', ""
    ) == (
        "<Period>\n    <BaseURL>a/</BaseURL>\n"
        '    <AssetIdentifier schemeIdUri="a"/>\n'
        '    <EventStream schemeIdUri="x"/>\n    <AdaptationSet id="1">\n'
        '      <SupplementalProperty schemeIdUri="s"/>\n'
        '      <Role schemeIdUri="r" value="main"/>\n    </AdaptationSet>\n'
        '    <SupplementalProperty schemeIdUri="p"/>\n  </Period>\n'
    )


def test_remove_keeps_the_closing_indentation() -> None:
    root = etree.fromstring(b"<a>\n  <b/>\n  <c/>\n</a>")
    remove(root[1])
    assert etree.tostring(root) == b"<a>\n  <b/>\n</a>"


# --- the corpus ----------------------------------------------------------------------------

STATIC = [
    p
    for p in sorted(CORPUS.glob("*.mpd"))
    if (m := parse(p.read_bytes())).periods
    and not m.dynamic
    and all(q.duration is not None for q in m.periods)
]


@pytest.mark.parametrize("path", STATIC, ids=lambda p: p.name)
def test_corpus_splits_stay_sound(path: Path) -> None:
    mpd = parse(path.read_bytes())
    end = mpd.periods[-1].end
    assert end is not None
    edited = split(mpd, end * 0.4)
    assert_sound(mpd, edited)
    assert edited.periods[0].start == pytest.approx(mpd.periods[0].start or 0)
    assert edited.periods[-1].end == pytest.approx(end)
