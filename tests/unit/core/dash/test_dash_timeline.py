"""Segment timelines (ISO/IEC 23009-1 §5.3.9), Period timing (§5.3.2.1), segment boundaries
and BaseURL resolution (§5.6), on small hand-written MPDs."""

import pytest

from edge_assembler.core.dash import Mpd, PeriodView, parse
from edge_assembler.core.dash.invariants import check
from edge_assembler.core.dash.model import resolve_period_times
from edge_assembler.core.dash.timeline import (
    Segment,
    audio_frame_duration,
    representation_base_urls,
    resolve_base_urls,
    segment_boundaries,
    segment_info,
    segments,
    timed_segments,
)
from edge_assembler.core.errors import ManifestError
from tests.dash_support import assert_mpegdash_agrees, schema_errors


def mpd_of(periods: str, attributes: str = 'mediaPresentationDuration="PT10S"') -> Mpd:
    return parse(
        f'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" {attributes}>{periods}</MPD>'.encode()
    )


def period_of(addressing: str, duration: str = "PT10S") -> PeriodView:
    """One Period with one Representation carrying ``addressing``."""
    (period,) = mpd_of(
        f'<Period duration="{duration}"><AdaptationSet mimeType="video/mp4">'
        f'<Representation id="v" bandwidth="1">{addressing}</Representation>'
        "</AdaptationSet></Period>",
        attributes="",
    ).periods
    return period


def listed(addressing: str, duration: str = "PT10S") -> list[tuple[int, float, float]]:
    period = period_of(addressing, duration)
    (representation,) = period.representations()
    return [
        (s.number, round(s.start, 6), round(s.duration, 6))
        for s in segments(period, representation)
    ]


@pytest.mark.parametrize(
    ("addressing", "duration", "expected"),
    [
        # §5.3.9.5.3: Ceil(Period duration / segment duration) segments from @startNumber.
        (
            '<SegmentTemplate timescale="1000" duration="2000" startNumber="5" media="$Number$"/>',
            "PT10S",
            [(5, 0, 2), (6, 2, 2), (7, 4, 2), (8, 6, 2), (9, 8, 2)],
        ),
        # The last segment is cut at the Period end.
        (
            '<SegmentTemplate duration="4" media="$Number$"/>',
            "PT9S",
            [(1, 0, 4), (2, 4, 4), (3, 8, 1)],
        ),
        ('<SegmentTemplate duration="5" startNumber="0"/>', "PT10S", [(0, 0, 5), (1, 5, 5)]),
        # §5.3.9.6: S@t defaults to the previous end, @r repeats.
        (
            '<SegmentTemplate><SegmentTimeline><S t="0" d="2" r="2"/><S d="1"/></SegmentTimeline>'
            "</SegmentTemplate>",
            "PT7S",
            [(1, 0, 2), (2, 2, 2), (3, 4, 2), (4, 6, 1)],
        ),
        # The first S@t defaults to 0; a later S@t leaves a gap.
        (
            '<SegmentTemplate><SegmentTimeline><S d="3"/><S t="5" d="3"/></SegmentTimeline>'
            "</SegmentTemplate>",
            "PT8S",
            [(1, 0, 3), (2, 5, 3)],
        ),
        # @r = -1 up to the Period end, in media time after presentationTimeOffset.
        (
            '<SegmentTemplate timescale="10" presentationTimeOffset="100"><SegmentTimeline>'
            '<S t="100" d="4" r="-1"/></SegmentTimeline></SegmentTemplate>',
            "PT2S",
            [(1, 0, 0.4), (2, 0.4, 0.4), (3, 0.8, 0.4), (4, 1.2, 0.4), (5, 1.6, 0.4)],
        ),
        # @r = -1 up to the next S@t.
        (
            '<SegmentTemplate><SegmentTimeline><S t="0" d="2" r="-1"/><S t="5" d="5"/>'
            "</SegmentTimeline></SegmentTemplate>",
            "PT10S",
            [(1, 0, 2), (2, 2, 2), (3, 4, 2), (4, 5, 5)],
        ),
        # S@n renumbers.
        (
            '<SegmentTemplate startNumber="3"><SegmentTimeline><S t="0" d="5"/><S d="5" n="10"/>'
            "</SegmentTimeline></SegmentTemplate>",
            "PT10S",
            [(3, 0, 5), (10, 5, 5)],
        ),
        # A first segment straddling the Period start keeps its start; past the end: dropped.
        (
            '<SegmentTemplate presentationTimeOffset="1"><SegmentTimeline><S t="0" d="2" r="9"/>'
            "</SegmentTimeline></SegmentTemplate>",
            "PT4S",
            [(1, -1, 2), (2, 1, 2), (3, 3, 1)],
        ),
        # A timeline wins over @duration.
        (
            '<SegmentTemplate duration="1"><SegmentTimeline><S d="5" r="1"/></SegmentTimeline>'
            "</SegmentTemplate>",
            "PT10S",
            [(1, 0, 5), (2, 5, 5)],
        ),
        # §5.3.9.3: one segment per SegmentURL.
        (
            '<SegmentList duration="2"><SegmentURL media="a"/><SegmentURL media="b"/>'
            '<SegmentURL media="c"/></SegmentList>',
            "PT6S",
            [(1, 0, 2), (2, 2, 2), (3, 4, 2)],
        ),
        (
            '<SegmentList timescale="1000"><SegmentTimeline><S d="1500" r="2"/></SegmentTimeline>'
            '<SegmentURL media="a"/><SegmentURL media="b"/></SegmentList>',
            "PT3S",
            [(1, 0, 1.5), (2, 1.5, 1.5)],
        ),
        ('<SegmentList><SegmentURL media="whole.mp4"/></SegmentList>', "PT10S", [(1, 0, 10)]),
        ("<SegmentList/>", "PT10S", []),
        # §5.3.9.2: SegmentBase, or nothing but a BaseURL, is one segment.
        ('<BaseURL>v.mp4</BaseURL><SegmentBase indexRange="0-99"/>', "PT10S", [(1, 0, 10)]),
        ("<BaseURL>v.mp4</BaseURL>", "PT6.5S", [(1, 0, 6.5)]),
        # A template with no timing source is one segment.
        ('<SegmentTemplate media="whole.mp4"/>', "PT10S", [(1, 0, 10)]),
    ],
)
def test_segments(addressing: str, duration: str, expected: list[tuple[int, float, float]]) -> None:
    assert listed(addressing, duration) == expected


@pytest.mark.parametrize(
    ("addressing", "reason"),
    [
        (
            '<SegmentTemplate><SegmentTimeline><S t="0" d="1" r="999999"/></SegmentTimeline>'
            "</SegmentTemplate>",
            "more than 100000 segments",
        ),
        ('<SegmentTemplate timescale="1000" duration="1"/>', "more than 100000 segments"),
        (
            '<SegmentTemplate><SegmentTimeline><S t="0"/></SegmentTimeline></SegmentTemplate>',
            "S without @d",
        ),
        (
            '<SegmentTemplate><SegmentTimeline><S d="0"/></SegmentTimeline></SegmentTemplate>',
            "S@d='0' is not a positive integer",
        ),
        (
            '<SegmentTemplate><SegmentTimeline><S d="1" r="-2"/></SegmentTimeline>'
            "</SegmentTemplate>",
            "S@r=-2 is below -1",
        ),
        ('<SegmentTemplate timescale="0" duration="1"/>', "SegmentTemplate@timescale='0'"),
        ('<SegmentTemplate duration="x"/>', "is not an unsigned integer"),
        ('<SegmentList duration="-1"><SegmentURL/></SegmentList>', "is not an unsigned integer"),
        ("<SegmentList><SegmentURL/><SegmentURL/></SegmentList>", "without @duration or timeline"),
    ],
)
def test_addressing_that_cannot_be_understood(addressing: str, reason: str) -> None:
    period = period_of(addressing, "PT1000S")
    (representation,) = period.representations()
    with pytest.raises(ManifestError, match=reason):
        segments(period, representation)


def test_an_open_period_needs_an_end() -> None:
    (period,) = mpd_of(
        '<Period id="live" start="PT100S"><AdaptationSet><SegmentTemplate timescale="1000" '
        'duration="2000"/><Representation id="v"/></AdaptationSet></Period>',
        'type="dynamic" availabilityStartTime="2024-01-01T00:00:00Z"',
    ).periods
    (representation,) = period.representations()
    with pytest.raises(ManifestError, match="needs the Period end"):
        segments(period, representation)
    assert [s.start for s in segments(period, representation, until=6.0)] == [0.0, 2.0, 4.0]
    assert timed_segments(period, representation, until=3.0)[1].time == 2000


def test_addressing_is_inherited_attribute_by_attribute() -> None:
    """ISO/IEC 23009-1 §5.3.9.1: Period -> AdaptationSet -> Representation."""
    (period,) = mpd_of(
        '<Period><SegmentTemplate timescale="10" media="p_$Number$" initialization="i.mp4"/>'
        '<AdaptationSet><SegmentTemplate duration="20" startNumber="3"/>'
        '<Representation id="r"><SegmentTemplate media="r_$Number$"/></Representation>'
        "</AdaptationSet></Period>"
    ).periods
    (representation,) = period.representations()
    info = segment_info(representation)
    assert (info.kind, len(info.chain), info.timescale, info.duration, info.start_number) == (
        "template",
        3,
        10,
        20,
        3,
    )
    assert (info.media, info.initialization) == ("r_$Number$", "i.mp4")
    assert segments(period, representation)[:2] == [Segment(3, 0.0, 2.0), Segment(4, 2.0, 2.0)]


def test_a_period_timeline_with_representation_urls() -> None:
    """As YouTube writes it: the Period's SegmentList times the Representations' URLs."""
    (period,) = mpd_of(
        '<Period><SegmentList timescale="1000" startNumber="7" presentationTimeOffset="500">'
        '<SegmentTimeline><S t="500" d="3000" r="1"/></SegmentTimeline></SegmentList>'
        '<AdaptationSet><Representation id="r"><SegmentList><SegmentURL media="a"/>'
        '<SegmentURL media="b"/></SegmentList></Representation></AdaptationSet></Period>'
    ).periods
    (representation,) = period.representations()
    assert segment_info(representation).kind == "list"
    assert segments(period, representation) == [Segment(7, 0.0, 3.0), Segment(8, 3.0, 3.0)]


def test_a_template_anywhere_wins_over_a_segment_base() -> None:
    (period,) = mpd_of(
        '<Period><AdaptationSet><SegmentTemplate duration="5"/><Representation id="r">'
        '<SegmentBase indexRange="0-10"/></Representation></AdaptationSet></Period>'
    ).periods
    (representation,) = period.representations()
    assert segment_info(representation).kind == "template"
    assert len(segments(period, representation)) == 2


@pytest.mark.parametrize(
    ("explicit", "dynamic", "total", "expected"),
    [
        # §5.3.2.1: the first static Period starts at 0, later ones where the previous ends;
        # the last lasts until mediaPresentationDuration.
        ([(None, 10.0), (None, 5.0), (None, None)], False, 30.0, [(0, 10), (10, 5), (15, 15)]),
        ([(0.0, None), (10.0, None)], False, None, [(0, 10), (10, None)]),
        # An explicit @duration stands even when the next @start disagrees (invariants tell).
        ([(0.0, 10.0), (12.0, None)], False, 20.0, [(0, 10), (12, 8)]),
        ([(None, None)], True, None, [(None, None)]),
        ([(100.0, None), (103.0, None)], True, None, [(100, 3), (103, None)]),
        # ISO Annex G.11: an unresolved xlink Period between Periods with only @duration.
        (
            [(None, 250.0), (None, None), (None, 344.0)],
            False,
            704.0,
            [(0, 250), (250, 110), (360, 344)],
        ),
        ([], False, 10.0, []),
    ],
)
def test_period_times(
    explicit: list[tuple[float | None, float | None]],
    dynamic: bool,
    total: float | None,
    expected: list[tuple[float | None, float | None]],
) -> None:
    assert resolve_period_times(explicit, dynamic=dynamic, total=total) == expected


def test_periods_of_a_multi_period_mpd() -> None:
    mpd = mpd_of(
        '<Period id="a" duration="PT9.6S"/><Period id="b" duration="PT9.6S"/>'
        '<Period id="c" start="PT19.2S"/>',
        'mediaPresentationDuration="PT30S"',
    )
    assert [(p.id, p.index, p.start, p.end) for p in mpd.periods] == [
        ("a", 0, 0.0, 9.6),
        ("b", 1, 9.6, 19.2),
        ("c", 2, 19.2, 30.0),
    ]


AV = """<Period duration="{duration}">
  <AdaptationSet contentType="video"><SegmentTemplate timescale="1000" duration="2000"/>
    <Representation id="v1"/><Representation id="v2"/></AdaptationSet>
  <AdaptationSet contentType="audio"><Representation id="a" codecs="mp4a.40.2"
    audioSamplingRate="48000">{audio}</Representation></AdaptationSet>
  <AdaptationSet contentType="text"><SegmentTemplate duration="3"/><Representation id="t"/>
  </AdaptationSet>
</Period>"""


@pytest.mark.parametrize(
    ("audio", "duration", "expected"),
    [
        # AAC segments of 94, 93, 94, 94 frames: within one frame (21.3 ms) of every 2 s.
        (
            '<SegmentTemplate timescale="48000"><SegmentTimeline><S d="96256"/><S d="95232"/>'
            '<S d="96256" r="1"/></SegmentTimeline></SegmentTemplate>',
            "PT8S",
            [0.0, 2.0, 4.0, 6.0, 8.0],
        ),
        ('<SegmentTemplate duration="4"/>', "PT8S", [0.0, 4.0, 8.0]),
        # 1.92 s audio against 2 s video meets again only after 48 s.
        ('<SegmentTemplate timescale="48000" duration="92160"/>', "PT48S", [0.0, 48.0]),
    ],
)
def test_segment_boundaries(audio: str, duration: str, expected: list[float]) -> None:
    (period,) = mpd_of(AV.format(audio=audio, duration=duration)).periods
    assert segment_boundaries(period) == expected


def test_segment_boundaries_of_a_period_without_media() -> None:
    assert segment_boundaries(mpd_of('<Period duration="PT4S"/>').periods[0]) == []
    (period,) = mpd_of(
        '<Period><AdaptationSet contentType="text"><SegmentTemplate duration="2"/>'
        '<Representation id="t"/></AdaptationSet></Period>',
        'mediaPresentationDuration="PT4S"',
    ).periods
    assert segment_boundaries(period) == [0.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("representation", "frame"),
    [
        ('codecs="mp4a.40.2" audioSamplingRate="48000"', 1024 / 48000),
        ('codecs="mp4a.40.2" audioSamplingRate="44100"', 1024 / 44100),
        ('codecs="ec-3" audioSamplingRate="48000"', 1536 / 48000),
        ('codecs="mp4a.40.2"', 1024 / 48000),
        ('mimeType="video/mp4"', 1024 / 48000),
    ],
)
def test_the_boundary_tolerance_is_one_audio_frame(representation: str, frame: float) -> None:
    (period,) = mpd_of(
        f'<Period><AdaptationSet mimeType="audio/mp4"><Representation id="r" {representation}/>'
        "</AdaptationSet></Period>"
    ).periods
    assert audio_frame_duration(period) == frame


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ((), ["https://o.example/a/b/manifest.mpd"]),
        ((["../media/"],), ["https://o.example/a/media/"]),
        (
            (["https://cdn1.example/x/", "https://cdn2.example/x/"], ["p/"], [], ["r/"]),
            ["https://cdn1.example/x/p/r/", "https://cdn2.example/x/p/r/"],
        ),
        ((["https://cdn1.example/"], ["https://ads.example/ad/"]), ["https://ads.example/ad/"]),
        (
            (["https://cdn1.example/", "https://cdn2.example/"], ["/abs/"]),
            ["https://cdn1.example/abs/", "https://cdn2.example/abs/"],
        ),
        ((["a/", "a/"],), ["https://o.example/a/b/a/"]),
    ],
)
def test_resolve_base_urls(levels: tuple[list[str], ...], expected: list[str]) -> None:
    assert resolve_base_urls("https://o.example/a/b/manifest.mpd", *levels) == expected


def test_representation_base_urls() -> None:
    mpd = mpd_of(
        "<BaseURL>https://cdn.example/vod/</BaseURL><BaseURL>https://backup.example/vod/</BaseURL>"
        "<Period><BaseURL>p1/</BaseURL><AdaptationSet><BaseURL>video/</BaseURL>"
        '<Representation id="r"><BaseURL> 720p/ </BaseURL></Representation>'
        "</AdaptationSet></Period>"
    )
    (representation,) = mpd.periods[0].representations()
    assert representation_base_urls("https://origin.example/m.mpd", mpd, representation) == [
        "https://cdn.example/vod/p1/video/720p/",
        "https://backup.example/vod/p1/video/720p/",
    ]


# The shape of ffmpeg 5.1's `-f dash -seg_duration 2 -use_template 1 -use_timeline 0` output
# for the demo content (REALCLIENT §2: 30 s, three H.264 Representations, en and fr AAC).
FFMPEG_DASH = b"""<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
\txmlns="urn:mpeg:dash:schema:mpd:2011"
\txmlns:xlink="http://www.w3.org/1999/xlink"
\txsi:schemaLocation="urn:mpeg:DASH:schema:MPD:2011 http://standards.iso.org/ittf/PubliclyAvailableStandards/MPEG-DASH_schema_files/DASH-MPD.xsd"
\tprofiles="urn:mpeg:dash:profile:isoff-live:2011"
\ttype="static"
\tmediaPresentationDuration="PT30.0S"
\tmaxSegmentDuration="PT2.0S"
\tminBufferTime="PT4.0S">
\t<ProgramInformation>
\t</ProgramInformation>
\t<Period id="0" start="PT0.0S">
\t\t<AdaptationSet id="0" contentType="video" startWithSAP="1" segmentAlignment="true" bitstreamSwitching="true" frameRate="25/1" maxWidth="1280" maxHeight="720" par="16:9">
\t\t\t<Representation id="0" mimeType="video/mp4" codecs="avc1.4d401e" bandwidth="500000" width="640" height="360" sar="1:1">
\t\t\t\t<SegmentTemplate timescale="1000000" duration="2000000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
\t\t\t\t</SegmentTemplate>
\t\t\t</Representation>
\t\t\t<Representation id="1" mimeType="video/mp4" codecs="avc1.4d401f" bandwidth="1000000" width="960" height="540" sar="1:1">
\t\t\t\t<SegmentTemplate timescale="1000000" duration="2000000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
\t\t\t\t</SegmentTemplate>
\t\t\t</Representation>
\t\t\t<Representation id="2" mimeType="video/mp4" codecs="avc1.4d401f" bandwidth="2000000" width="1280" height="720" sar="1:1">
\t\t\t\t<SegmentTemplate timescale="1000000" duration="2000000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
\t\t\t\t</SegmentTemplate>
\t\t\t</Representation>
\t\t</AdaptationSet>
\t\t<AdaptationSet id="1" contentType="audio" startWithSAP="1" segmentAlignment="true" bitstreamSwitching="true" lang="en">
\t\t\t<Representation id="3" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="96000" audioSamplingRate="48000">
\t\t\t\t<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2" />
\t\t\t\t<SegmentTemplate timescale="1000000" duration="2000000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
\t\t\t\t</SegmentTemplate>
\t\t\t</Representation>
\t\t</AdaptationSet>
\t\t<AdaptationSet id="2" contentType="audio" startWithSAP="1" segmentAlignment="true" bitstreamSwitching="true" lang="fr">
\t\t\t<Representation id="4" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="96000" audioSamplingRate="48000">
\t\t\t\t<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2" />
\t\t\t\t<SegmentTemplate timescale="1000000" duration="2000000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
\t\t\t\t</SegmentTemplate>
\t\t\t</Representation>
\t\t</AdaptationSet>
\t</Period>
</MPD>
"""  # noqa: E501 (ffmpeg writes these long lines)


def test_the_ffmpeg_dash_output() -> None:
    mpd = parse(FFMPEG_DASH)
    (period,) = mpd.periods
    assert (period.id, period.start, period.duration) == ("0", 0.0, 30.0)
    assert [(a.id, a.content_type, a.lang) for a in period.adaptation_sets] == [
        ("0", "video", None),
        ("1", "audio", "en"),
        ("2", "audio", "fr"),
    ]
    expected = [Segment(n, 2.0 * (n - 1), 2.0) for n in range(1, 16)]
    for representation in period.representations():
        assert segments(period, representation) == expected
    assert segment_boundaries(period) == [2.0 * k for k in range(16)]
    assert check(mpd) == []
    assert schema_errors(FFMPEG_DASH) == []
    assert_mpegdash_agrees(FFMPEG_DASH)
