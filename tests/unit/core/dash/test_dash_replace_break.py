"""ReplaceBreak on an MPD: the break's span filled with the pod (trimmed at a segment boundary,
padded with slate), in static and live MPDs, with the origin's markers kept, translated or
removed; a live break gets the same Periods on every MPD update."""

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from lxml import etree

from edge_assembler.core.dash import Mpd, parse
from edge_assembler.core.dash.edits.replace_break import apply_replace_break
from edge_assembler.core.dash.events import detect_breaks
from edge_assembler.core.edits.replace_break import ReplaceBreak
from edge_assembler.core.edits.seams import EditError
from tests.dash_support import assert_sound, c14n, times

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "dash"
SCTE = "http://www.scte.org/schemas/35/2016"


def cue(event_id: int, ticks: int, duration: int | None, *, out: bool = True) -> str:
    """A SCTE-35 splice_insert Event (90 kHz) in XML, with ``Event@id`` = ``ticks``."""
    length = "" if duration is None else f'<scte35:BreakDuration duration="{duration}"/>'
    return (
        f'<Event presentationTime="{ticks}" id="{ticks}">'
        '<scte35:SpliceInfoSection ptsAdjustment="0">'
        f'<scte35:SpliceInsert spliceEventId="{event_id}" '
        f'outOfNetworkIndicator="{str(out).lower()}" spliceImmediateFlag="false">{length}'
        "</scte35:SpliceInsert></scte35:SpliceInfoSection></Event>"
    )


def content(seconds: int = 30, *, events: str = "", segment: int = 2) -> Mpd:
    """Static ffmpeg-shaped content (one video, en/fr audio) with SCTE-35 ``events``."""
    template = (
        f'<SegmentTemplate timescale="1000" duration="{segment * 1000}" startNumber="1" '
        'media="c-$RepresentationID$-$Number$.m4s" initialization="c-$RepresentationID$.m4s"/>'
    )
    audio = "".join(
        f'<AdaptationSet id="{i}" contentType="audio" lang="{lang}"><Representation id="{i}" '
        f'mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="1">{template}</Representation>'
        "</AdaptationSet>"
        for i, lang in ((1, "en"), (2, "fr"))
    )
    scheme = 'schemeIdUri="urn:scte:scte35:2013:xml" timescale="90000"'
    stream = f"<EventStream {scheme}>{events}</EventStream>" if events else ""
    return parse(
        f'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:scte35="{SCTE}" type="static" '
        f'mediaPresentationDuration="PT{seconds}S" maxSegmentDuration="PT{segment}S">'
        f'<Period id="0">{stream}<AdaptationSet id="0" contentType="video"><Representation id="0" '
        f'mimeType="video/mp4" codecs="avc1.4d401f" bandwidth="1">{template}</Representation>'
        f"</AdaptationSet>{audio}</Period></MPD>".encode()
    )


def clip(seconds: int, name: str, *, segment: int = 2) -> Mpd:
    """A static ad/slate MPD: one video and one English audio AdaptationSet."""
    template = (
        f'<SegmentTemplate timescale="1000" duration="{segment * 1000}" '
        f'media="{name}-$RepresentationID$-$Number$.m4s"/>'
    )
    return parse(
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
        f'mediaPresentationDuration="PT{seconds}S"><Period>'
        '<AdaptationSet id="0" contentType="video">'
        f'<Representation id="v" mimeType="video/mp4" bandwidth="1">{template}</Representation>'
        '</AdaptationSet><AdaptationSet id="1" contentType="audio" lang="en">'
        f'<Representation id="a" mimeType="audio/mp4" bandwidth="1">{template}</Representation>'
        "</AdaptationSet></Period></MPD>".encode()
    )


FETCHED = {
    "ad": clip(10, "ad"),
    "short": clip(6, "short"),
    "promo": clip(9, "promo", segment=3),
    "slate": clip(4, "slate"),
}


def replace(mpd: Mpd, pod: tuple[str, ...], **fields: object) -> Mpd:
    urls = tuple(f"https://ads.example.com/{key}/manifest.mpd" for key in pod)
    if fields.get("slate"):
        fields.setdefault("slate_url", "https://ads.example.com/slate/manifest.mpd")
    break_id = str(fields.pop("break_id", "7"))
    edit = ReplaceBreak(break_id=break_id, pod=pod, pod_urls=urls, **fields)  # type: ignore[arg-type]
    return apply_replace_break(mpd, edit, FETCHED)


BREAK_AT_10_FOR_10 = cue(7, 900000, 900000)


# --- static --------------------------------------------------------------------------------


def test_a_pod_that_fits_exactly() -> None:
    mpd = content(events=BREAK_AT_10_FOR_10)
    edited = replace(mpd, ("ad",))
    assert times(edited) == [("0", 0.0, 10.0), ("7_PT10S_1", 10.0, 10.0), ("0_PT20S", 20.0, 10.0)]
    assert edited.media_presentation_duration == 30.0
    after = edited.periods[2].adaptation_sets[0].representations[0].segment_info
    assert (after.presentation_time_offset, after.start_number) == (20000, 11)
    assert_sound(mpd, edited)


def test_the_pod_is_cut_at_a_segment_boundary_and_padded_with_slate() -> None:
    mpd = content(events=cue(7, 900000, 1260000))  # 14 s
    edited = replace(mpd, ("ad", "promo", "ad"), slate="slate")
    assert times(edited) == [
        ("0", 0.0, 10.0),
        ("7_PT10S_1", 10.0, 10.0),  # ad: 10 s
        ("7_PT10S_2", 20.0, 3.0),  # promo, 3 s segments: 3 s of 4 s left
        ("7_PT10S_3", 23.0, 1.0),  # slate, cut to the exact remainder
        ("0_PT24S", 24.0, 6.0),
    ]
    assert_sound(mpd, edited)


def test_the_slate_repeats_while_it_fits() -> None:
    mpd = content(events=cue(7, 900000, 900000))
    edited = replace(mpd, ("short",), slate="slate")
    assert times(edited)[1:4] == [
        ("7_PT10S_1", 10.0, 6.0),
        ("7_PT10S_2", 16.0, 4.0),
        ("0_PT20S", 20.0, 10.0),
    ]


def test_without_slate_a_static_presentation_resumes_early() -> None:
    mpd = content(events=BREAK_AT_10_FOR_10)
    edited = replace(mpd, ("short",))
    assert times(edited) == [("0", 0.0, 10.0), ("7_PT10S_1", 10.0, 6.0), ("0_PT20S", 16.0, 10.0)]
    assert edited.media_presentation_duration == 26.0


def test_the_span_snaps_to_segment_boundaries() -> None:
    mpd = content(events=cue(7, 873000, 882000))  # 9.7 s for 9.8 s
    edited = replace(mpd, ("ad",))
    assert times(edited) == [("0", 0.0, 10.0), ("7_PT10S_1", 10.0, 10.0), ("0_PT20S", 20.0, 10.0)]


def test_creative_ids_and_the_marker() -> None:
    mpd = content(events=BREAK_AT_10_FOR_10)
    edited = replace(mpd, ("short", "short"), marker_id="ch1-7", creative_ids=("c1", "c2"))
    assert [p.asset_identifier.value for p in edited.periods[1:3] if p.asset_identifier] == [
        "c1",
        "c2",
    ]
    assert times(edited)[1:3] == [("ch1-7_PT10S_1", 10.0, 6.0), ("ch1-7_PT10S_2", 16.0, 4.0)]
    assert [(b.start, b.duration) for b in detect_breaks(edited)] == [(10.0, 10.0)]


# --- markers -------------------------------------------------------------------------------

WITH_IN = BREAK_AT_10_FOR_10 + cue(7, 1800000, None, out=False)


def event_ids(mpd: Mpd, index: int) -> list[str | None]:
    return [e.id for s in mpd.periods[index].event_streams for e in s.events]


def test_translate_drops_the_origin_cues_and_writes_ours() -> None:
    edited = replace(content(events=WITH_IN), ("ad",))
    assert event_ids(edited, 0) == []
    assert event_ids(edited, 1) == ["7"]  # ours: splice_insert 7, the break's id
    assert event_ids(edited, 2) == []
    assert [(b.id, b.start, b.duration, b.period_id) for b in detect_breaks(edited)] == [
        ("7", 10.0, 10.0, "7_PT10S_1")
    ]


def test_keep_moves_the_out_cue_and_leaves_the_in_cue() -> None:
    edited = replace(content(events=WITH_IN), ("ad",), markers="keep")
    assert event_ids(edited, 1) == ["900000"]
    (moved,) = edited.periods[1].event_streams[0].events
    assert moved.presentation_time == 0
    assert event_ids(edited, 2) == ["1800000"]
    assert [(b.id, b.start, b.duration) for b in detect_breaks(edited)] == [("7", 10.0, 10.0)]


def test_remove_drops_every_cue() -> None:
    edited = replace(content(events=WITH_IN), ("ad",), markers="remove")
    assert [event_ids(edited, i) for i in range(3)] == [[], [], []]
    assert edited.periods[1].asset_identifier is not None


# --- existing ad Periods -------------------------------------------------------------------


def test_marked_ad_periods_are_replaced_whole() -> None:
    corpus = parse(
        (CORPUS / "shaka__svta2053-2-ad-creative-signaling-eventstream.mpd").read_bytes()
    )
    edited = replace(corpus, ("ad",), break_id="1-0", slate="slate")
    assert times(edited) == [
        ("0", 0.0, 4.0),
        ("1-0_PT4S_1", 4.0, 10.0),
        ("1-0_PT4S_2", 8.0 + 6.0, 4.0),
        ("1-0_PT4S_3", 18.0, 2.0),
    ]
    # The content has no audio: the ad's is dropped (SPEC_RULES 86).
    assert {a.content_type for p in edited.periods for a in p.adaptation_sets} == {"video"}
    assert_sound(corpus, edited)


# --- live ----------------------------------------------------------------------------------


def live(first: int, last: int, publish: str) -> Mpd:
    """A live MPD listing 2 s segments [first, last) since 0, a 10 s break at 20 s."""
    count = last - first
    return parse(
        f'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:scte35="{SCTE}" type="dynamic" '
        'availabilityStartTime="2026-01-01T00:00:00Z" minimumUpdatePeriod="PT2S" '
        f'publishTime="{publish}" timeShiftBufferDepth="PT20S"><Period id="p0" start="PT0S">'
        '<EventStream schemeIdUri="urn:scte:scte35:2013:xml" timescale="90000">'
        f"{cue(7, 1800000, 900000)}</EventStream>"
        '<AdaptationSet id="1" contentType="video"><SegmentTemplate timescale="90000" '
        f'media="v/$Number$.m4s" startNumber="{first + 1}"><SegmentTimeline>'
        f'<S t="{first * 180000}" d="180000" r="{count - 1}"/></SegmentTimeline></SegmentTemplate>'
        '<Representation id="v" mimeType="video/mp4" bandwidth="1"/></AdaptationSet>'
        '<AdaptationSet id="2" contentType="audio" lang="en"><SegmentTemplate timescale="48000" '
        f'media="a/$Number$.m4s" startNumber="{first + 1}"><SegmentTimeline>'
        f'<S t="{first * 96000}" d="96000" r="{count - 1}"/></SegmentTimeline></SegmentTemplate>'
        '<Representation id="a" mimeType="audio/mp4" bandwidth="1"/></AdaptationSet>'
        "</Period></MPD>".encode()
    )


UPDATES = [
    live(0, 13, "2026-01-01T00:00:26Z"),  # inside the break
    live(5, 20, "2026-01-01T00:00:40Z"),  # after it
    live(12, 25, "2026-01-01T00:00:50Z"),  # the window starts inside it
]


def period_bytes(mpd: Mpd) -> dict[str, bytes]:
    return {p.id or "": c14n(etree.tostring(p.element)) for p in mpd.periods}


def resumed(mpd: Mpd) -> tuple[str | None, str | None, str | None]:
    period = next(p for p in mpd.periods if p.id == "p0_PT30S")
    (template, *_) = period.element.iter("{*}SegmentTemplate")
    start = None if period.start is None else f"{period.start:g}"
    return start, template.get("presentationTimeOffset"), template.get("startNumber")


def test_a_live_break_gets_the_same_periods_on_every_update() -> None:
    edited = [replace(mpd, ("ad",), marker_id="ch1-7") for mpd in UPDATES]
    assert times(edited[0]) == [("p0", 0.0, 20.0), ("ch1-7_PT20S_1", 20.0, 10.0)]
    assert times(edited[1]) == [
        ("p0", 0.0, 20.0),
        ("ch1-7_PT20S_1", 20.0, 10.0),
        ("p0_PT30S", 30.0, None),
    ]
    # The content before the break left the window: only its Period goes (SPEC_RULES 78).
    assert times(edited[2]) == [("ch1-7_PT20S_1", 20.0, 10.0), ("p0_PT30S", 30.0, None)]
    fills = [period_bytes(e)["ch1-7_PT20S_1"] for e in edited]
    assert fills[0] == fills[1] == fills[2]
    # The content after the break: same id, start, offset and numbers in both updates.
    assert resumed(edited[1]) == resumed(edited[2]) == ("30", "2700000", "16")
    for mpd, update in zip(UPDATES, edited, strict=True):
        assert_sound(mpd, update)


def test_live_content_after_the_break_continues_its_numbers() -> None:
    edited = replace(UPDATES[1], ("ad",))
    (video,) = edited.periods[2].adaptation_sets[0].element.iter("{*}SegmentTemplate")
    assert (video.get("presentationTimeOffset"), video.get("startNumber")) == ("2700000", "16")


def test_a_short_live_pod_without_slate_is_refused() -> None:
    with pytest.raises(EditError, match="no slate"):
        replace(UPDATES[0], ("short",))
    edited = replace(UPDATES[0], ("short",), slate="slate")
    assert times(edited)[1:] == [("7_PT20S_1", 20.0, 6.0), ("7_PT20S_2", 26.0, 4.0)]


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mpd", "fields", "message"),
    [
        (content(events=BREAK_AT_10_FOR_10), {"break_id": "nope"}, "no break 'nope'"),
        (content(events=cue(7, 900000, None)), {}, "no known duration"),
        (content(events=cue(7, 900000, 0)), {}, "lasts 0 s"),
        (content(events=BREAK_AT_10_FOR_10), {"creative_ids": ("a", "b")}, "creative_ids"),
        (content(events=BREAK_AT_10_FOR_10), {"slate": "slate", "slate_url": None}, "go together"),
    ],
)
def test_refusals(mpd: Mpd, fields: dict[str, object], message: str) -> None:
    with pytest.raises(EditError, match=message):
        replace(mpd, ("ad",), **fields)


def test_an_empty_pod_is_refused() -> None:
    edit = ReplaceBreak(break_id="7", pod=(), pod_urls=())
    with pytest.raises(EditError, match="empty"):
        apply_replace_break(content(events=BREAK_AT_10_FOR_10), edit, FETCHED)


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=30)
@given(
    start=st.integers(0, 10),
    length=st.integers(1, 8),
    pod=st.lists(st.sampled_from(["ad", "short", "promo"]), min_size=1, max_size=3),
    markers=st.sampled_from(["keep", "translate", "remove"]),
)
def test_a_static_break_is_filled_exactly(
    start: int, length: int, pod: list[str], markers: str
) -> None:
    """A break on segment boundaries, a pod and a slate: the presentation keeps its
    duration, the fill covers exactly the break, and everything stays sound."""
    at, seconds = 2 * start, 2 * min(length, 15 - start)  # within the 30 s
    mpd = content(events=cue(7, at * 90000, seconds * 90000))
    edited = replace(mpd, tuple(pod), slate="slate", markers=markers)
    assert edited.media_presentation_duration == 30.0
    fill = [p for p in edited.periods if (p.id or "").startswith("7_")]
    assert fill[0].start == at
    assert sum(p.duration or 0 for p in fill) == pytest.approx(seconds)
    starts = [p.start for p in edited.periods]
    assert starts == pytest.approx([0.0, *(p.end for p in edited.periods[:-1])])
    assert_sound(mpd, edited)
