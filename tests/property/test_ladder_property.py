"""Ad rendition matching on generated ladders (``core.hls.ladder``): the choice is always a
playlist of the ad master, and a video choice obeys the family, class and nearest rule."""

from urllib.parse import urljoin

from hypothesis import given, strategies as st

from edge_assembler.core.hls import MediaPlaylist, MultivariantPlaylist, parse
from edge_assembler.core.hls.ladder import (
    Track,
    choose,
    family,
    padding,
    resolution_class,
    tracks,
)

CODECS = st.sampled_from(
    ["avc1.4d401e", "avc3.64001f", "hvc1.1.6.L93.90", "hev1.2.4.L120.90", "av01.0.08M.08"]
)
RESOLUTIONS = st.sampled_from(["640x360", "1024x576", "1280x720", "1920x1080", "3840x2160"])
LANGUAGES = st.sampled_from(["en", "fr", "de", "eng"])
AD_URI = "/vod/ad/master.m3u8"


@st.composite
def masters(draw: st.DrawFn) -> str:
    """A multivariant playlist: variants, maybe audio and subtitles renditions."""
    lines = ["#EXTM3U"]
    for i in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["AUDIO", "SUBTITLES"]))
        language = draw(LANGUAGES)
        channels = f',CHANNELS="{draw(st.sampled_from(["2", "6", "16/JOC"]))}"'
        default = draw(st.sampled_from(["YES", "NO"]))
        lines.append(
            f'#EXT-X-MEDIA:TYPE={kind},GROUP-ID="g",NAME="n{i}",LANGUAGE="{language}",'
            f'DEFAULT={default}{channels if kind == "AUDIO" else ""},URI="r{i}/index.m3u8"'
        )
    for i in range(draw(st.integers(1, 6))):
        bandwidth = draw(st.integers(100_000, 20_000_000))
        lines += [
            f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={draw(RESOLUTIONS)},"
            f'CODECS="{draw(CODECS)},mp4a.40.2"',
            draw(st.sampled_from([f"v{i}/index.m3u8", f"/other/v{i}.m3u8", f"../v{i}.m3u8"])),
        ]
    return "\n".join(lines) + "\n"


def wanted() -> st.SearchStrategy[Track]:
    video = st.builds(
        Track,
        kind=st.just("video"),
        uri=st.just(""),
        bandwidth=st.integers(100_000, 20_000_000),
        family=CODECS.map(family),
        resolution=RESOLUTIONS.map(resolution_class),
    )
    media = st.builds(
        Track,
        kind=st.sampled_from(["audio", "subtitles"]),
        uri=st.just(""),
        language=st.sampled_from(["en", "fr", "de", None]),
        channels=st.sampled_from([2, 6, None]),
    )
    return st.one_of(video, media)


def multivariant(text: str) -> MultivariantPlaylist:
    playlist = parse(text.encode())
    assert isinstance(playlist, MultivariantPlaylist)
    return playlist


@given(masters(), wanted())
def test_the_choice_is_a_playlist_of_the_ad_master(text: str, track: Track) -> None:
    ad = multivariant(text)
    chosen = choose(track, ad, AD_URI)
    same_kind = [t for t in ad.fact(tracks) if t.kind == track.kind]
    if chosen is None:
        assert track.kind == "subtitles" or not same_kind
        return
    assert chosen in {urljoin(AD_URI, t.uri) for t in same_kind}


@given(masters(), wanted().filter(lambda t: t.kind == "video"))
def test_a_video_choice_is_the_nearest_in_the_narrowest_pool(text: str, track: Track) -> None:
    ad = multivariant(text)
    chosen = choose(track, ad, AD_URI)
    variants = [t for t in ad.fact(tracks) if t.kind == "video"]
    assert chosen is not None  # an ad master always has a variant here
    picked = next(t for t in variants if urljoin(AD_URI, t.uri) == chosen)
    same_family = [t for t in variants if t.family == track.family]
    same_class = [t for t in same_family if t.resolution == track.resolution]
    pool = same_class or same_family or variants
    assert picked in pool
    assert abs(picked.bandwidth - track.bandwidth) == min(
        abs(t.bandwidth - track.bandwidth) for t in pool
    )


@given(st.lists(st.tuples(st.integers(1, 12_000), st.booleans()), min_size=1, max_size=20))
def test_padding_has_the_videos_segment_durations_and_seams(
    segments: list[tuple[int, bool]],
) -> None:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:12", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for i, (millis, discontinuity) in enumerate(segments):
        lines += ["#EXT-X-DISCONTINUITY"] if discontinuity else []
        lines += [f"#EXTINF:{millis / 1000:.3f},", f"s{i}.ts"]
    video = parse(("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n").encode())
    assert isinstance(video, MediaPlaylist)
    padded = padding(video, "/_edge/empty.vtt")
    assert [(s.duration, s.discontinuity) for s in padded.segments] == [
        (s.duration, s.discontinuity) for s in video.segments
    ]
    assert padded.endlist
