"""Matching an ad's ladder to the content's (``core.hls.ladder``; BIS §4.4.6.1, §4.4.6.2)."""

import m3u8
import pytest

from edge_assembler.core.hls import MediaPlaylist, MultivariantPlaylist, parse, render
from edge_assembler.core.hls.ladder import (
    UNLISTED_SUBTITLES,
    Track,
    choose,
    describe,
    family,
    identify,
    is_webvtt,
    padding,
    rebased,
    reference,
    resolution_class,
)

CONTENT = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",LANGUAGE="en",CHANNELS="2",DEFAULT=YES,URI="audio/en.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",LANGUAGE="fre",CHANNELS="6",URI="audio/fr.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",LANGUAGE="en-GB",URI="subs/en.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",LANGUAGE="de",URI="subs/de.m3u8"
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",LANGUAGE="en",INSTREAM-ID="CC1"
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2400000,RESOLUTION=1280x720,CODECS="avc3.4d401f,mp4a.40.2"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=6000000,RESOLUTION=1920x1080,CODECS="hev1.1.6.L120.90"
https://cdn.example/hevc/1080p.m3u8
"""

AD = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="x",LANGUAGE="en",CHANNELS="6",URI="x_en6.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="x",LANGUAGE="fr",CHANNELS="2",DEFAULT=YES,URI="x_fr2.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="x",LANGUAGE="en",CHANNELS="2",URI="x_en2.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="t",LANGUAGE="en",URI="t_en.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=1024x576,CODECS="avc1.4d401e"
sd.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=700000,RESOLUTION=768x432,CODECS="avc1.4d401e"
low.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1920x1080,CODECS="avc1.640028"
fhd.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2400000,RESOLUTION=1280x720,CODECS="hvc1.1.6.L93.90"
hevc720.m3u8
"""


def master(text: str) -> MultivariantPlaylist:
    playlist = parse(text.encode())
    assert isinstance(playlist, MultivariantPlaylist)
    return playlist


def media(text: str) -> MediaPlaylist:
    playlist = parse(text.encode())
    assert isinstance(playlist, MediaPlaylist)
    return playlist


@pytest.mark.parametrize(
    ("codecs", "expected"),
    [
        ("avc1.4d401e,mp4a.40.2", "avc"),
        ("mp4a.40.2, avc3.64001f", "avc"),
        ("hvc1.1.6.L93.90", "hevc"),
        ("HEV1.2.4.L120.90", "hevc"),
        ("av01.0.08M.08", "av1"),
        ("vp09.00.40.08", "vp9"),
        ("mp4a.40.2", None),  # an audio-only variant
        (None, None),
    ],
)
def test_codec_family(codecs: str | None, expected: str | None) -> None:
    assert family(codecs) == expected


@pytest.mark.parametrize(
    ("resolution", "expected"),
    [
        ("640x360", "SD"),
        ("1024x576", "SD"),
        ("1280x720", "HD"),
        ("1920x1080", "FHD"),
        ("1080x1920", "FHD"),  # portrait: the shorter side
        ("3840x2160", "UHD"),
        ("wide", None),
        (None, None),
    ],
)
def test_resolution_class(resolution: str | None, expected: str | None) -> None:
    assert resolution_class(resolution) == expected


def test_describe_finds_variants_and_renditions_by_resolved_uri() -> None:
    content = master(CONTENT)
    base = "/vod/c/master.m3u8"
    assert describe(content, base, "/vod/c/720p/index.m3u8") == Track(
        "video", "720p/index.m3u8", bandwidth=2_400_000, family="avc", resolution="HD"
    )
    assert describe(content, base, "/vod/c/audio/fr.m3u8") == Track(
        "audio", "audio/fr.m3u8", language="fr", channels=6
    )
    subs = describe(content, base, "/vod/c/subs/en.m3u8")
    assert subs is not None
    assert (subs.kind, subs.language) == ("subtitles", "en")
    hevc = describe(content, base, "https://cdn.example/hevc/1080p.m3u8")
    assert hevc is not None
    assert (hevc.family, hevc.resolution) == ("hevc", "FHD")
    assert describe(content, base, "/vod/other/720p/index.m3u8") is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("360p/index.m3u8", "/ad/low.m3u8"),  # AVC SD: 700k is nearer 800k than 1000k
        ("720p/index.m3u8", "/ad/fhd.m3u8"),  # no AVC HD (HEVC has one): nearest AVC
        ("https://cdn.example/hevc/1080p.m3u8", "/ad/hevc720.m3u8"),  # the only HEVC
        ("audio/en.m3u8", "/ad/x_en2.m3u8"),  # language and channels
        ("audio/fr.m3u8", "/ad/x_fr2.m3u8"),  # language ("fre" is "fr"), not channels
        ("subs/en.m3u8", "/ad/t_en.m3u8"),  # "en-GB" is English
        ("subs/de.m3u8", None),  # no German subtitles: padding
    ],
)
def test_choose(content: str, expected: str | None) -> None:
    uri = content if content.startswith("https:") else f"/c/{content}"
    described = describe(master(CONTENT), "/c/master.m3u8", uri)
    assert described is not None
    assert choose(described, master(AD), "/ad/master.m3u8") == expected


def test_audio_falls_back_to_the_default_then_the_first() -> None:
    ad = master(AD)
    assert choose(Track("audio", "", language="ja"), ad, "/ad/m.m3u8") == "/ad/x_fr2.m3u8"
    no_default = master(AD.replace("DEFAULT=YES,", ""))
    assert choose(Track("audio", "", language="ja"), no_default, "/ad/m.m3u8") == "/ad/x_en6.m3u8"


def test_video_of_an_unknown_family_takes_the_nearest_of_all() -> None:
    track = Track("video", "", bandwidth=2_900_000, family="av1", resolution="UHD")
    assert choose(track, master(AD), "/ad/m.m3u8") == "/ad/fhd.m3u8"


def test_an_ad_without_a_kind_of_track_has_no_choice() -> None:
    video_only = master("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n")
    assert choose(Track("audio", "", language="en"), video_only, "/m.m3u8") is None
    assert choose(Track("subtitles", "", language="en"), video_only, "/m.m3u8") is None
    assert reference(video_only, "/ad/m.m3u8") == "/ad/v.m3u8"
    audio_only = master('#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="a",URI="a.m3u8"\n')
    assert choose(Track("video", ""), audio_only, "/m.m3u8") is None
    assert reference(audio_only, "/m.m3u8") is None


def test_unlisted_subtitles_are_identified_by_their_webvtt_segments() -> None:
    content = master(CONTENT)
    vtt = media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns1.vtt?v=1\n#EXT-X-ENDLIST\n")
    ts = media("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns1.ts\n#EXT-X-ENDLIST\n")
    assert is_webvtt(vtt)
    assert not is_webvtt(ts)
    assert identify(content, "/c/master.m3u8", "/c/subs/fr.m3u8", vtt) == UNLISTED_SUBTITLES
    assert identify(content, "/c/master.m3u8", "/c/extra.m3u8", ts) is None
    # Unknown language: never another language's subtitles.
    assert choose(UNLISTED_SUBTITLES, master(AD), "/ad/master.m3u8") is None


AD_VIDEO = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:3
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="init.mp4"
#EXTINF:4.004,
a.m4s
#EXT-X-DISCONTINUITY
#EXT-X-KEY:METHOD=AES-128,URI="../k.bin"
#EXTINF:2.0020833,
b.m4s
#EXTINF:1,
/abs/c.m4s
#EXT-X-ENDLIST
"""


def test_padding_keeps_the_ads_durations_and_discontinuities() -> None:
    video = media(AD_VIDEO)
    padded = padding(video, "/_edge/empty.vtt")
    assert [s.duration for s in padded.segments] == [s.duration for s in video.segments]
    assert [s.discontinuity for s in padded.segments] == [False, True, False]
    assert {s.uri for s in padded.segments} == {"/_edge/empty.vtt"}
    assert (padded.target_duration, padded.media_sequence, padded.endlist) == (4, 3, True)
    assert padded.playlist_type == "VOD"
    check = m3u8.loads(render(padded).decode())  # an independent reader
    assert [s.duration for s in check.segments] == [4.004, 2.0020833, 1.0]


def test_rebased_resolves_segment_key_and_map_uris_against_the_playlist() -> None:
    out = render(rebased(media(AD_VIDEO), "/vod/ad/720p/index.m3u8")).decode()
    assert '#EXT-X-MAP:URI="/vod/ad/720p/init.mp4"' in out
    assert '#EXT-X-KEY:METHOD=AES-128,URI="/vod/ad/k.bin"' in out
    uris = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert uris == ["/vod/ad/720p/a.m4s", "/vod/ad/720p/b.m4s", "/abs/c.m4s"]
