"""Compose on an MPD: a static presentation made of time ranges of the edited MPD and others."""

import pytest
from hypothesis import given, settings, strategies as st

from edge_assembler.core.dash import Mpd, parse, render
from edge_assembler.core.dash.edits.compose import apply_compose
from edge_assembler.core.dash.elements import children
from edge_assembler.core.dash.events import detect_breaks
from edge_assembler.core.edits.compose import Compose, Range
from edge_assembler.core.edits.seams import EditError
from tests.dash_support import assert_mpegdash_agrees, assert_sound, times

SELF_URL = "https://cdn.example.com/s1e2/manifest.mpd"
EPISODE_URL = "https://cdn.example.com/s1e1/manifest.mpd"


def content(seconds: int, name: str, *, mpd: str = 'type="static"', period: str = "") -> Mpd:
    template = (
        '<SegmentTemplate timescale="1000" duration="2000" startNumber="1" '
        f'media="{name}-$RepresentationID$-$Number$.m4s"/>'
    )
    total = f' mediaPresentationDuration="PT{seconds}S"' if 'type="static"' in mpd else ""
    return parse(
        f'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" {mpd}{total}>'
        f'<Period id="{name}"{period}><AdaptationSet id="0" contentType="video">'
        f'<Representation id="v" mimeType="video/mp4" bandwidth="1">{template}</Representation>'
        '</AdaptationSet><AdaptationSet id="1" contentType="audio" lang="en">'
        f'<Representation id="a" mimeType="audio/mp4" bandwidth="1">{template}</Representation>'
        "</AdaptationSet></Period></MPD>".encode()
    )


SELF = content(30, "e2")
FETCHED = {"s1e1": content(30, "e1")}


def part(source: str, start: float, end: float, role: str = "content") -> Range:
    url = SELF_URL if source == "self" else EPISODE_URL
    return Range(source=source, source_url=url, start=start, end=end, role=role)  # type: ignore[arg-type]


def compose(mpd: Mpd, *ranges: Range) -> Mpd:
    return apply_compose(mpd, Compose(ranges=ranges), FETCHED)


def test_three_ranges() -> None:
    edited = compose(SELF, part("self", 0, 10), part("s1e1", 20, 26, "recap"), part("self", 10, 30))
    assert times(edited) == [
        ("e2", 0.0, 10.0),
        ("s1e1_PT20S", 10.0, 6.0),
        ("e2_PT10S", 16.0, 20.0),
    ]
    assert edited.media_presentation_duration == 36.0
    recap, resumed = edited.periods[1], edited.periods[2]
    assert recap.base_urls == ("https://cdn.example.com/s1e1/",)
    (template,) = recap.adaptation_sets[0].element.iter("{*}SegmentTemplate")
    assert (template.get("presentationTimeOffset"), template.get("startNumber")) == ("20000", "11")
    # SPEC_RULES 83: no period-continuity across inserted content (the recap).
    assert children(resumed.adaptation_sets[0].element, "SupplementalProperty") == []
    assert_sound(SELF, edited)


def test_ranges_snap_to_the_nearest_boundaries() -> None:
    assert times(compose(SELF, part("self", 1.1, 7.2))) == [("e2_PT2S", 0.0, 6.0)]
    assert times(compose(SELF, part("self", 0.9, 6.9))) == [("e2", 0.0, 6.0)]


def test_the_same_range_twice_gets_unique_ids() -> None:
    edited = compose(SELF, part("self", 0, 4), part("self", 0, 4))
    assert [p.id for p in edited.periods] == ["e2", "e2-2"]


def test_ad_ranges_carry_ad_signalling() -> None:
    edited = compose(SELF, part("self", 0, 10), part("s1e1", 0, 4, "ad"), part("self", 10, 30))
    assert [(b.start, b.duration, b.period_id) for b in detect_breaks(edited)] == [
        (10.0, 4.0, "s1e1_PT0S")
    ]


def test_a_live_mpd_becomes_static() -> None:
    live = content(
        30,
        "live",
        mpd='type="dynamic" availabilityStartTime="2026-01-01T00:00:00Z" minimumUpdatePeriod="PT2S"'
        ' timeShiftBufferDepth="PT60S" suggestedPresentationDelay="PT6S"',
        period=' start="PT0S" duration="PT30S"',
    )
    live = parse(
        render(live).replace(
            b"<Period", b"<Location>https://origin.example/live.mpd</Location><Period", 1
        )
    )
    edited = compose(live, part("self", 4, 12))
    assert not edited.dynamic
    assert edited.media_presentation_duration == 8.0
    live_only = {"minimumUpdatePeriod", "timeShiftBufferDepth", "suggestedPresentationDelay"}
    assert live_only.isdisjoint(edited.root.attrib)
    assert children(edited.root, "Location") == []
    assert times(edited) == [("live_PT4S", 0.0, 8.0)]
    assert_mpegdash_agrees(render(edited))


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ((part("self", 5, 5),), "is empty"),
        ((part("self", 5.2, 5.6),), "holds no whole segment"),
        ((Range(source="nope", source_url=EPISODE_URL, start=0, end=4),), "was not fetched"),
    ],
)
def test_refusals(ranges: tuple[Range, ...], message: str) -> None:
    with pytest.raises(EditError, match=message):
        compose(SELF, *ranges)


@settings(max_examples=30)
@given(
    st.lists(
        st.tuples(st.sampled_from(["self", "s1e1"]), st.integers(0, 14), st.integers(1, 8)),
        min_size=1,
        max_size=4,
    )
)
def test_a_composition_lasts_its_ranges(chosen: list[tuple[str, int, int]]) -> None:
    ranges = [
        part(source, 2 * start, 2 * min(start + length, 15)) for source, start, length in chosen
    ]
    edited = compose(SELF, *ranges)
    total = sum(r.end - r.start for r in ranges)
    assert edited.media_presentation_duration == pytest.approx(total)
    starts = [p.start for p in edited.periods]
    assert starts == pytest.approx([0.0, *(p.end for p in edited.periods[:-1])])
    assert_sound(SELF, edited)
