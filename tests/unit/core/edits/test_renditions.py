"""Rendition edits: AddRendition, PreferLanguages, DropRenditions, PreferAccessibility."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, strategies as st

from edge_assembler.core.edits.renditions import (
    AddRendition,
    DropRenditions,
    PreferAccessibility,
    PreferLanguages,
    apply_add_rendition,
    apply_drop_renditions,
    apply_prefer_accessibility,
    apply_prefer_languages,
    groups,
    language,
)
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.edits.variants import check_multivariant
from edge_assembler.core.hls import MultivariantPlaylist, parse, render
from tests.hls_support import assert_m3u8_agrees

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "hls"
BIPBOP = "m3u8parser__apple-bipbop-fmp4-multivariant-groups-iframes-cc.m3u8"
COMCAST = "mamba__comcast-demuxed-two-audio-groups-iframes.m3u8"
WOWZA = "hlsvodtolive__wowza-subs-commentary-audio.m3u8"
WOWZA_CC = "m3u8py__wowza-multi-audio-subs-cc.m3u8"
KALTURA = "hlsvodtolive__usp-kaltura-multiaudio-subs-quirks.m3u8"
LO_HI = "m3u8parser__audio-lo-hi-groups-french-names.m3u8"
DOLBY = "hlsvodtolive__dolby-ec3-joc-audio-groups-channels.m3u8"
STEERING = "m3u8py__content-steering-pathways.m3u8"
CORPUS_FILES = [BIPBOP, COMCAST, WOWZA, WOWZA_CC, KALTURA, LO_HI, DOLBY, STEERING]

SMALL = b"""#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",LANGUAGE="en",NAME="English",DEFAULT=YES,AUTOSELECT=YES,URI="en.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",LANGUAGE="en",NAME="English",AUTOSELECT=YES,URI="s-en.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",LANGUAGE="fr",NAME="French",AUTOSELECT=YES,URI="fr.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1000000,AVERAGE-BANDWIDTH=900000,CODECS="avc1.4d401f,mp4a.40.2",AUDIO="a",SUBTITLES="s"
v.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI="i.m3u8"
"""


def corpus(name: str) -> MultivariantPlaylist:
    return multivariant((CORPUS / name).read_bytes())


def multivariant(data: bytes) -> MultivariantPlaylist:
    playlist = parse(data)
    assert isinstance(playlist, MultivariantPlaylist)
    return playlist


def members(playlist: MultivariantPlaylist, media_type: str, group: str) -> list[str | None]:
    return [m.name for m in groups(playlist, media_type)[group]]


def default_of(playlist: MultivariantPlaylist, media_type: str, group: str) -> list[str | None]:
    return [m.name for m in groups(playlist, media_type)[group] if m.default]


def checked(playlist: MultivariantPlaylist) -> MultivariantPlaylist:
    """The output rules every test holds an edit to."""
    data = render(playlist)
    assert render(parse(data)) == data
    assert_m3u8_agrees(data)
    assert check_multivariant(playlist) == []
    return playlist


def test_corpus_inputs_are_consistent():
    for name in CORPUS_FILES:
        assert check_multivariant(corpus(name)) == [], name


# -- languages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "normalised"),
    [
        ("en", ("en", "en")),
        ("eng", ("en", "en")),
        ("EN-us", ("en-us", "en")),
        ("fre", ("fr", "fr")),
        ("fra-CA", ("fr-ca", "fr")),
        ("pt_BR", ("pt-br", "pt")),
        ("zxx", ("zxx", "zxx")),
        ("sp", ("sp", "sp")),  # invalid in the wild (Wowza): left as it is
    ],
)
def test_language_normalisation(tag, normalised):
    assert language(tag) == normalised


# -- AddRendition ------------------------------------------------------------------------


def test_add_to_one_group_goes_after_its_last_member():
    edit = AddRendition(type="AUDIO", group_id="a", language="de", name="Deutsch", uri="de.m3u8")
    out = checked(apply_add_rendition(multivariant(SMALL), edit))
    lines = render(out).decode().splitlines()
    assert lines[4] == (
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",LANGUAGE="de",NAME="Deutsch",'
        'DEFAULT=NO,AUTOSELECT=YES,URI="de.m3u8"'
    )
    assert lines[:4] == SMALL.decode().splitlines()[:4]
    assert lines[5:] == SMALL.decode().splitlines()[4:]


def test_add_default_clears_the_old_default_and_raises_bandwidth():
    edit = AddRendition(
        type="AUDIO", group_id=None, language="de", name="Deutsch 5.1", uri="de.m3u8",
        default=True, channels="6", bandwidth=192000, codecs="ec-3,mp4a.40.2",
    )  # fmt: skip
    out = checked(apply_add_rendition(multivariant(SMALL), edit))
    assert default_of(out, "AUDIO", "a") == ["Deutsch 5.1"]
    attrs = out.variants[0].attributes()
    assert attrs["BANDWIDTH"] == "1192000"
    assert attrs["AVERAGE-BANDWIDTH"] == "1092000"
    assert attrs["CODECS"] == "avc1.4d401f,mp4a.40.2,ec-3"


def test_add_to_parallel_groups_keeps_them_parallel():
    # SPEC_RULES 64: add a language in every parallel group.
    edit = AddRendition(type="AUDIO", group_id=None, language="de", name="Deutsch", uri="de.m3u8")
    out = checked(apply_add_rendition(corpus(LO_HI), edit))
    assert members(out, "AUDIO", "audio-lo") == members(out, "AUDIO", "audio-hi")
    assert members(out, "AUDIO", "audio-lo")[-1] == "Deutsch"


def test_first_subtitles_group_is_created_and_referenced():
    edit = AddRendition(type="SUBTITLES", group_id=None, language="fr", name="Français", uri="f")
    out = checked(apply_add_rendition(corpus(COMCAST), edit))
    assert members(out, "SUBTITLES", "subs") == ["Français"]
    assert all(v.attributes()["SUBTITLES"] == "subs" for v in out.variants)
    # BIS §4.4.6.3: I-frame variants take no SUBTITLES.
    assert all("SUBTITLES" not in line.value for line in out.i_frame_variants)


def test_first_subtitles_group_without_any_rendition_goes_before_the_variants():
    source = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n"
    edit = AddRendition(type="SUBTITLES", group_id="cc", language="en", name="English", uri="s")
    out = checked(apply_add_rendition(multivariant(source), edit))
    assert render(out) == (
        b"#EXTM3U\n"
        b'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="cc",LANGUAGE="en",NAME="English",'
        b'DEFAULT=NO,AUTOSELECT=YES,URI="s"\n'
        b'#EXT-X-STREAM-INF:BANDWIDTH=1,SUBTITLES="cc"\n'
        b"v.m3u8\n"
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            AddRendition(type="AUDIO", group_id=None, language="en", name="English", uri="x"),
            'AUDIO group "a" already has NAME "English"',
            id="duplicate-name",
        ),
        pytest.param(
            AddRendition(type="AUDIO", group_id="b", language="en", name="E2", uri="x"),
            'no AUDIO group "b"',
            id="unknown-group",
        ),
        pytest.param(
            AddRendition(type="SUBTITLES", group_id="t", language="en", name="E2", uri="x"),
            'no SUBTITLES group "t"',
            id="unknown-subtitles-group",
        ),
    ],
)
def test_add_refuses(edit, message):
    with pytest.raises(EditError, match=message):
        apply_add_rendition(multivariant(SMALL), edit)


def test_add_audio_without_any_audio_group_is_refused():
    # The audio is muxed: an alternative needs the muxed audio described first.
    source = multivariant(b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n")
    edit = AddRendition(type="AUDIO", group_id=None, language="en", name="E", uri="x")
    with pytest.raises(EditError, match="no AUDIO group"):
        apply_add_rendition(source, edit)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"default": True, "autoselect": False}, "must also be AUTOSELECT"),
        ({"forced": True}, "FORCED applies to SUBTITLES only"),
        ({"type": "SUBTITLES", "channels": "2"}, "CHANNELS applies to AUDIO only"),
        ({"name": 'Bad "quote"'}, r"matching regex .* at `\$.name`"),
        ({"language": "en us"}, r"matching regex .* at `\$.language`"),
        ({"type": "VIDEO"}, "Invalid enum value"),
        ({"bandwidth": 0}, "Expected `int` >= 1"),
    ],
)
def test_add_rendition_is_validated_when_decoded(fields, error):
    base = {"kind": "add_rendition", "type": "AUDIO", "group_id": None, "language": "en"}
    document = {**base, "name": "N", "uri": "u", **fields}
    with pytest.raises(msgspec.ValidationError, match=error):
        msgspec.json.decode(msgspec.json.encode(document), type=AddRendition)


def test_crlf_playlists_get_crlf_lines():
    source = multivariant(SMALL.replace(b"\n", b"\r\n"))
    edit = AddRendition(type="AUDIO", group_id="a", language="de", name="D", uri="d", default=True)
    data = render(apply_add_rendition(source, edit))
    assert data.count(b"\r\n") == data.count(b"\n")


# -- PreferLanguages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "media_type", "languages", "group", "default", "order"),
    [
        pytest.param(
            LO_HI, "AUDIO", ("fr",), "audio-hi", ["Français"], ["Français", "English", "Espanol"],
            id="iso-639-2-fre-is-fr",
        ),
        pytest.param(
            KALTURA, "AUDIO", ("de", "en"), "audio-aacl-96", ["German"],
            ["German", "Polish", "English", "No linguistic content"],
            id="kaltura-names-lie-languages-do-not",
        ),
        pytest.param(
            KALTURA, "SUBTITLES", ("en-GB",), "subs", ["English"],
            ["English", "Portuguese", "Greek", "Thai"],
            id="primary-subtag-match",
        ),
        pytest.param(
            WOWZA_CC, "AUDIO", ("en",), "aac", ["English"],
            ["English", "Commentary (eng)", "Spanish"],
            id="current-default-wins-a-tie",
        ),
        pytest.param(
            WOWZA_CC, "SUBTITLES", ("fr", "zh"), "subs", ["French"], ["French", "Chinese"],
            id="fra-and-zho",
        ),
        pytest.param(
            DOLBY, "AUDIO", ("ja",), "audio1_t0", ["日本語"], ["日本語"], id="single-member-groups"
        ),
    ],
)  # fmt: skip
def test_prefer_languages(name, media_type, languages, group, default, order):
    edit = PreferLanguages(type=media_type, languages=languages)
    out = checked(apply_prefer_languages(corpus(name), edit))
    assert default_of(out, media_type, group) == default
    assert members(out, media_type, group) == order


def test_prefer_languages_without_reorder_keeps_the_order():
    edit = PreferLanguages(type="AUDIO", languages=("fr",), reorder=False)
    source = corpus(LO_HI)
    out = checked(apply_prefer_languages(source, edit))
    assert members(out, "AUDIO", "audio-lo") == members(source, "AUDIO", "audio-lo")
    assert default_of(out, "AUDIO", "audio-lo") == ["Français"]


def test_only_rewritten_lines_change():
    edit = PreferLanguages(type="AUDIO", languages=("fr",), reorder=False)
    before = render(corpus(LO_HI)).decode().splitlines()
    after = render(apply_prefer_languages(corpus(LO_HI), edit)).decode().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert [b for _, b in changed] == [
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-lo",LANGUAGE="eng",NAME="English",'
        'AUTOSELECT=YES,DEFAULT=NO,URI="englo/prog_index.m3u8"',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-lo",LANGUAGE="fre",NAME="Français",'
        'AUTOSELECT=YES,DEFAULT=YES,URI="frelo/prog_index.m3u8"',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-hi",LANGUAGE="eng",NAME="English",'
        'AUTOSELECT=YES,DEFAULT=NO,URI="eng/prog_index.m3u8"',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-hi",LANGUAGE="fre",NAME="Français",'
        'AUTOSELECT=YES,DEFAULT=YES,URI="fre/prog_index.m3u8"',
    ]


def test_default_gets_autoselect_yes():
    # BIS §4.4.6.1: AUTOSELECT, when present, MUST be YES on a DEFAULT=YES rendition.
    edit = PreferLanguages(type="AUDIO", languages=("de",))
    out = checked(apply_prefer_languages(corpus(KALTURA), edit))
    german = next(m for m in groups(out, "AUDIO")["audio-aacl-96"] if m.name == "German")
    assert (german.attrs["DEFAULT"], german.attrs["AUTOSELECT"]) == ("YES", "YES")


@pytest.mark.parametrize(
    "edit",
    [
        PreferLanguages(type="AUDIO", languages=("ko",)),
        PreferLanguages(type="AUDIO", languages=()),
        PreferLanguages(type="SUBTITLES", languages=("en",)),  # no subtitles group
        PreferLanguages(type="AUDIO", languages=("en",)),  # already the default and first
    ],
)
def test_prefer_languages_that_changes_nothing_is_the_identity(edit):
    source = corpus(COMCAST)
    assert apply_prefer_languages(source, edit) is source


FORCED = b"""#EXTM3U
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="Forced",LANGUAGE="es",FORCED=YES,AUTOSELECT=YES,URI="f"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="e"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="only",NAME="Forced",LANGUAGE="es",FORCED=YES,AUTOSELECT=YES,URI="f"
#EXT-X-STREAM-INF:BANDWIDTH=1,SUBTITLES="s"
v.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1,SUBTITLES="only"
w.m3u8
"""


def test_forced_subtitles_are_default_only_when_alone():
    edit = PreferLanguages(type="SUBTITLES", languages=("es",))
    out = checked(apply_prefer_languages(multivariant(FORCED), edit))
    assert default_of(out, "SUBTITLES", "s") == ["English"]
    assert default_of(out, "SUBTITLES", "only") == ["Forced"]


# -- DropRenditions ----------------------------------------------------------------------


def test_drop_with_basic_filtering_and_default_moving():
    edit = DropRenditions(type="AUDIO", languages=("en",))
    out = checked(apply_drop_renditions(corpus(WOWZA_CC), edit))
    # "en" drops English and the commentary; Spanish inherits the default.
    assert members(out, "AUDIO", "aac") == ["Spanish"]
    assert default_of(out, "AUDIO", "aac") == ["Spanish"]


def test_drop_by_name_keeps_one_member_per_group():
    edit = DropRenditions(type="AUDIO", names=("English",))
    out = checked(apply_drop_renditions(corpus(BIPBOP), edit))
    for group in ("aud1", "aud2", "aud3"):
        assert members(out, "AUDIO", group) == ["English"]


def test_dropping_a_whole_group_removes_its_references():
    edit = DropRenditions(type="AUDIO", names=("English",), keep_at_least_one=False)
    source = corpus(COMCAST)
    out = checked(apply_drop_renditions(source, edit))
    assert groups(out, "AUDIO") == {}
    assert all("AUDIO" not in v.attributes() for v in out.variants)
    assert len(out.variants) == len(source.variants)


def test_drop_subtitles_leaves_audio_references():
    edit = DropRenditions(type="SUBTITLES", languages=("en",), keep_at_least_one=False)
    out = checked(apply_drop_renditions(corpus(BIPBOP), edit))
    attrs = [v.attributes() for v in out.variants]
    assert all("SUBTITLES" not in a and "AUDIO" in a and "CLOSED-CAPTIONS" in a for a in attrs)


def test_drop_removes_emptied_video_group_from_i_frame_variants_too():
    source = multivariant(
        b"#EXTM3U\n"
        b'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="E",LANGUAGE="en",URI="s"\n'
        b'#EXT-X-STREAM-INF:BANDWIDTH=1,SUBTITLES="s"\nv.m3u8\n'
        b'#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="i.m3u8"\n'
    )
    edit = DropRenditions(type="SUBTITLES", languages=("en",), keep_at_least_one=False)
    assert render(checked(apply_drop_renditions(source, edit))) == (
        b'#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="i.m3u8"\n'
    )


@pytest.mark.parametrize(
    "edit",
    [
        DropRenditions(type="AUDIO"),
        DropRenditions(type="AUDIO", languages=("ja",), names=("Nope",)),
        DropRenditions(type="SUBTITLES", languages=("en",)),  # no subtitles at all
    ],
)
def test_drop_that_matches_nothing_is_the_identity(edit):
    source = corpus(COMCAST)
    assert apply_drop_renditions(source, edit) is source


# -- PreferAccessibility -----------------------------------------------------------------


def test_sdh_subtitles_become_default():
    edit = PreferAccessibility(sdh=True)
    out = checked(apply_prefer_accessibility(corpus(WOWZA_CC), edit))
    assert default_of(out, "SUBTITLES", "subs") == ["French"]
    assert default_of(out, "AUDIO", "aac") == ["English"]


DESCRIBES = 'CHARACTERISTICS="public.accessibility.describes-video"'
AD = f"""#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="en"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="AD fr",LANGUAGE="fr",AUTOSELECT=YES,{DESCRIBES},URI="f"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="AD en",LANGUAGE="en",AUTOSELECT=NO,{DESCRIBES},URI="e"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="b",NAME="AD de",LANGUAGE="de",{DESCRIBES},URI="de-ad"
#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="a"
v.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="b"
w.m3u8
""".encode()


def test_audio_description_in_the_language_of_the_current_default():
    out = checked(
        apply_prefer_accessibility(multivariant(AD), PreferAccessibility(audio_description=True))
    )
    assert default_of(out, "AUDIO", "a") == ["AD en"]
    assert default_of(out, "AUDIO", "b") == ["AD de"]
    ad_en = next(m for m in groups(out, "AUDIO")["a"] if m.name == "AD en")
    assert ad_en.attrs["AUTOSELECT"] == "YES"


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_prefer_accessibility_off_is_the_identity(name):
    source = corpus(name)
    assert apply_prefer_accessibility(source, PreferAccessibility()) is source


# -- properties --------------------------------------------------------------------------

SOURCES = [(CORPUS / name).read_bytes() for name in CORPUS_FILES] + [SMALL, FORCED, AD]
LANGUAGES = st.sampled_from(["en", "eng", "fr", "fr-CA", "de", "es", "pl", "ja", "zh", "pt-BR"])
TYPES = st.sampled_from(["AUDIO", "SUBTITLES"])
NAMES = st.sampled_from(["English", "French", "Deutsch", "Forced", "Extra"])
TUPLES = st.lists(LANGUAGES, max_size=3).map(tuple)
RENDITION_EDITS = st.one_of(
    st.builds(PreferLanguages, type=TYPES, languages=TUPLES, reorder=st.booleans()),
    st.builds(
        DropRenditions,
        type=TYPES,
        languages=TUPLES,
        names=st.lists(NAMES, max_size=2).map(tuple),
        keep_at_least_one=st.booleans(),
    ),
    st.builds(PreferAccessibility, audio_description=st.booleans(), sdh=st.booleans()),
)
APPLY: dict[type, Callable[[Any, Any], MultivariantPlaylist]] = {
    PreferLanguages: apply_prefer_languages,
    DropRenditions: apply_drop_renditions,
    PreferAccessibility: apply_prefer_accessibility,
}


@given(source=st.sampled_from(SOURCES), edit=RENDITION_EDITS)
def test_rendition_edits_keep_the_rules_and_are_idempotent(source, edit):
    apply = APPLY[type(edit)]
    out = checked(apply(multivariant(source), edit))
    assert render(apply(out, edit)) == render(out)


@given(
    source=st.sampled_from(SOURCES),
    media_type=TYPES,
    language=LANGUAGES,
    name=NAMES,
    default=st.booleans(),
    everywhere=st.booleans(),
)
def test_add_rendition_keeps_the_rules_or_refuses(
    source, media_type, language, name, default, everywhere
):
    playlist = multivariant(source)
    existing = groups(playlist, media_type)
    group_id = None if everywhere or not existing else next(iter(existing))
    edit = AddRendition(
        type=media_type, group_id=group_id, language=language, name=name, uri="x.m3u8",
        default=default,
    )  # fmt: skip
    try:
        out = apply_add_rendition(playlist, edit)
    except EditError:
        return
    checked(out)
    after = groups(out, media_type)
    for group in (existing if group_id is None else [group_id]) or after:
        assert name in [m.name for m in after[group]]
        assert (default_of(out, media_type, group) == [name]) or not default
    with pytest.raises(EditError, match="already has NAME"):
        apply_add_rendition(out, edit)
