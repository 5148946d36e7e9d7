"""FilterVariants, codec families, check_multivariant, and any sequence of multivariant
edits keeping the multivariant rules (SPEC_RULES 60-73)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

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
)
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.edits.variants import (
    CodecFamily,
    FilterVariants,
    apply_filter_variants,
    check_multivariant,
    codec_family,
)
from edge_assembler.core.hls import MultivariantPlaylist, parse, render
from tests.hls_support import assert_m3u8_agrees

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "hls"
BIPBOP = "m3u8parser__apple-bipbop-fmp4-multivariant-groups-iframes-cc.m3u8"
COMCAST = "mamba__comcast-demuxed-two-audio-groups-iframes.m3u8"
APPLE_HDR = "m3u8parser__apple-authoring-example-hdr-hevc-dv-iframes.m3u8"
DOLBY = "hlsvodtolive__dolby-ec3-joc-audio-groups-channels.m3u8"
STEERING = "m3u8py__content-steering-pathways.m3u8"
AUDIO_ONLY = "m3u8py__variants-with-iframe-streams-audio-only-variant.m3u8"
SHAKA_VIDEO = "shaka__alternative-video-groups-multi-audio.m3u8"
MULTIVARIANTS = [
    BIPBOP,
    COMCAST,
    APPLE_HDR,
    DOLBY,
    STEERING,
    AUDIO_ONLY,
    SHAKA_VIDEO,
    "hlsvodtolive__wowza-subs-commentary-audio.m3u8",
    "hlsvodtolive__usp-kaltura-multiaudio-subs-quirks.m3u8",
    "m3u8parser__audio-lo-hi-groups-french-names.m3u8",
    "m3u8py__wowza-multi-audio-subs-cc.m3u8",
    "exoplayer__redundant-variants-and-rendition-groups.m3u8",
    "mediatailor-docs__origin-multivariant.m3u8",
]


def corpus(name: str) -> MultivariantPlaylist:
    playlist = parse((CORPUS / name).read_bytes())
    assert isinstance(playlist, MultivariantPlaylist)
    return playlist


def checked(playlist: MultivariantPlaylist) -> MultivariantPlaylist:
    data = render(playlist)
    assert render(parse(data)) == data
    assert_m3u8_agrees(data)
    assert check_multivariant(playlist) == []
    return playlist


def uris(playlist: MultivariantPlaylist) -> list[str]:
    return [v.uri for v in playlist.variants]


def i_frame_uris(playlist: MultivariantPlaylist) -> list[str]:
    return [line.value.split('URI="')[1].split('"')[0] for line in playlist.i_frame_variants]


# -- codec families ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "family"),
    [
        ("avc1.64002a", "avc"), ("avc3.640028", "avc"), ("AVC1.4D401F", "avc"),
        ("hvc1.2.4.L123.B0", "hevc"), ("hev1.1.6.L93.B0", "hevc"),
        ("dvh1.05.01", "dolby-vision"), ("dvhe.08.07", "dolby-vision"),
        ("av01.0.08M.10", "av1"), ("vp09.00.10.08", "vp9"),
        ("mp4a.40.2", "aac"), ("mp4a.40.5", "aac"), ("mp4a.40.34", "mp3"), ("mp4a.6B", "mp3"),
        ("ec-3", "ec-3"), ("ac-3", "ac-3"), ("ac-4.02.01.01", "ac-4"), ("Opus", "opus"),
        ("fLaC", "flac"), ("stpp.ttml.im1t", "imsc"), ("wvtt", "webvtt"), (" avc1.42e01e", "avc"),
        ("mjpg", None), ("", None),
    ],
)  # fmt: skip
def test_codec_family(codec, family):
    assert codec_family(codec) == family


def test_every_family_has_a_sample_entry():
    assert {codec_family(c) for c in ("avc1", "hvc1", "dvh1", "av01", "vp08", "vp09", "vvc1")} <= (
        set(get_args(CodecFamily))
    )


# -- FilterVariants ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "edit", "variants", "i_frames"),
    [
        pytest.param(
            BIPBOP, FilterVariants(max_height=540), 12, 4, id="bipbop-540p-keeps-audio-groups"
        ),
        pytest.param(
            BIPBOP, FilterVariants(drop_codecs=("ac-3", "ec-3")), 8, 6, id="bipbop-aac-only"
        ),
        pytest.param(
            COMCAST,
            FilterVariants(max_bandwidth=1_000_000),
            5,
            4,
            id="comcast-1mbps-iframes-follow",
        ),
        pytest.param(
            APPLE_HDR, FilterVariants(drop_codecs=("dolby-vision",)), 6, 6, id="hdr-no-dolby-vision"
        ),
        pytest.param(APPLE_HDR, FilterVariants(only_codecs=("avc",)), 1, 1, id="hdr-keeps-lowest"),
        pytest.param(
            AUDIO_ONLY, FilterVariants(max_height=300), 4, 3, id="unknown-resolution-passes"
        ),
        pytest.param(STEERING, FilterVariants(max_bandwidth=100), 2, 0, id="every-pathway-kept"),
        pytest.param(
            SHAKA_VIDEO, FilterVariants(max_height=360), 1, 0, id="video-groups-stay-resolvable"
        ),
    ],
)
def test_filter_variants(name, edit, variants, i_frames):
    out = checked(apply_filter_variants(corpus(name), edit))
    assert (len(out.variants), len(out.i_frame_variants)) == (variants, i_frames)


def test_every_pathway_keeps_its_cheapest_variant():
    # SPEC_RULES 70: CONTENT-STEERING PATHWAY-ID must still name a pathway with variants.
    out = checked(apply_filter_variants(corpus(STEERING), FilterVariants(max_bandwidth=100)))
    kept = [(v.attributes()["PATHWAY-ID"], v.attributes()["BANDWIDTH"]) for v in out.variants]
    assert kept == [("CDN-A", "1280000"), ("CDN-B", "1280000")]


def test_fallback_is_the_lowest_bandwidth_variant_and_its_i_frames_follow():
    out = checked(apply_filter_variants(corpus(APPLE_HDR), FilterVariants(only_codecs=("avc",))))
    assert uris(out) == ["sdr_720/prog_index.m3u8"]
    assert i_frame_uris(out) == ["sdr_720/iframe_index.m3u8"]


def test_i_frames_follow_their_variants():
    edit = FilterVariants(max_bandwidth=1_000_000)
    out = checked(apply_filter_variants(corpus(COMCAST), edit))
    # 310327 and 415066 (320x180), 624674 (512x288), 886666 (640x360) stay with their variants.
    assert [u.rsplit("-", 1)[-1] for u in i_frame_uris(out)] == [
        "310327.m3u8", "415066.m3u8", "624674.m3u8", "886666.m3u8"
    ]  # fmt: skip


def test_dropped_variant_takes_its_uri_line_and_nothing_else():
    source = corpus(APPLE_HDR)
    out = checked(apply_filter_variants(source, FilterVariants(max_height=1080)))
    before = render(source).decode().splitlines()
    after = render(out).decode().splitlines()
    removed = [line for line in before if line not in after]
    assert len(removed) == 9  # 3 STREAM-INF with their URI lines, 3 I-frame variants
    assert all("3840x2160" in line or "_2160/" in line for line in removed)


@pytest.mark.parametrize("name", MULTIVARIANTS)
def test_filter_that_passes_everything_is_the_identity(name):
    source = corpus(name)
    edit = FilterVariants(max_height=100_000, max_bandwidth=10**9, drop_codecs=("vvc",))
    assert apply_filter_variants(source, edit) is source
    assert apply_filter_variants(source, FilterVariants()) is source


# -- check_multivariant ------------------------------------------------------------------

BROKEN = [
    pytest.param(
        b'#EXTM3U\n#EXT-X-STREAM-INF:AUDIO="a",CLOSED-CAPTIONS=NONE\nv.m3u8\n',
        [
            "variant v.m3u8: no BANDWIDTH",
            'variant v.m3u8: AUDIO="a" names no AUDIO group',
        ],
        id="no-bandwidth-dangling-audio",
    ),
    pytest.param(
        b'#EXTM3U\n#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="a",NAME="x",URI="s"\n'
        b'#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="a",CLOSED-CAPTIONS="cc"\nv.m3u8\n',
        [
            'variant v.m3u8: AUDIO="a" names no AUDIO group',
            'variant v.m3u8: CLOSED-CAPTIONS="cc" names no CLOSED-CAPTIONS group',
        ],
        id="group-of-another-type",
    ),
    pytest.param(
        b'#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x",DEFAULT=YES,URI="1"\n'
        b'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x",DEFAULT=YES,AUTOSELECT=NO,URI="2"\n'
        b'#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO="a"\nv.m3u8\n',
        [
            'AUDIO group "a": 2 members with DEFAULT=YES',
            'AUDIO group "a": NAME "x" used 2 times',
            'AUDIO group "a": "x" is DEFAULT=YES but not AUTOSELECT=YES',
        ],
        id="group-rules",
    ),
    pytest.param(
        b'#EXTM3U\n#EXT-X-I-FRAME-STREAM-INF:VIDEO="v",URI="i.m3u8"\n'
        b"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1\n",
        [
            "I-frame variant i.m3u8: no BANDWIDTH",
            'I-frame variant i.m3u8: VIDEO="v" names no VIDEO group',
            "I-frame variant None: no URI",
            "no EXT-X-STREAM-INF variant",
        ],
        id="i-frames-only",
    ),
]


@pytest.mark.parametrize(("data", "problems"), BROKEN)
def test_check_multivariant_names_each_problem(data, problems):
    playlist = parse(data)
    assert isinstance(playlist, MultivariantPlaylist)
    assert check_multivariant(playlist) == problems


@pytest.mark.parametrize("name", MULTIVARIANTS)
def test_corpus_multivariants_are_consistent(name):
    assert check_multivariant(corpus(name)) == []


# -- any sequence of edits ---------------------------------------------------------------

LANGUAGES = st.sampled_from(["en", "fr", "de", "es", "ja", "pt-BR", "zxx"])
TYPES = st.sampled_from(["AUDIO", "SUBTITLES"])
NAMES = st.sampled_from(["English", "Deutsch", "Extra", "Original 128k"])
TUPLES = st.lists(LANGUAGES, max_size=2).map(tuple)
FAMILIES = st.lists(st.sampled_from(get_args(CodecFamily)), max_size=3).map(tuple)
EDITS = st.one_of(
    st.builds(
        AddRendition,
        type=TYPES,
        group_id=st.none(),
        language=LANGUAGES,
        name=NAMES,
        uri=st.just("extra.m3u8"),
        default=st.booleans(),
        bandwidth=st.none() | st.integers(1, 400_000),
        codecs=st.none() | st.sampled_from(["ec-3", "mp4a.40.2", "wvtt"]),
    ),
    st.builds(
        PreferLanguages,
        type=TYPES,
        languages=st.lists(LANGUAGES, min_size=1, max_size=2).map(tuple),
        reorder=st.booleans(),
    ),
    st.builds(
        DropRenditions,
        type=TYPES,
        languages=TUPLES,
        names=st.lists(NAMES, max_size=2).map(tuple),
        keep_at_least_one=st.booleans(),
    ),
    st.builds(PreferAccessibility, audio_description=st.booleans(), sdh=st.booleans()),
    st.builds(
        FilterVariants,
        max_height=st.none() | st.sampled_from([180, 360, 540, 720, 1080]),
        max_bandwidth=st.none() | st.integers(50_000, 10_000_000),
        drop_codecs=FAMILIES,
        only_codecs=st.just(()) | FAMILIES,
    ),
)
APPLY: dict[type, Callable[[Any, Any], MultivariantPlaylist]] = {
    AddRendition: apply_add_rendition,
    PreferLanguages: apply_prefer_languages,
    DropRenditions: apply_drop_renditions,
    PreferAccessibility: apply_prefer_accessibility,
    FilterVariants: apply_filter_variants,
}
SOURCES = [(CORPUS / name).read_bytes() for name in MULTIVARIANTS]


@given(source=st.sampled_from(SOURCES), edits=st.lists(EDITS, max_size=5))
def test_any_sequence_of_edits_keeps_the_multivariant_rules(source, edits):
    playlist = parse(source)
    assert isinstance(playlist, MultivariantPlaylist)
    for edit in edits:
        apply = APPLY[type(edit)]
        try:
            out = apply(playlist, edit)
        except EditError:
            continue  # refused (a NAME taken, no group): the playlist is left as it was
        checked(out)
        if not isinstance(edit, AddRendition):
            assert render(apply(out, edit)) == render(out)  # idempotent (SPEC_RULES 100)
        playlist = out
