"""Properties of the HLS parser and renderer."""

from hypothesis import example, given, strategies as st

from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls import MediaPlaylist, Playlist, parse, render
from tests.hls_support import assert_m3u8_agrees
from tests.property.hls_strategies import media_playlists, multivariant_playlists, mutations


@given(st.one_of(media_playlists(), multivariant_playlists()))
def test_render_of_parse_is_the_input(data: bytes):
    assert render(parse(data)) == data


@given(media_playlists())
def test_segments_and_durations_match_the_text(data: bytes):
    playlist = parse(data)
    assert isinstance(playlist, MediaPlaylist)
    text = data.decode().removeprefix("\ufeff")
    assert len(playlist.segments) == text.count("#EXTINF:")
    assert playlist.endlist == ("#EXT-X-ENDLIST" in text)


@given(media_playlists())
def test_the_m3u8_library_reads_what_we_read(data: bytes):
    assert_m3u8_agrees(data)


@given(mutations(st.one_of(media_playlists(), multivariant_playlists())))
@example(b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:nan,\na.ts\n")
@example(b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:-1,\na.ts\n")
@example(b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.ts\n")
@example(b"#EXTM3U\n#EXT-X-TARGETDURATION:x\n")
@example(b"\xff\xfe#EXTM3U\n")
@example(b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\n\x00a.ts\n")
def test_any_bytes_parse_or_raise_manifest_error(data: bytes):
    outcome = _parse(data)
    if isinstance(outcome, ManifestError):
        assert outcome.line >= 0
        assert outcome.status_hint == 502
    else:
        assert render(outcome) == data


def _parse(data: bytes) -> Playlist | ManifestError:
    try:
        return parse(data)
    except ManifestError as exc:
        return exc
