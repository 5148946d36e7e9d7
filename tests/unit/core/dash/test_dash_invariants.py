"""invariants.check: one hand-written MPD per broken rule, and clean MPDs stay clean."""

import pytest

from edge_assembler.core.dash import parse
from edge_assembler.core.dash.invariants import check

HEAD = '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" '
LIVE = (
    'type="dynamic" availabilityStartTime="2024-01-01T00:00:00Z" publishTime="2024-01-01T01:00:00Z"'
)
VIDEO = (
    '<AdaptationSet id="1" contentType="video"><SegmentTemplate duration="2" media="v$Number$"/>'
    '<Representation id="v"/></AdaptationSet>'
)


def problems(attributes: str, periods: str) -> list[str]:
    return check(parse(f"{HEAD}{attributes}>{periods}</MPD>".encode()))


CLEAN = [
    ('mediaPresentationDuration="PT10S"', f'<Period id="a">{VIDEO}</Period>'),
    (
        'mediaPresentationDuration="PT12S"',
        f'<Period id="a" duration="PT4S">{VIDEO}</Period>'
        f'<Period id="b" start="PT4S" duration="PT8S">{VIDEO}</Period>',
    ),
    (LIVE + ' minimumUpdatePeriod="PT2S"', f'<Period id="live" start="PT0S">{VIDEO}</Period>'),
    # A dynamic MPD without minimumUpdatePeriod is fine once its end is known.
    (LIVE + ' mediaPresentationDuration="PT6S"', f'<Period id="p" start="PT0S">{VIDEO}</Period>'),
    # The same ids in different Periods and EventStreams are fine.
    (
        'mediaPresentationDuration="PT4S"',
        '<Period id="a" duration="PT2S">'
        '<EventStream schemeIdUri="urn:a"><Event id="1"/></EventStream>'
        f'<EventStream schemeIdUri="urn:b"><Event id="1"/></EventStream>{VIDEO}</Period>'
        '<Period id="b"><EventStream schemeIdUri="urn:a"><Event id="2"/></EventStream>'
        f"{VIDEO}</Period>",
    ),
]


@pytest.mark.parametrize(("attributes", "periods"), CLEAN)
def test_clean_mpds_have_no_problems(attributes: str, periods: str) -> None:
    assert problems(attributes, periods) == []


@pytest.mark.parametrize(
    ("attributes", "periods", "expected"),
    [
        (
            "",
            "<Period/>",
            [
                "SPEC_RULES 74: static MPD without mediaPresentationDuration or a last "
                "Period@duration"
            ],
        ),
        (
            'type="dynamic"',
            '<Period id="p" start="PT0S"/>',
            [
                "SPEC_RULES 74: dynamic MPD without availabilityStartTime",
                "SPEC_RULES 74: dynamic MPD without publishTime (mandatory per DASH-IF IOP)",
                "SPEC_RULES 74: dynamic MPD with an open end but no minimumUpdatePeriod "
                "(it would never update)",
            ],
        ),
        (
            'mediaPresentationDuration="PT20S"',
            '<Period id="a" start="PT10S" duration="PT10S"/><Period id="b" start="PT5S"/>',
            [
                "SPEC_RULES 75: Period 1 (id 'a', line 1): first Period of a static MPD, "
                "starts at 10 s",
                "SPEC_RULES 75: Period 2 (id 'b', line 1): starts at 5 s, "
                "before Period 1 (id 'a', line 1) (10 s)",
            ],
        ),
        (
            'mediaPresentationDuration="PT22S"',
            '<Period id="a" duration="PT10S"/>\n<Period id="b" start="PT12S" duration="PT10S"/>',
            [
                "SPEC_RULES 75: Period 2 (id 'b', line 2): starts at 12 s, "
                "the previous Period ends at 10 s"
            ],
        ),
        (
            'mediaPresentationDuration="PT10S"',
            '<Period id="a"/><Period id="b"/>',
            ["SPEC_RULES 75: Period 2 (id 'b', line 1): its start cannot be resolved"],
        ),
        (
            'mediaPresentationDuration="PT30S"',
            '<Period id="a" duration="PT20S"/>',
            [
                "SPEC_RULES 75: mediaPresentationDuration 30 s, but Period 1 (id 'a', line 1) "
                "ends at 20 s"
            ],
        ),
        (
            'mediaPresentationDuration="PT30S"',
            '<Period id="a" duration="PT40S"/><Period id="b" duration="PT5S"/>',
            [
                "SPEC_RULES 75: Period 2 (id 'b', line 1): starts at 40 s, after the presentation "
                "end 30 s"
            ],
        ),
        (
            'mediaPresentationDuration="PT4S"',
            '<Period id="a" duration="PT2S"/><Period id="a"/>',
            ["SPEC_RULES 76: Period@id 'a' is used 2 times"],
        ),
        (
            LIVE + ' minimumUpdatePeriod="PT2S"',
            '<Period start="PT0S"/>',
            ["SPEC_RULES 76: Period 1 (line 1): no @id in a dynamic MPD"],
        ),
        (
            'mediaPresentationDuration="PT2S"',
            '<Period id="p"><AdaptationSet id="1"><Representation id="r"/></AdaptationSet>'
            '<AdaptationSet id="1"><Representation id="r"/><Representation id="s"/></AdaptationSet>'
            "</Period>",
            [
                "ISO 23009-1 5.3.3.2/5.3.5.2: Period 1 (id 'p', line 1): AdaptationSet@id '1' is "
                "used 2 times",
                "ISO 23009-1 5.3.3.2/5.3.5.2: Period 1 (id 'p', line 1): Representation@id 'r' is "
                "used 2 times",
            ],
        ),
    ],
)
def test_period_level_rules(attributes: str, periods: str, expected: list[str]) -> None:
    assert problems(attributes, periods) == expected


def template(addressing: str) -> str:
    return (
        '<Period id="p"><AdaptationSet id="1">'
        f'{addressing}<Representation id="r1"/><Representation id="r2"/></AdaptationSet></Period>'
    )


PLACE = "Period 1 (id 'p', line 1), SegmentTemplate line 1"


@pytest.mark.parametrize(
    ("addressing", "expected"),
    [
        (
            '<SegmentTemplate media="$Number$.m4s"/>',
            [f"SPEC_RULES 81: {PLACE}: SegmentTemplate without @duration or SegmentTimeline"],
        ),
        (
            '<SegmentTemplate duration="2" media="$Time$.m4s"/>',
            [f"SPEC_RULES 81: {PLACE}: $Time$ without SegmentTimeline"],
        ),
        (
            '<SegmentTemplate media="$Number$-$Time$.m4s"><SegmentTimeline><S d="2" r="-1"/>'
            "</SegmentTimeline></SegmentTemplate>",
            [f"SPEC_RULES 81: {PLACE}: $Number$ and $Time$ in one template"],
        ),
        (
            '<SegmentTemplate><SegmentTimeline><S t="0" d="4"/><S t="2" d="4" r="-1"/>'
            "</SegmentTimeline></SegmentTemplate>",
            [f"SPEC_RULES 81: {PLACE}: S (line 1) starts at 2, before the last S ends (4)"],
        ),
        # SPEC_RULES 79: a first segment wholly before presentationTimeOffset.
        (
            '<SegmentTemplate presentationTimeOffset="10"><SegmentTimeline><S d="2" r="-1"/>'
            "</SegmentTimeline></SegmentTemplate>",
            [
                f"SPEC_RULES 79: {PLACE}: the first segment ends at 2, not after "
                "presentationTimeOffset 10"
            ],
        ),
        # ... but one that straddles the Period start is trimmed, and fine.
        (
            '<SegmentTemplate presentationTimeOffset="1"><SegmentTimeline><S t="0" d="2" r="-1"/>'
            "</SegmentTimeline></SegmentTemplate>",
            [],
        ),
        # SPEC_RULES 82: a static Representation covers its Period from the start.
        (
            '<SegmentTemplate timescale="10"><SegmentTimeline><S t="30" d="20" r="-1"/>'
            "</SegmentTimeline></SegmentTemplate>",
            [f"SPEC_RULES 82: {PLACE}: the first segment starts 3 s after the Period start"],
        ),
        (
            '<SegmentTemplate><SegmentTimeline><S d="0"/></SegmentTimeline></SegmentTemplate>',
            [
                f"{rule}: cannot check: line 1: S@d='0' is not a positive integer"
                for rule in ("SPEC_RULES 81", "SPEC_RULES 79", "SPEC_RULES 82")
            ],
        ),
    ],
)
def test_addressing_rules(addressing: str, expected: list[str]) -> None:
    assert problems('mediaPresentationDuration="PT10S"', template(addressing)) == expected


def test_a_start_gap_is_normal_in_a_live_mpd() -> None:
    periods = (
        '<Period id="p" start="PT0S" duration="PT400S"><AdaptationSet><SegmentTemplate>'
        '<SegmentTimeline><S t="300" d="2" r="-1"/></SegmentTimeline></SegmentTemplate>'
        '<Representation id="r"/></AdaptationSet></Period>'
    )
    assert problems(LIVE + ' minimumUpdatePeriod="PT2S"', periods) == []


def split(start_number: int, link: str) -> str:
    """A 12 s asset split at 6 s around a 4 s ad ($Number$, 2 s segments); the two content
    Periods are tied by ``link``: "asset", "continuity", "connectivity" or nothing."""
    asset = '<AssetIdentifier schemeIdUri="urn:org:dashif:asset-id:2013" value="x"/>'
    tie = f'<SupplementalProperty schemeIdUri="urn:mpeg:dash:period-{link}:2015" value="c1"/>'
    content = (
        '<AdaptationSet id="1">{tie}<SegmentTemplate timescale="1000" duration="2000" '
        'media="c$Number$" startNumber="{number}" presentationTimeOffset="{pto}"/>'
        '<Representation id="v"/></AdaptationSet>'
    )
    first_asset = asset if link == "asset" else ""
    second_tie = tie if link in {"continuity", "connectivity"} else ""
    return (
        f'<Period id="c1" duration="PT6S">{first_asset}{content.format(tie="", number=1, pto=0)}'
        '</Period><Period id="ad" duration="PT4S"><AdaptationSet id="1"><SegmentTemplate '
        'duration="2" media="ad$Number$"/><Representation id="v"/></AdaptationSet></Period>'
        f'<Period id="c2" duration="PT6S">{first_asset}'
        f"{content.format(tie=second_tie, number=start_number, pto=6000)}</Period>"
    )


@pytest.mark.parametrize("link", ["asset", "continuity", "connectivity"])
def test_split_content_continues_its_numbers(link: str) -> None:
    assert problems('mediaPresentationDuration="PT16S"', split(4, link)) == []


@pytest.mark.parametrize(
    ("start_number", "expected"),
    [
        (3, "has segment 3 at 6000, Period 1 (id 'c1', line 1) has it at 4000"),
        (1, "has segment 1 at 6000, Period 1 (id 'c1', line 1) has it at 0"),
    ],
)
def test_split_content_with_a_wrong_start_number(start_number: int, expected: str) -> None:
    found = problems('mediaPresentationDuration="PT16S"', split(start_number, "asset"))
    assert found == [f"SPEC_RULES 80: Period 3 (id 'c2', line 1): Representation 'v' {expected}"]


def test_numbers_of_unrelated_periods_are_not_compared() -> None:
    # Without a tie, media time may start again in each Period; nothing to compare.
    assert problems('mediaPresentationDuration="PT16S"', split(1, "")) == []


def test_event_ids_are_unique_within_a_stream() -> None:
    periods = (
        '<Period id="p"><EventStream schemeIdUri="urn:scte:scte35:2014:xml+bin">'
        '<Event id="1"/><Event id="2"/><Event id="1"/></EventStream></Period>'
    )
    assert problems('mediaPresentationDuration="PT2S"', periods) == [
        "SPEC_RULES 91: Period 1 (id 'p', line 1): EventStream 'urn:scte:scte35:2014:xml+bin' "
        "(line 1) uses Event@id '1' 2 times"
    ]


def test_continuity_names_an_earlier_period() -> None:
    periods = (
        '<Period id="a" duration="PT2S"><AdaptationSet><SupplementalProperty '
        'schemeIdUri="urn:mpeg:dash:period-continuity:2015" value="b"/></AdaptationSet></Period>'
        '<Period id="b"/>'
    )
    assert problems('mediaPresentationDuration="PT4S"', periods) == [
        "SPEC_RULES 83: Period 1 (id 'a', line 1): urn:mpeg:dash:period-continuity:2015 names "
        "'b', not an earlier Period@id"
    ]
