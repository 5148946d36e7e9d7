"""Ad breaks signalled in an MPD: SCTE-35 EventStreams (XML and xml+bin), ad Periods marked by
an ad-creative EventStream or by the content AssetIdentifier, and in-band declarations."""

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from edge_assembler.core.dash import Mpd, parse
from edge_assembler.core.dash.events import DashBreak, detect_breaks, inband_scte35, read_scte35

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "dash"

Seen = tuple[str, str, float, float | None, str]  # id, Period, start, duration, kind


def seen(found: list[DashBreak]) -> list[Seen]:
    return [
        (
            b.id,
            b.period_id,
            round(b.start, 3),
            None if b.duration is None else round(b.duration, 3),
            b.kind,
        )
        for b in found
    ]


# What a person reading each corpus MPD with scte35/ad/period(s) in its name sees as breaks.
CORPUS_BREAKS: dict[str, list[Seen]] = {
    # splice_insert out (xml+bin) at 3 s, Event@duration 30 s; the in point at 33 s closes it
    "dashmpdrs__google-admanager-dynamic-scte35.mpd": [("4002", "1", 3.0, 30.0, "event")],
    # MediaPackage opens a Period at the cue: out at its start, no duration stated anywhere
    "dashmpdrs__mediapackage-two-periods-scte35-2013-xml.mpd": [
        ("1000", "21", 44.075, None, "event")
    ],
    # stitched ad Periods that nothing marks (no ad EventStream, no AssetIdentifier): the
    # content Periods only declare in-band SCTE-35 (see INBAND)
    "dashmpdrs__mediatailor-avod-multiperiod-scte35-xmlbin.mpd": [],
    "dashmpdrs__mediatailor-vod-personalized-with-eventstream.mpd": [],  # a lone Break End
    "mediatailor-docs__vod-personalized-multiperiod-scte35-2013-xml.mpd": [],
    "dashmpdrs__telenet-vod-mid-roll-ad-periods.mpd": [],
    "dashmpdrs__unified-streaming-vod-aip-7-periods-scte35.mpd": [],
    # time_signal Provider Advertisement Start, 30 s then 23 s, back to back (two ads)
    "dashmpdrs__orange-scte35-xmlbin-multidrm.mpd": [
        ("391691", "1", 1684932467.725, 30.0, "event"),
        ("391692", "1", 1684932498.085, 23.0, "event"),
    ],
    # eight Break Start/Break End pairs of 0 s: mid-roll insertion points (the closing
    # credits and content identification signals are not breaks)
    "dashmpdrs__static-single-period-scte35-event-drm.mpd": [
        ("6", "period-1", 643.852, 0.0, "event"),
        ("7", "period-1", 1197.656, 0.0, "event"),
        ("8", "period-1", 1809.268, 0.0, "event"),
        ("9", "period-1", 2370.37, 0.0, "event"),
        ("10", "period-1", 3069.736, 0.0, "event"),
        ("11", "period-1", 3536.495, 0.0, "event"),
        ("12", "period-1", 4068.902, 0.0, "event"),
        ("13", "period-1", 4668.21, 0.0, "event"),
    ],
    # immediate splice_inserts with a 19 s break_duration at 10 s and 40 s
    "dashmpdrs__telestream-eventstream-scte35-binary.mpd": [
        ("721", "period-1", 10.0, 19.0, "event"),
        ("722", "period-1", 40.0, 19.0, "event"),
    ],
    # time_signal placement opportunity start (52) for 30 s, its end (53) at 40 s
    "dashmpdrs__telestream-eventstream-scte35-elements.mpd": [
        ("1", "period-1", 10.0, 30.0, "event")
    ],
    # the Binary carries 26 bytes after its section: not a readable cue
    "exoplayer__eventstreams-scte35-xmlbin-alternative-mpd-insert.mpd": [],
    "exoplayer__period-asset-identifier.mpd": [],  # one content Period
    "eyevinn-dashmpd__scte214-assetidentifier-upid.mpd": [],  # one content Period
    "eyevinn-dashmpd__scte35-splice-insert-xml.mpd": [("4157", "1", 26072.73, 29.997, "event")],
    "eyevinn-dashmpd__scte35-spliceinfosection-no-signal-wrapper.mpd": [
        ("99", "46041", 173402.036, 105.0, "event")
    ],
    "eyevinn-dashmpd__scte35-time-signal-segmentation-upid.mpd": [("99", "1", 10.0, 30.0, "event")],
    # the remote Period between two Periods of the content's AssetIdentifier
    "iso-dashschema__G11-xlink-remote-ad-period-assetidentifier.mpd": [
        ("period-2-0", "period-2", 250.0, 110.0, "ad-periods")
    ],
    # Period 1 carries an SVTA 2053-2 ad-creative-signaling EventStream
    "shaka__svta2053-2-ad-creative-signaling-eventstream.mpd": [
        ("1-0", "1", 4.0, 16.0, "ad-periods")
    ],
    # multi-Period content without any ad signal: the middle Periods are other media,
    # which only the file names call ads
    "dashmpdrs__dashif-ad-insertion-tc1-gpac-3-periods.mpd": [],
    "dashmpdrs__dashif-ad-insertion-tc6-period-continuity.mpd": [],
    "dashmpdrs__dashif-testcase-5b1-multiperiod-static.mpd": [],
    "iso-dashschema__G12-dynamic-period-continuity.mpd": [],
    "mpdparser__live-multiperiod-after-period-removal.mpd": [],
    "mpdparser__live-multiperiod-startnumber-pto.mpd": [],
    "mpdparser__multiperiod-dynamic-5-periods-pto.mpd": [],
    "shaka__clear-then-encrypted-periods.mpd": [],
    "shaka__dynamic-3-periods-start-1000s.mpd": [],
}

INBAND = {
    "dashmpdrs__mediatailor-avod-multiperiod-scte35-xmlbin.mpd": [
        "1_PT0S",
        "1_PT41.958333333S",
        "1_PT1M33.916666665S",
        "1_PT2M31.08333333S",
    ],
    "dashmpdrs__orange-scte35-xmlbin-multidrm.mpd": ["1"],
    "dashmpdrs__unified-streaming-vod-aip-7-periods-scte35.mpd": ["0", "2", "4", "6"],
}

MPDS = sorted(p.name for p in CORPUS.glob("*.mpd"))


def corpus(name: str) -> Mpd:
    return parse((CORPUS / name).read_bytes())


def test_the_table_covers_every_named_corpus_mpd() -> None:
    named = {n for n in MPDS if any(w in n for w in ("scte35", "ad-", "-ad", "period"))}
    assert named <= set(CORPUS_BREAKS)


@pytest.mark.parametrize("name", sorted(CORPUS_BREAKS))
def test_corpus_breaks(name: str) -> None:
    assert seen(detect_breaks(corpus(name))) == CORPUS_BREAKS[name]


@pytest.mark.parametrize("name", [n for n in MPDS if n not in CORPUS_BREAKS])
def test_other_corpus_mpds_have_no_break(name: str) -> None:
    assert detect_breaks(corpus(name)) == []


@pytest.mark.parametrize("name", MPDS)
def test_inband_declarations(name: str) -> None:
    found = inband_scte35(corpus(name))
    assert [i.period_id for i in found] == INBAND.get(name, [])


# MediaTailor's documentation fragments, put in an MPD (their scte35 prefix is undeclared).
FRAGMENTS = {
    "mediatailor-docs__live-origin-period-splice-insert.fragment.xml": [
        ("99", "46041", 173402.036, 105.0, "event")
    ],
    # segmentationTypeId on SegmentationUpid; Event@duration (59 s) over the 90 s descriptor
    "mediatailor-docs__live-origin-period-time-signal.fragment.xml": [
        ("1414668", "178443", 346530.25, 59.0, "event")
    ],
}


@pytest.mark.parametrize("name", sorted(FRAGMENTS))
def test_mediatailor_fragments(name: str) -> None:
    fragment = (CORPUS / "fragments" / name).read_bytes()
    document = (
        b'<MPD type="dynamic" availabilityStartTime="2024-01-01T00:00:00Z">' + fragment + b"</MPD>"
    )
    assert seen(detect_breaks(parse(document))) == FRAGMENTS[name]


# --- SCTE-35 XML and binary forms ----------------------------------------------------------

NS = "http://www.scte.org/schemas/35/2016"


def in_period(events: str, *, scheme: str = "urn:scte:scte35:2013:xml", stream: str = "") -> Mpd:
    """One Period [100 s, 200 s) with one EventStream (90 kHz unless ``stream`` says)."""
    attributes = stream or 'timescale="90000"'
    return parse(
        f'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:scte35="{NS}" type="static" '
        'mediaPresentationDuration="PT200S"><Period id="p" start="PT100S" duration="PT100S">'
        f'<EventStream schemeIdUri="{scheme}" {attributes}>{events}</EventStream>'
        "</Period></MPD>".encode()
    )


def insert(event_id: int = 5, *, out: bool = True, duration: int | None = 2700000) -> str:
    length = (
        ""
        if duration is None
        else f'<scte35:BreakDuration autoReturn="true" duration="{duration}"/>'
    )
    return (
        '<scte35:SpliceInfoSection ptsAdjustment="0" tier="4095">'
        f'<scte35:SpliceInsert spliceEventId="{event_id}" spliceEventCancelIndicator="false" '
        f'outOfNetworkIndicator="{str(out).lower()}" spliceImmediateFlag="false">'
        '<scte35:Program><scte35:SpliceTime ptsTime="900000"/></scte35:Program>'
        f"{length}</scte35:SpliceInsert></scte35:SpliceInfoSection>"
    )


def signal(
    type_id: int, *, event_id: int = 9, duration: str = ' segmentationDuration="1800000"'
) -> str:
    return (
        '<scte35:SpliceInfoSection ptsAdjustment="0"><scte35:TimeSignal>'
        '<scte35:SpliceTime ptsTime="900000"/></scte35:TimeSignal>'
        f'<scte35:SegmentationDescriptor segmentationEventId="{event_id}"{duration} '
        f'segmentationTypeId="{type_id}"/></scte35:SpliceInfoSection>'
    )


def event(body: str, time: int = 900000, extra: str = "") -> str:
    return f'<Event presentationTime="{time}"{extra}>{body}</Event>'


GOOGLE_OUT = "/DAlAAAAAAAAAP/wFAUAAA+if+/+INAJ0P4AKTLgAAAAAAAA9UTkTA=="  # 4002 out, 30 s

XML_CASES = [
    ("splice_insert with BreakDuration", event(insert()), [("5", 110.0, 30.0)]),
    (
        "wrapped in Signal, default namespace",
        event(f'<Signal xmlns="{NS}">{insert().replace("scte35:", "")}</Signal>'),
        [("5", 110.0, 30.0)],
    ),
    (
        "the older namespace",
        event(
            insert()
            .replace("scte35:", "old:")
            .replace("<old:SpliceInfoSection", '<old:SpliceInfoSection xmlns:old="' + NS[:-5] + '"')
        ),
        [("5", 110.0, 30.0)],
    ),
    (
        "Event@duration before break_duration",
        event(insert(), extra=' duration="1800000"'),
        [("5", 110.0, 20.0)],
    ),
    (
        "an in point closes a break without duration",
        event(insert(duration=None)) + event(insert(out=False, duration=None), time=2700000),
        [("5", 110.0, 20.0)],
    ),
    ("an in point alone", event(insert(out=False)), []),
    (
        "a cancelled event",
        event(insert().replace('CancelIndicator="false"', 'CancelIndicator="true"')),
        [],
    ),
    ("time_signal placement opportunity", event(signal(0x34)), [("9", 110.0, 20.0)]),
    ("time_signal program start", event(signal(0x10)), []),
    (
        "type and UPID on SegmentationUpid (MediaTailor)",
        event(
            signal(0x30)
            .replace(' segmentationTypeId="48"/>', ">")
            .replace(
                "</scte35:SpliceInfoSection>",
                '<scte35:SegmentationUpid segmentationTypeId="48" segmentationUpidType="12">'
                "0100</scte35:SegmentationUpid></scte35:SegmentationDescriptor>"
                "</scte35:SpliceInfoSection>",
            )
        ),
        [("9", 110.0, 20.0)],
    ),
    (
        "spliceEventId on the descriptor (Telestream)",
        event(signal(0x34).replace("segmentationEventId", "spliceEventId")),
        [("9", 110.0, 20.0)],
    ),
    (
        "binary section",
        event(f"<scte35:Signal><scte35:Binary>{GOOGLE_OUT}</scte35:Binary></scte35:Signal>"),
        [("4002", 110.0, 30.0)],
    ),
    (
        "binary split over lines",
        event(
            "<scte35:Signal><scte35:Binary>\n"
            f"  {GOOGLE_OUT[:20]}\n  {GOOGLE_OUT[20:]}\n"
            "</scte35:Binary></scte35:Signal>"
        ),
        [("4002", 110.0, 30.0)],
    ),
    (
        "binary that is not a section",
        event("<scte35:Signal><scte35:Binary>AAAA</scte35:Binary></scte35:Signal>"),
        [],
    ),
    (
        "an unreadable attribute",
        event(insert().replace('ptsAdjustment="0"', 'ptsAdjustment="x"')),
        [],
    ),
    ("an unreadable presentationTime", event(insert(), time=0).replace('"0"', '"soon"', 1), []),
    (
        "the same break announced again",
        event(insert()) + event(insert(), time=1800000),
        [("5", 110.0, 30.0)],
    ),
    (
        "an event id used again after its break",
        event(insert(duration=900000))
        + event(insert(duration=900000), time=3600000, extra=' id="77"'),
        [("5", 110.0, 10.0), ("77", 140.0, 10.0)],
    ),
    (
        "an event id used again, no Event@id",
        event(insert(duration=900000)) + event(insert(duration=900000), time=3600000),
        [("5", 110.0, 10.0), ("p-3600000", 140.0, 10.0)],
    ),
]


@pytest.mark.parametrize(
    ("events", "expected"), [c[1:] for c in XML_CASES], ids=[c[0] for c in XML_CASES]
)
def test_scte35_events(events: str, expected: list[tuple[str, float, float]]) -> None:
    found = detect_breaks(in_period(events))
    assert [(b.id, round(b.start, 3), b.duration) for b in found] == expected
    assert all(b.scte35 is not None and b.event is not None for b in found)


def test_event_time_uses_the_stream_timescale_and_offset() -> None:
    events = event(insert(), time=450000 + 3000)
    found = detect_breaks(
        in_period(events, stream='timescale="1000" presentationTimeOffset="450000"')
    )
    assert [(b.start, b.duration) for b in found] == [(103.0, 30.0)]


def test_either_scheme_reads_either_form() -> None:
    found = detect_breaks(in_period(event(insert()), scheme="urn:scte:scte35:2014:xml+bin"))
    assert [b.id for b in found] == ["5"]


def test_other_schemes_are_not_read() -> None:
    assert detect_breaks(in_period(event(insert()), scheme="urn:example:cues")) == []


def test_the_in_point_is_kept_with_the_break() -> None:
    (found,) = detect_breaks(
        in_period(event(insert(duration=None)) + event(insert(out=False), time=2700000))
    )
    assert found.end_event is not None
    assert found.end_event.get("presentationTime") == "2700000"


def test_read_scte35_of_xml_has_the_fields() -> None:
    mpd = in_period(event(insert()))
    info = read_scte35(mpd.periods[0].event_streams[0].events[0].element)
    assert info is not None
    assert (info.command_name, info.splice_event_id, info.out_of_network) == (
        "splice_insert",
        5,
        True,
    )
    assert (info.pts_time, info.break_duration, info.raw) == (10.0, 30.0, b"")


# --- ad Periods ----------------------------------------------------------------------------

ASSET = '<AssetIdentifier schemeIdUri="urn:org:dashif:asset-id:2013" value="{}"/>'


def periods(*assets: str | None, durations: tuple[int, ...] = ()) -> Mpd:
    body = "".join(
        f'<Period id="p{i}" duration="PT{(durations or (10,) * len(assets))[i]}S">'
        f"{'' if a is None else ASSET.format(a)}</Period>"
        for i, a in enumerate(assets)
    )
    return parse(f'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">{body}</MPD>'.encode())


@pytest.mark.parametrize(
    ("assets", "expected"),
    [
        (("show", None, "show"), [("p1-0", "p1", 10.0, 10.0, "ad-periods")]),
        (("show", "ad-42", "show"), [("p1-0", "p1", 10.0, 10.0, "ad-periods")]),
        # a pod: consecutive ad Periods are one break
        (("show", "a", "b", "show"), [("p1-0", "p1", 10.0, 20.0, "ad-periods")]),
        # pre- and post-rolls around content carried by two Periods
        (
            ("ad", "show", "show", None),
            [("p0-0", "p0", 0.0, 10.0, "ad-periods"), ("p3-0", "p3", 30.0, 10.0, "ad-periods")],
        ),
        # no AssetIdentifier shared by two Periods: nothing tells content from ads
        (("show", "ad"), []),
        ((None, None), []),
    ],
)
def test_asset_identifier_marks_ad_periods(
    assets: tuple[str | None, ...], expected: list[Seen]
) -> None:
    assert seen(detect_breaks(periods(*assets))) == expected


def test_an_event_at_an_ad_period_start_is_that_break() -> None:
    mpd = parse(
        f'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:scte35="{NS}" type="static">'
        f'<Period id="a" duration="PT10S">{ASSET.format("show")}</Period>'
        f'<Period id="b" duration="PT10S">{ASSET.format("ad")}'
        '<EventStream schemeIdUri="urn:scte:scte35:2013:xml" timescale="90000">'
        f"{event(insert(), time=0)}</EventStream></Period>"
        f'<Period id="c" duration="PT10S">{ASSET.format("show")}</Period></MPD>'.encode()
    )
    assert seen(detect_breaks(mpd)) == [("5", "b", 10.0, 30.0, "event")]


# --- in-band -------------------------------------------------------------------------------


def test_inband_is_recorded_per_period_and_scheme() -> None:
    mpd = parse(
        b'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">'
        b'<Period id="a" duration="PT10S"><AdaptationSet mimeType="video/mp4">'
        b'<InbandEventStream schemeIdUri="urn:mpeg:dash:event:2012" value="1"/>'
        b'<Representation id="v" bandwidth="1">'
        b'<InbandEventStream schemeIdUri="urn:scte:scte35:2013:bin"/></Representation>'
        b'<Representation id="w" bandwidth="2">'
        b'<InbandEventStream schemeIdUri="urn:scte:scte35:2013:bin"/></Representation>'
        b"</AdaptationSet></Period></MPD>"
    )
    assert [(i.period_id, i.scheme_id_uri) for i in inband_scte35(mpd)] == [
        ("a", "urn:scte:scte35:2013:bin")
    ]
    assert detect_breaks(mpd) == []


# --- never raises --------------------------------------------------------------------------

# Text that can stand in an XML attribute or element (the document itself stays well-formed).
TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xD7FF, exclude_characters='<>&"'),
    max_size=40,
)


@given(binary=TEXT, attribute=TEXT, time=TEXT)
def test_detection_never_raises(binary: str, attribute: str, time: str) -> None:
    events = event(f"<scte35:Signal><scte35:Binary>{binary}</scte35:Binary></scte35:Signal>")
    events += event(insert().replace('spliceEventId="5"', f'spliceEventId="{attribute}"'))
    events += f'<Event presentationTime="{time}">{signal(0x34)}</Event>'
    detect_breaks(in_period(events))
