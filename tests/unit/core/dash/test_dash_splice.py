"""InsertRun on an MPD: pre-, mid- and post-rolls, at a time or a cue; what inserted Periods
carry (ids, absolute BaseURLs, mirrored tracks, ad signalling); and the properties every
insertion keeps."""

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from edge_assembler.core.dash import Mpd, parse, render
from edge_assembler.core.dash.edits.splice import apply_insert_run
from edge_assembler.core.dash.elements import children
from edge_assembler.core.dash.events import detect_breaks
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.edits.splice import InsertRun
from tests.dash_support import assert_mpegdash_agrees, assert_sound, times

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "dash"
NS = "{urn:mpeg:dash:schema:mpd:2011}"
AD_URL = "https://ads.example.com/c/42/manifest.mpd"


def ffmpeg(
    seconds: int,
    langs: tuple[str, ...] = ("en", "fr"),
    *,
    segment: int = 2,
    timescale: int = 1_000_000,
    text: bool = False,
    events: str = "",
    namespace: str = "urn:mpeg:dash:schema:mpd:2011",
) -> Mpd:
    """An MPD shaped like ffmpeg's (-use_template 1 -use_timeline 0): one Period, one video
    AdaptationSet, one audio AdaptationSet per language, ``segment``-second segments, and
    ``events`` (EventStreams) at the top of the Period."""
    template = (
        f'<SegmentTemplate timescale="{timescale}" duration="{segment * timescale}" '
        'initialization="init-$RepresentationID$.m4s" '
        'media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1"/>'
    )
    audio = "".join(
        f'<AdaptationSet id="{i + 1}" contentType="audio" lang="{lang}">'
        f'<Representation id="{i + 1}" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="96000" '
        f'audioSamplingRate="48000">{template}</Representation></AdaptationSet>'
        for i, lang in enumerate(langs)
    )
    subtitles = (
        '<AdaptationSet id="9" contentType="text" lang="en"><Representation id="t" '
        'mimeType="text/vtt" bandwidth="1"><BaseURL>en.vtt</BaseURL></Representation>'
        "</AdaptationSet>"
        if text
        else ""
    )
    return parse(
        f'<MPD xmlns="{namespace}" type="static" mediaPresentationDuration="PT{seconds}S" '
        f'maxSegmentDuration="PT{segment}S" profiles="urn:mpeg:dash:profile:isoff-live:2011">'
        f'<Period id="0">{events}'
        '<AdaptationSet id="0" contentType="video">'
        '<Representation id="0" mimeType="video/mp4" codecs="avc1.4d401f" bandwidth="2000000">'
        f"{template}</Representation></AdaptationSet>{audio}{subtitles}</Period></MPD>".encode()
    )


def insert(mpd: Mpd, source: Mpd, **fields: object) -> Mpd:
    edit = InsertRun(source="ad", source_url=AD_URL, **fields)  # type: ignore[arg-type]
    return apply_insert_run(mpd, edit, {"ad": source})


def audio_sets(mpd: Mpd, index: int) -> list[tuple[str | None, str | None, list[str | None]]]:
    return [
        (a.lang, a.id, [r.value for r in a.roles])
        for a in mpd.periods[index].adaptation_sets
        if a.content_type == "audio"
    ]


# --- positions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"position": "pre"}, [("ad_PT0S", 0.0, 10.0), ("0", 10.0, 30.0)]),
        ({"position": "post"}, [("0", 0.0, 30.0), ("ad_PT30S", 30.0, 10.0)]),
        ({"at": 10.0}, [("0", 0.0, 10.0), ("ad_PT10S", 10.0, 10.0), ("0_PT10S", 20.0, 20.0)]),
        ({"at": 11.0, "snap": "before"},
         [("0", 0.0, 10.0), ("ad_PT10S", 10.0, 10.0), ("0_PT10S", 20.0, 20.0)]),
        ({"at": 11.0, "snap": "after"},
         [("0", 0.0, 12.0), ("ad_PT12S", 12.0, 10.0), ("0_PT12S", 22.0, 18.0)]),
        ({"at": 0.5}, [("ad_PT0S", 0.0, 10.0), ("0", 10.0, 30.0)]),  # snapped to the start
        ({"at": 30.0, "marker_id": "b7"}, [("0", 0.0, 30.0), ("b7_PT30S", 30.0, 10.0)]),
    ],
)  # fmt: skip
def test_positions(fields: dict[str, object], expected: list[tuple[str, float, float]]) -> None:
    content = ffmpeg(30)
    edited = insert(content, ffmpeg(10), **fields)
    assert times(edited) == expected
    assert edited.media_presentation_duration == 40.0
    assert_sound(content, edited)


def scte35_content() -> Mpd:
    """30 s of content with a SCTE-35 break (splice_insert, xml+bin) at 4 s for 10 s."""
    return ffmpeg(
        30,
        events=(
            '<EventStream schemeIdUri="urn:scte:scte35:2014:xml+bin" timescale="90000">'
            '<Event presentationTime="360000" duration="900000" id="1"><Signal '
            'xmlns="http://www.scte.org/schemas/35/2016"><Binary>'
            "/DAlAAAAAAAAAP/wFAUAAA+if+/+INAJ0P4AKTLgAAAAAAAA9UTkTA==</Binary></Signal></Event>"
            "</EventStream>"
        ),
    )


def test_at_a_cue_the_run_goes_at_the_break_start() -> None:
    content = scte35_content()
    (found,) = detect_breaks(content)
    edited = insert(content, ffmpeg(10), cue=found.id, role="recap")
    assert times(edited) == [("0", 0.0, 4.0), ("ad_PT4S", 4.0, 10.0), ("0_PT4S", 14.0, 26.0)]
    # The origin's cue stays with its content: after the run, where the content resumes.
    assert [(b.id, b.start) for b in detect_breaks(edited)] == [("4002", 14.0)]


def test_at_an_ad_period_cue_the_run_goes_before_the_ad_periods() -> None:
    corpus = parse(
        (CORPUS / "shaka__svta2053-2-ad-creative-signaling-eventstream.mpd").read_bytes()
    )
    edited = insert(corpus, ffmpeg(10, ()), cue="1-0", role="bumper")
    assert times(edited) == [("0", 0.0, 4.0), ("ad_PT4S", 4.0, 10.0), ("1", 14.0, 16.0)]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "exactly one of 'at' and 'cue'"),
        ({"at": 4.0, "cue": "1"}, "exactly one of 'at' and 'cue'"),
        ({"cue": "nope"}, "no break 'nope'"),
    ],
)
def test_a_mid_roll_needs_one_place(fields: dict[str, object], message: str) -> None:
    with pytest.raises(EditError, match=message):
        insert(ffmpeg(30), ffmpeg(10), **fields)


def test_live_mpds_take_no_insertion() -> None:
    live = parse(
        render(ffmpeg(30))
        .replace(b'type="static"', b'type="dynamic" availabilityStartTime="2026-01-01T00:00:00Z"')
        .replace(b'<Period id="0"', b'<Period id="0" start="PT0S"')
    )
    with pytest.raises(EditError, match="static MPDs only"):
        insert(live, ffmpeg(10), position="pre")


def test_sources_must_be_fetched_static_and_resolved() -> None:
    with pytest.raises(EditError, match="was not fetched"):
        apply_insert_run(ffmpeg(30), InsertRun(source="x", source_url=AD_URL), {})
    live = parse(render(ffmpeg(10)).replace(b'type="static"', b'type="dynamic"'))
    with pytest.raises(EditError, match="is a live MPD"):
        insert(ffmpeg(30), live, position="pre")
    remote = parse(
        b'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:xlink="http://www.w3.org/1999/xlink" '
        b'type="static"><Period duration="PT10S" xlink:href="ad.xml"/></MPD>'
    )
    with pytest.raises(EditError, match="remote"):
        insert(ffmpeg(30), remote, position="pre")


# --- what inserted Periods carry ------------------------------------------------------------


def test_an_ad_carries_its_asset_and_the_break_marker() -> None:
    edited = insert(ffmpeg(30), ffmpeg(10), at=10.0, marker_id="4242", creative_id="cr-1")
    ad = edited.periods[1]
    assert ad.asset_identifier is not None
    assert tuple(ad.asset_identifier) == ("urn:org:dashif:asset-id:2013", "cr-1")
    assert [(b.id, b.start, b.duration, b.period_id) for b in detect_breaks(edited)] == [
        ("4242", 10.0, 10.0, "4242_PT10S")
    ]


def test_recaps_and_bumpers_carry_no_ad_signalling() -> None:
    edited = insert(ffmpeg(30), ffmpeg(10), position="pre", role="recap")
    assert edited.periods[0].asset_identifier is None
    assert edited.periods[0].event_streams == ()


def test_a_source_with_several_periods_keeps_them_in_order() -> None:
    two = parse(
        b'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">'
        + b"".join(
            b'<Period id="%d" duration="PT%dS"><AdaptationSet id="0" contentType="video">'
            b'<Representation id="0" mimeType="video/mp4" bandwidth="1">'
            b'<SegmentTemplate timescale="1" duration="2" media="p%d_$Number$.m4s"/>'
            b"</Representation></AdaptationSet></Period>" % (i, seconds, i)
            for i, seconds in enumerate((4, 6))
        )
        + b"</MPD>"
    )
    edited = insert(ffmpeg(30), two, at=10.0, marker_id="m")
    assert times(edited)[1:3] == [("m_PT10S_1", 10.0, 4.0), ("m_PT10S_2", 14.0, 6.0)]
    assert [b.duration for b in detect_breaks(edited)] == [10.0]


@pytest.mark.parametrize(
    ("mpd_bases", "period_bases", "expected"),
    [
        ("", "", ["https://ads.example.com/c/42/"]),
        ("<BaseURL>dash/</BaseURL>", "", ["https://ads.example.com/c/42/dash/"]),
        ("<BaseURL>https://cdn.example.net/x/</BaseURL>", "<BaseURL>p/</BaseURL>", ["https://cdn.example.net/x/p/"]),
        ("<BaseURL>/root/</BaseURL>", "<BaseURL>https://other.example/y/</BaseURL>", ["https://other.example/y/"]),
        (
            '<BaseURL serviceLocation="a">https://a.example/</BaseURL>'
            '<BaseURL serviceLocation="b">https://b.example/</BaseURL>',
            "",
            ["https://a.example/", "https://b.example/"],
        ),
    ],
)  # fmt: skip
def test_base_urls_are_made_absolute(
    mpd_bases: str, period_bases: str, expected: list[str]
) -> None:
    source = parse(
        render(ffmpeg(10))
        .replace(b'<Period id="0">', b'<Period id="0">' + period_bases.encode())
        .replace(b'isoff-live:2011">', b'isoff-live:2011">' + mpd_bases.encode())
    )
    ad = insert(ffmpeg(30), source, position="pre").periods[0]
    assert list(ad.base_urls) == expected
    if len(expected) == 2:
        assert [b.get("serviceLocation") for b in children(ad.element, "BaseURL")] == ["a", "b"]


@pytest.mark.parametrize(
    ("content", "ad", "expected"),
    [
        # one ad language under every content language, with the content's lang, @id, Roles
        (("en", "fr"), ("en",), [("en", "1", []), ("fr", "2", [])]),
        (("en", "fr"), ("fr", "en"), [("en", "1", []), ("fr", "2", [])]),
        # a language the ad lacks gets its first (main) track; one it has alone is dropped
        (("en", "fr"), ("de", "en"), [("en", "1", []), ("fr", "2", [])]),
        (("en",), ("en", "fr"), [("en", "1", [])]),
        # content without audio: the ad's audio goes
        ((), ("en",), []),
    ],
)
def test_ads_mirror_the_content_audio(
    content: tuple[str, ...],
    ad: tuple[str, ...],
    expected: list[tuple[str | None, str | None, list[str | None]]],
) -> None:
    edited = insert(ffmpeg(30, content), ffmpeg(10, ad), position="pre")
    assert audio_sets(edited, 0) == expected
    ids = [r.id for r in edited.periods[0].representations()]
    assert len(ids) == len(set(ids))
    assert_sound(ffmpeg(30, content), edited)


def test_mirrored_copies_keep_their_segment_urls() -> None:
    edited = insert(ffmpeg(30), ffmpeg(10, ("en",)), position="pre")
    (_, english, french) = edited.periods[0].adaptation_sets
    (copy,) = french.representations
    assert copy.id == "1_2"
    assert copy.segment_info.media == "chunk-1-$Number%05d$.m4s"
    assert (
        english.representations[0].segment_info.media == "chunk-$RepresentationID$-$Number%05d$.m4s"
    )


def test_roles_come_from_the_content() -> None:
    content = parse(
        render(ffmpeg(30)).replace(
            b'lang="fr">',
            b'lang="fr"><Role schemeIdUri="urn:mpeg:dash:role:2011" value="dub"/>',
        )
    )
    edited = insert(content, ffmpeg(10, ("en",)), position="pre")
    assert audio_sets(edited, 0) == [("en", "1", []), ("fr", "2", ["dub"])]
    assert_sound(content, edited)


def test_types_the_content_lacks_are_dropped() -> None:
    edited = insert(ffmpeg(30), ffmpeg(10, text=True), position="pre")
    assert [a.content_type for a in edited.periods[0].adaptation_sets] == [
        "video",
        "audio",
        "audio",
    ]


def test_namespaces_follow_the_edited_mpd() -> None:
    content = ffmpeg(30, namespace="")
    edited = insert(content, ffmpeg(10), position="pre")
    assert edited.periods[0].element.tag == "Period"
    tags = {str(e.tag).partition("}")[0] for e in edited.periods[0].element.iter("*")}
    assert tags <= {
        "Period", "BaseURL", "AssetIdentifier", "EventStream", "Event", "AdaptationSet",
        "Representation", "SegmentTemplate", "{http://www.scte.org/schemas/35/2016",
    }  # fmt: skip
    assert_mpegdash_agrees(render(edited))


def test_longer_ad_segments_raise_max_segment_duration() -> None:
    edited = insert(ffmpeg(30), ffmpeg(9, segment=3), position="pre")
    assert edited.root.get("maxSegmentDuration") == "PT3S"


# --- properties ----------------------------------------------------------------------------

SEGMENTS = st.sampled_from([1, 2, 4])
LANGS = st.sampled_from([("en",), ("en", "fr"), ("fr", "de", "en")])


@settings(max_examples=40)
@given(
    segment=SEGMENTS,
    count=st.integers(2, 12),
    timescale=st.sampled_from([1000, 90000, 1_000_000]),
    content_langs=LANGS,
    ad_langs=LANGS,
    ad_segments=st.integers(1, 5),
    where=st.floats(0, 1),
    position=st.sampled_from(["pre", "mid", "post"]),
    snap=st.sampled_from(["nearest", "before", "after"]),
    role=st.sampled_from(["ad", "recap", "bumper"]),
)
def test_an_insertion_adds_exactly_the_source(
    segment, count, timescale, content_langs, ad_langs, ad_segments, where, position, snap, role
):
    content = ffmpeg(segment * count, content_langs, segment=segment, timescale=timescale)
    source = ffmpeg(2 * ad_segments, ad_langs)
    at = where * segment * count if position == "mid" else None
    edited = insert(content, source, position=position, at=at, snap=snap, role=role)
    assert edited.media_presentation_duration == pytest.approx(segment * count + 2 * ad_segments)
    starts = [p.start for p in edited.periods]
    ends = [0.0, *(p.end for p in edited.periods[:-1])]
    assert starts == pytest.approx(ends)  # contiguous from 0 (SPEC_RULES 75)
    assert_sound(content, edited)
    content_time = sum(
        p.duration or 0 for p in edited.periods if not (p.id or "").startswith("ad_")
    )
    assert content_time == pytest.approx(segment * count)
