"""Trim on an MPD: the first seconds of a static presentation, cut at the last common segment
boundary at or before them; later Periods and Events go. Also: an empty plan (and an edit
that changes nothing) leaves the MPD byte for byte as it came."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import assert_never

import pytest
from hypothesis import given, settings, strategies as st

from edge_assembler.core.dash import Mpd, parse, render
from edge_assembler.core.dash.edits import (
    apply_compose,
    apply_insert_run,
    apply_replace_break,
    apply_trim,
)
from edge_assembler.core.edits.compose import Compose
from edge_assembler.core.edits.replace_break import ReplaceBreak
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.edits.splice import InsertRun
from edge_assembler.core.edits.trim import Trim
from tests.dash_support import assert_sound, times

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "dash"
PeriodEdit = InsertRun | ReplaceBreak | Trim | Compose


def apply_plan(mpd: Mpd, edits: Sequence[PeriodEdit], fetched: Mapping[str, Mpd]) -> Mpd:
    for edit in edits:
        match edit:
            case InsertRun():
                mpd = apply_insert_run(mpd, edit, fetched)
            case ReplaceBreak():
                mpd = apply_replace_break(mpd, edit, fetched)
            case Trim():
                mpd = apply_trim(mpd, edit, fetched)
            case Compose():
                mpd = apply_compose(mpd, edit, fetched)
            case _:
                assert_never(edit)
    return mpd


def content(seconds: int = 30, *, segment: int = 2, events: str = "", periods: int = 1) -> Mpd:
    """Static content of ``periods`` Periods of ``seconds`` each, ``segment``-second segments."""
    template = (
        f'<SegmentTemplate timescale="1000" duration="{segment * 1000}" startNumber="1" '
        'media="$RepresentationID$-$Number$.m4s"/>'
    )
    body = "".join(
        f'<Period id="p{i}" duration="PT{seconds}S">{events}'
        f'<AdaptationSet id="0" contentType="video"><Representation id="v" mimeType="video/mp4" '
        f'bandwidth="1">{template}</Representation></AdaptationSet>'
        f'<AdaptationSet id="1" contentType="audio" lang="en"><Representation id="a" '
        f'mimeType="audio/mp4" bandwidth="1">{template}</Representation></AdaptationSet></Period>'
        for i in range(periods)
    )
    total = seconds * periods
    return parse(
        f'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
        f'mediaPresentationDuration="PT{total}S">{body}</MPD>'.encode()
    )


def trim(mpd: Mpd, seconds: float) -> Mpd:
    return apply_trim(mpd, Trim(duration=seconds), {})


@pytest.mark.parametrize(
    ("seconds", "kept"),
    [
        (15.0, 14.0),
        (14.0, 14.0),
        (13.95, 14.0),  # a boundary less than TOLERANCE after it counts as at it
        (2.5, 2.0),
    ],
)
def test_the_cut_goes_at_the_boundary_before(seconds: float, kept: float) -> None:
    mpd = content()
    edited = trim(mpd, seconds)
    assert times(edited) == [("p0", 0.0, kept)]
    assert edited.media_presentation_duration == kept
    assert_sound(mpd, edited)


def test_a_trim_that_leaves_no_segment_is_refused() -> None:
    with pytest.raises(EditError, match="leaves no segment"):
        trim(content(), 1.5)


def test_later_periods_and_events_go() -> None:
    events = (
        '<EventStream schemeIdUri="urn:example:chapters" timescale="1">'
        '<Event presentationTime="3" id="1"/><Event presentationTime="8" id="2"/></EventStream>'
    )
    mpd = content(10, events=events, periods=3)
    edited = trim(mpd, 15.0)
    assert times(edited) == [("p0", 0.0, 10.0), ("p1", 10.0, 4.0)]
    assert [e.id for s in edited.periods[1].event_streams for e in s.events] == ["1"]
    assert edited.media_presentation_duration == 14.0
    assert_sound(mpd, edited)


def test_at_a_period_boundary_the_next_period_goes_whole() -> None:
    edited = trim(content(10, periods=3), 20.05)
    assert times(edited) == [("p0", 0.0, 10.0), ("p1", 10.0, 10.0)]


def test_at_or_past_the_end_nothing_changes() -> None:
    mpd = content()
    assert trim(mpd, 30.0) is mpd
    assert trim(mpd, 1e9) is mpd


def test_live_mpds_are_not_trimmed() -> None:
    live = parse(render(content()).replace(b'type="static"', b'type="dynamic"'))
    with pytest.raises(EditError, match="static"):
        trim(live, 10.0)


def test_the_corpus_three_periods() -> None:
    corpus = parse((CORPUS / "dashmpdrs__dashif-ad-insertion-tc1-gpac-3-periods.mpd").read_bytes())
    edited = trim(corpus, 12.0)
    assert [(round(p.start or 0, 3), round(p.duration or 0, 3)) for p in edited.periods] == [
        (0.0, 9.6),
        (9.6, 1.92),  # its video has 1.92 s segments
    ]
    assert_sound(corpus, edited)


@settings(max_examples=40)
@given(segment=st.sampled_from([1, 2, 3]), periods=st.integers(1, 3), seconds=st.floats(0, 40))
def test_a_trim_keeps_whole_segments_up_to_the_duration(
    segment: int, periods: int, seconds: float
) -> None:
    mpd = content(12, segment=segment, periods=periods)
    try:
        edited = trim(mpd, seconds)
    except EditError:
        assert seconds < segment - 0.1
        return
    end = edited.periods[-1].end
    assert end is not None
    assert end <= seconds + 0.1 or end == 12 * periods
    assert end > seconds - segment - 1e-9 or end == 12 * periods
    assert_sound(mpd, edited)


# --- an empty plan -------------------------------------------------------------------------

CORPUS_MPDS = sorted(CORPUS.glob("*.mpd"))


@pytest.mark.parametrize("path", CORPUS_MPDS, ids=lambda p: p.name)
def test_an_empty_plan_is_the_identity_on_the_corpus(path: Path) -> None:
    data = path.read_bytes()
    mpd = parse(data)
    assert render(apply_plan(mpd, (), {})) == render(mpd)


@given(seconds=st.integers(1, 60), segment=st.sampled_from([1, 2, 4]), beyond=st.floats(0, 100))
def test_edits_that_change_nothing_are_the_identity(
    seconds: int, segment: int, beyond: float
) -> None:
    mpd = content(seconds, segment=segment)
    before = render(mpd)
    assert render(apply_plan(mpd, (), {})) == before
    assert render(apply_plan(mpd, (Trim(duration=seconds + beyond),), {})) == before
