"""Track selection in an MPD: Role main, selectionPriority, order, dropping, filtering and added
tracks, table-driven on small MPDs, plus properties over random edit sequences on an
ffmpeg-shaped MPD and corpus MPDs."""

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree

from edge_assembler.core.dash import Mpd, parse, render
from edge_assembler.core.dash.edits import tracks
from edge_assembler.core.dash.invariants import check
from edge_assembler.core.edits.renditions import (
    AddRendition,
    DropRenditions,
    PreferAccessibility,
    PreferLanguages,
)
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.edits.variants import FilterVariants
from tests.dash_support import assert_mpegdash_agrees, schema_errors

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "dash"
GOLDEN = Path(__file__).resolve().parents[3] / "golden" / "dash" / "tracks"
FFMPEG = (GOLDEN / "ffmpeg-prefer-fr" / "input.mpd").read_bytes()
SPANISH = (GOLDEN / "ffmpeg-add-es-audio" / "sources" / "es.mpd").read_bytes()
NS = "urn:mpeg:dash:schema:mpd:2011"
ROLE = 'schemeIdUri="urn:mpeg:dash:role:2011"'
VIDEO = (
    '<AdaptationSet id="0" contentType="video" mimeType="video/mp4">'
    '<SegmentTemplate timescale="1000" duration="2000" media="v$Number$.m4s"/>'
    '<Representation id="v1" codecs="avc1.4d401e" bandwidth="500000" width="640" height="360"/>'
    '<Representation id="v2" codecs="avc1.4d401f" bandwidth="2000000" width="1280" height="720"/>'
    "</AdaptationSet>"
)


def audio(ident: int, lang: str, *inner: str, codecs: str = "mp4a.40.2") -> str:
    return (
        f'<AdaptationSet id="{ident}" contentType="audio" mimeType="audio/mp4" lang="{lang}">'
        + "".join(inner)
        + '<SegmentTemplate timescale="1000" duration="2000" media="a$Number$.m4s"/>'
        + f'<Representation id="a{ident}" codecs="{codecs}" bandwidth="96000"/>'
        + "</AdaptationSet>"
    )


def text(ident: int, lang: str, *inner: str) -> str:
    return (
        f'<AdaptationSet id="{ident}" contentType="text" mimeType="text/vtt" lang="{lang}">'
        + "".join(inner)
        + f'<Representation id="t{ident}" bandwidth="256"><BaseURL>t{ident}.vtt</BaseURL>'
        + "</Representation></AdaptationSet>"
    )


def role(value: str) -> str:
    return f'<Role {ROLE} value="{value}"/>'


def document(*sets: str, periods: int = 1) -> Mpd:
    body = "".join(
        f'<Period id="p{i}" duration="PT30S">{VIDEO}{"".join(sets)}</Period>'
        for i in range(periods)
    )
    head = (
        f'<MPD xmlns="{NS}" type="static" mediaPresentationDuration="PT{30 * periods}S" '
        'minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">'
    )
    return parse(f"{head}{body}</MPD>".encode())


def summary(mpd: Mpd, period: int = 0) -> list[tuple[str | None, str | None, tuple[str, ...], str]]:
    """(id, lang, role values, selectionPriority) of each AdaptationSet, in order."""
    out = []
    for a in mpd.periods[period].adaptation_sets:
        values = tuple(sorted(d.value or "" for d in a.roles))
        out.append((a.id, a.lang, values, a.element.get("selectionPriority", "-")))
    return out


def assert_sound(before: Mpd, after: Mpd) -> None:
    out = render(after)
    result = parse(out)
    rules = Counter(p.split(":", 1)[0] for p in check(result))
    assert not rules - Counter(p.split(":", 1)[0] for p in check(before)), check(result)
    if not schema_errors(render(before)):
        assert schema_errors(out) == []
    assert_mpegdash_agrees(out)


# -- Role main ----------------------------------------------------------------------------

SET_MAIN = [
    # (roles before, on, roles after, changed)
    ((), True, ("main",), True),
    (("main",), True, ("main",), False),
    (("alternate",), True, ("main",), True),
    (("main",), False, ("alternate",), True),
    (("main", "commentary"), False, ("commentary",), True),
    (("description",), True, ("description", "main"), True),
    ((), False, (), False),
]


@pytest.mark.parametrize(("before", "on", "after", "changed"), SET_MAIN)
def test_set_main(before, on, after, changed):
    element = etree.fromstring(
        f'<AdaptationSet xmlns="{NS}">{"".join(map(role, before))}<Representation/></AdaptationSet>'
    )
    assert tracks.set_main(element, on) is changed
    values = sorted(r.get("value", "") for r in element.iter(f"{{{NS}}}Role"))
    assert tuple(values) == after
    assert etree.QName(element[-1]).localname == "Representation"  # schema order kept


# -- PreferLanguages ----------------------------------------------------------------------

PREFER = [
    # (sets, languages, reorder, expected (id, lang, roles, priority) of the audio sets)
    (
        [audio(1, "en", role("main")), audio(2, "fr")],
        ("fr",),
        True,
        [("2", "fr", ("main",), "2"), ("1", "en", ("alternate",), "1")],
    ),
    (
        [audio(1, "en", role("main")), audio(2, "fr")],
        ("fr",),
        False,
        [("1", "en", ("alternate",), "1"), ("2", "fr", ("main",), "2")],
    ),
    (  # codec alternatives of one language are one track: both main
        [audio(1, "en"), audio(2, "fr", role("main")), audio(3, "fr", codecs="ec-3")],
        ("en", "fr"),
        True,
        [("1", "en", ("main",), "3"), ("2", "fr", ("alternate",), "2"), ("3", "fr", (), "2")],
    ),
    (  # the whole tag beats the primary subtag; ISO 639-2 reads as 639-1
        [audio(1, "fr"), audio(2, "fra-CA")],
        ("fr-CA",),
        True,
        [("2", "fra-CA", ("main",), "2"), ("1", "fr", (), "2")],
    ),
    (  # among equal matches the plain track wins over audio description
        [audio(1, "en", role("description")), audio(2, "en")],
        ("en",),
        True,
        [("2", "en", ("main",), "2"), ("1", "en", ("description",), "2")],
    ),
]


@pytest.mark.parametrize(("sets", "languages", "reorder", "expected"), PREFER)
def test_prefer_languages(sets, languages, reorder, expected):
    mpd = document(*sets)
    edit = PreferLanguages(type="AUDIO", languages=languages, reorder=reorder)
    out = tracks.apply_prefer_languages(mpd, edit)
    assert summary(out)[0][0] == "0"  # the video set keeps its place
    assert summary(out)[1:] == expected
    assert_sound(mpd, out)
    assert tracks.apply_prefer_languages(parse(render(out)), edit) is not None


def test_prefer_languages_without_match_is_the_identity():
    mpd = document(audio(1, "en"), audio(2, "fr"))
    assert (
        tracks.apply_prefer_languages(mpd, PreferLanguages(type="AUDIO", languages=("de",))) is mpd
    )


def test_prefer_languages_twice_is_the_identity():
    mpd = document(audio(1, "en", role("main")), audio(2, "fr"))
    edit = PreferLanguages(type="AUDIO", languages=("fr",))
    once = parse(render(tracks.apply_prefer_languages(mpd, edit)))
    assert tracks.apply_prefer_languages(once, edit) is once


def test_reorder_moves_only_the_edited_type():
    mpd = document(text(1, "en"), audio(2, "en"), text(3, "fr"), audio(4, "fr"))
    out = tracks.apply_prefer_languages(mpd, PreferLanguages(type="SUBTITLES", languages=("fr",)))
    assert [a[:2] for a in summary(out)] == [
        ("0", None), ("3", "fr"), ("2", "en"), ("1", "en"), ("4", "fr"),
    ]  # fmt: skip


def test_forced_subtitles_never_become_main():
    forced = role("forced-subtitle")
    mpd = document(text(1, "fr", forced), text(2, "en"))
    out = tracks.apply_prefer_languages(mpd, PreferLanguages(type="SUBTITLES", languages=("fr",)))
    assert [a[2] for a in summary(out)[1:]] == [("forced-subtitle",), ()]


def test_every_period_is_edited():
    mpd = document(audio(1, "en", role("main")), audio(2, "fr"), periods=3)
    out = tracks.apply_prefer_languages(mpd, PreferLanguages(type="AUDIO", languages=("fr",)))
    assert all(summary(out, i)[1][:3] == ("2", "fr", ("main",)) for i in range(3))


# -- DropRenditions -----------------------------------------------------------------------

SWITCHING = (
    '<SupplementalProperty schemeIdUri="urn:mpeg:dash:adaptation-set-switching:2016" value="2"/>'
)
DROP = [
    # (sets, edit, expected (id, roles) of the audio and text sets)
    (
        [audio(1, "en", role("main")), audio(2, "fr-CA"), audio(3, "de")],
        DropRenditions(type="AUDIO", languages=("fr",)),
        [("1", ("main",)), ("3", ())],
    ),
    (  # main moves to the best remaining track: same primary language first
        [audio(1, "de"), audio(2, "en-GB", role("main")), audio(3, "en-US")],
        DropRenditions(type="AUDIO", languages=("en-GB",)),
        [("1", ()), ("3", ("main",))],
    ),
    (  # keep_at_least_one keeps the main set
        [audio(1, "en"), audio(2, "fr", role("main"))],
        DropRenditions(type="AUDIO", languages=("en", "fr")),
        [("2", ("main",))],
    ),
    (
        [text(1, "en"), text(2, "fr")],
        DropRenditions(type="SUBTITLES", languages=("en", "fr"), keep_at_least_one=False),
        [],
    ),
    (  # by Label; the adaptation-set-switching reference to it goes too
        [audio(1, "en", SWITCHING), audio(2, "en", "<Label>Director</Label>", role("commentary"))],
        DropRenditions(type="AUDIO", names=("Director",)),
        [("1", ())],
    ),
]


@pytest.mark.parametrize(("sets", "edit", "expected"), DROP)
def test_drop_renditions(sets, edit, expected):
    mpd = document(*sets)
    out = tracks.apply_drop_renditions(mpd, edit)
    assert [(a[0], a[2]) for a in summary(out)[1:]] == expected
    assert "adaptation-set-switching" not in render(out).decode()
    assert_sound(mpd, out)


def test_drop_nothing_is_the_identity():
    mpd = document(audio(1, "en"))
    assert tracks.apply_drop_renditions(mpd, DropRenditions(type="AUDIO", languages=("en",))) is mpd


# -- PreferAccessibility ------------------------------------------------------------------

AD = '<Accessibility schemeIdUri="urn:tva:metadata:cs:AudioPurposeCS:2007" value="1"/>'
SDH = role("caption")
ACCESSIBLE = [
    (
        [audio(1, "en", role("main")), audio(2, "fr", AD), audio(3, "en", AD)],
        PreferAccessibility(audio_description=True),
        [("1", ("alternate",)), ("2", ()), ("3", ("main",))],
    ),
    (
        [text(1, "en"), text(2, "en", SDH)],
        PreferAccessibility(sdh=True),
        [("1", ()), ("2", ("caption", "main"))],
    ),
]


@pytest.mark.parametrize(("sets", "edit", "expected"), ACCESSIBLE)
def test_prefer_accessibility(sets, edit, expected):
    mpd = document(*sets)
    out = tracks.apply_prefer_accessibility(mpd, edit)
    assert [(a[0], a[2]) for a in summary(out)[1:]] == expected
    assert_sound(mpd, out)


def test_prefer_accessibility_without_candidates_is_the_identity():
    mpd = document(audio(1, "en"))
    assert (
        tracks.apply_prefer_accessibility(mpd, PreferAccessibility(audio_description=True)) is mpd
    )


# -- FilterVariants -----------------------------------------------------------------------


def representation_ids(mpd: Mpd) -> list[list[str | None]]:
    return [[r.id for r in a.representations] for a in mpd.periods[0].adaptation_sets]


FILTER = [
    (FilterVariants(max_height=540), [["v1"], ["a1"]]),
    (FilterVariants(max_height=200), [["v1"], ["a1"]]),  # never without video
    (FilterVariants(max_bandwidth=1_000_000), [["v1"], ["a1"]]),
    (FilterVariants(drop_codecs=("avc",)), [["v1"], ["a1"]]),
    (FilterVariants(drop_codecs=("ec-3",)), [["v1", "v2"], ["a1"]]),
    (FilterVariants(only_codecs=("avc", "aac")), [["v1", "v2"], ["a1"]]),
]


@pytest.mark.parametrize(("edit", "expected"), FILTER)
def test_filter_variants(edit, expected):
    mpd = document(audio(1, "en"), audio(2, "en", codecs="ec-3"))
    out = tracks.apply_filter_variants(mpd, edit)
    assert representation_ids(out) == expected or representation_ids(out) == [*expected, ["a2"]]
    assert_sound(mpd, out)


def test_filter_keeps_a_track_it_would_empty():
    mpd = document(audio(1, "en"), audio(2, "fr", codecs="ec-3"))
    out = tracks.apply_filter_variants(mpd, FilterVariants(drop_codecs=("ec-3",)))
    assert representation_ids(out) == [["v1", "v2"], ["a1"], ["a2"]]


def test_filter_updates_bounds_and_dependents():
    mpd = parse(FFMPEG.replace(b'id="2" mimeType', b'id="2" dependencyId="1" mimeType'))
    out = tracks.apply_filter_variants(mpd, FilterVariants(max_bandwidth=600_000))
    video = out.periods[0].adaptation_sets[0]
    assert [r.id for r in video.representations] == ["0"]
    assert (video.element.get("maxHeight"), video.element.get("maxWidth")) == ("360", "640")


def test_filter_admitting_everything_is_the_identity():
    mpd = parse(FFMPEG)
    assert tracks.apply_filter_variants(mpd, FilterVariants(max_height=2160)) is mpd


# -- AddRendition -------------------------------------------------------------------------

URL = "https://origin.example.com/vod/es/manifest.mpd"
RELATIVE_SPANISH = SPANISH.replace(b"<BaseURL>https://origin.example.com/vod/es/</BaseURL>", b"")


def add(**changes: object) -> AddRendition:
    fields: dict[str, object] = {
        "type": "AUDIO", "group_id": None, "language": "es", "name": "Español", "uri": URL,
    }  # fmt: skip
    fields.update(changes)
    return AddRendition(**fields)  # type: ignore[arg-type]


def added(mpd: Mpd, period: int = 0) -> tuple[str | None, list[str | None], tuple[str, ...]]:
    new = mpd.periods[period].adaptation_sets[-1]
    return new.id, [r.id for r in new.representations], new.base_urls


def test_add_rendition_resolves_against_the_source_url():
    mpd = parse(FFMPEG)
    out = tracks.apply_add_rendition(mpd, add(), {URL: parse(RELATIVE_SPANISH)})
    assert added(out) == ("3", ["0-es"], ("https://origin.example.com/vod/es/",))
    template = out.periods[0].adaptation_sets[-1].representations[0].segment_info
    assert (template.media, template.initialization) == ("chunk-0-$Number%05d$.m4s", "init-0.m4s")
    assert_sound(mpd, out)


def test_add_subtitles_with_sdh_and_forced_roles():
    source = parse(
        f'<MPD xmlns="{NS}" type="static" mediaPresentationDuration="PT30S" minBufferTime="PT2S">'
        f"<Period>{text(7, 'de')}</Period></MPD>".encode()
    )
    characteristics = (
        "public.accessibility.transcribes-spoken-dialog,"
        "public.accessibility.describes-music-and-sound"
    )
    edit = add(type="SUBTITLES", language="de", forced=True, characteristics=characteristics)
    mpd = document(text(1, "en"))
    out = tracks.apply_add_rendition(mpd, edit, {URL: source})
    new = out.periods[0].adaptation_sets[-1]
    assert sorted(d.value or "" for d in new.roles) == ["caption", "forced-subtitle"]
    assert new.base_urls == ("https://origin.example.com/vod/es/",)
    assert [a.id for a in out.periods[0].adaptation_sets] == ["0", "1", "2"]


def test_add_rendition_follows_content_split_by_periods():
    """A content Period resumed 10 s in plays the track from 10 s (SPEC_RULES 79-80)."""
    body = FFMPEG.decode()
    first = body.replace('<Period id="0" start="PT0.0S">', '<Period id="0" duration="PT10S">')
    second = (
        body[body.index("<Period") : body.index("</Period>") + 9]
        .replace('<Period id="0" start="PT0.0S">', '<Period id="1" duration="PT20S">')
        .replace('startNumber="1"', 'startNumber="6" presentationTimeOffset="10000000"')
    )
    mpd = parse(first.replace("</Period>", "</Period>" + second, 1).encode())
    out = tracks.apply_add_rendition(mpd, add(uri="es"), {"es": parse(SPANISH)})
    info = out.periods[1].adaptation_sets[-1].representations[0].segment_info
    assert (info.start_number, info.presentation_time_offset) == (6, 10_000_000)
    assert_sound(mpd, out)


REFUSED = [
    ({}, "no fetched MPD"),
    ({URL: parse(SPANISH.replace(b"PT30.0S", b"PT20.0S"))}, "does not cover"),
    ({"es": parse(RELATIVE_SPANISH)}, "relative media URLs"),
    ({URL: parse(SPANISH.replace(b'lang="es"', b'lang="de"'))}, "no audio AdaptationSet"),
]


@pytest.mark.parametrize(("fetched", "reason"), REFUSED)
def test_add_rendition_refusals(fetched, reason):
    uri = next(iter(fetched), URL)
    with pytest.raises(EditError, match=reason):
        tracks.apply_add_rendition(parse(FFMPEG), add(uri=uri), fetched)


def test_add_rendition_refuses_period_addressing():
    mpd = parse((CORPUS / "exoplayer__adaptationset-label-attribute-and-element.mpd").read_bytes())
    with pytest.raises(EditError, match="segment addressing"):
        tracks.apply_add_rendition(mpd, add(), {URL: parse(SPANISH)})


# -- properties ---------------------------------------------------------------------------

PROPERTY_MPDS = {
    "ffmpeg": FFMPEG,
    **{
        name: (CORPUS / name).read_bytes()
        for name in (
            "mpdparser__text-tracks-webvtt-lang-roles.mpd",
            "dashmpdrs__dashif-ad-insertion-tc1-gpac-3-periods.mpd",
            "dashmpdrs__dashif-testcase-5b1-multiperiod-static.mpd",
            "dashmpdrs__telenet-vod-mid-roll-ad-periods.mpd",
        )
    },
}
LANGS = st.sampled_from(["en", "fr", "es", "eng", "fr-CA", "und", "de"])
KINDS = st.sampled_from(["AUDIO", "SUBTITLES"])
EDITS = st.one_of(
    st.builds(PreferLanguages, type=KINDS, languages=st.lists(LANGS, max_size=3).map(tuple),
              reorder=st.booleans()),
    st.builds(DropRenditions, type=KINDS, languages=st.lists(LANGS, max_size=2).map(tuple),
              keep_at_least_one=st.booleans()),
    st.builds(PreferAccessibility, audio_description=st.booleans(), sdh=st.booleans()),
    st.builds(FilterVariants, max_height=st.sampled_from([None, 200, 360, 540, 720]),
              max_bandwidth=st.sampled_from([None, 100_000, 1_000_000]),
              drop_codecs=st.sampled_from([(), ("avc",), ("aac",)])),
    st.builds(add, uri=st.just("es"), default=st.booleans()),
)  # fmt: skip


def apply(mpd: Mpd, edit: object) -> Mpd:
    match edit:
        case PreferLanguages():
            return tracks.apply_prefer_languages(mpd, edit)
        case DropRenditions():
            return tracks.apply_drop_renditions(mpd, edit)
        case PreferAccessibility():
            return tracks.apply_prefer_accessibility(mpd, edit)
        case FilterVariants():
            return tracks.apply_filter_variants(mpd, edit)
        case AddRendition():
            return tracks.apply_add_rendition(mpd, edit, {"es": parse(SPANISH)})
        case _:
            raise AssertionError(edit)


def main_groups(mpd: Mpd) -> list[int]:
    """How many tracks hold ``main``, per Period and content type."""
    counts = []
    for period in mpd.periods:
        for kind in ("audio", "text"):
            found = tracks.tracks_of(period, kind)
            counts.append(len({t.group for t in found if t.main}))
    return counts


def video_counts(mpd: Mpd) -> list[int]:
    return [sum(1 for r in p.representations() if r.content_type == "video") for p in mpd.periods]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(PROPERTY_MPDS)), edits=st.lists(EDITS, max_size=4))
def test_random_edit_sequences_keep_the_mpd_sound(name, edits):
    data = PROPERTY_MPDS[name]
    original = parse(data)
    mains = main_groups(original)
    mpd = original
    for edit in edits:
        try:
            result = apply(mpd, edit)
        except EditError:
            continue
        if result is mpd:
            assert render(result) == render(mpd)
            continue
        mpd = parse(render(result))
        assert_sound(original, mpd)
        assert all(n <= max(1, m) for n, m in zip(main_groups(mpd), mains, strict=True))
        assert all(
            n >= 1 for n, m in zip(video_counts(mpd), video_counts(original), strict=True) if m
        )
        if not isinstance(edit, AddRendition):
            assert apply(mpd, edit) is mpd  # a second run changes nothing
