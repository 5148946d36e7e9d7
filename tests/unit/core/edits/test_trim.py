"""Trim: cutting a VOD at a segment boundary."""

import pytest
from hypothesis import given, strategies as st

from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.edits.trim import Trim, apply_trim
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.invariants import check
from tests.hls_support import assert_m3u8_agrees


def media(text: str) -> MediaPlaylist:
    playlist = parse(text.encode())
    assert isinstance(playlist, MediaPlaylist)
    return playlist


VOD = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:6
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:6.000,
a.ts
#EXTINF:6.000,
b.ts
#EXTINF:6.000,
c.ts

#EXT-X-ENDLIST
"""


@pytest.mark.parametrize(
    ("duration", "kept"),
    [
        (6.0, ["a.ts"]),
        (11.8, ["a.ts"]),
        (11.95, ["a.ts", "b.ts"]),
        (12.0, ["a.ts", "b.ts"]),
        (17.5, ["a.ts", "b.ts"]),
    ],
)
def test_the_cut_is_the_last_boundary_at_or_before(duration, kept):
    output = apply_trim(media(VOD), Trim(duration=duration), {})
    assert [s.uri for s in output.segments] == kept
    assert output.tail == ("", "#EXT-X-ENDLIST")


@pytest.mark.parametrize("duration", [18.0, 100.0])
def test_nothing_to_cut_is_the_identity(duration):
    playlist = media(VOD)
    assert apply_trim(playlist, Trim(duration=duration), {}) is playlist


def test_no_segment_left_is_refused():
    with pytest.raises(EditError, match="leaves no segment"):
        apply_trim(media(VOD), Trim(duration=5.0), {})


def test_live_playlists_are_refused():
    live = media(VOD.replace("#EXT-X-PLAYLIST-TYPE:VOD\n", "").replace("#EXT-X-ENDLIST\n", ""))
    with pytest.raises(EditError, match="only a VOD"):
        apply_trim(live, Trim(duration=6.0), {})


def test_a_closed_pair_is_left_alone():
    text = VOD.replace("#EXTINF:6.000,\na.ts", "#EXT-X-CUE-OUT:6\n#EXTINF:6.000,\na.ts")
    text = text.replace("#EXTINF:6.000,\nb.ts", "#EXT-X-CUE-IN\n#EXTINF:6.000,\nb.ts")
    output = render(apply_trim(media(text), Trim(duration=17.0), {})).decode()
    assert output.count("CUE-IN") == 1
    assert output.endswith("b.ts\n\n#EXT-X-ENDLIST\n")


def test_the_cut_closes_an_open_cue_with_the_playlist_line_ends():
    text = VOD.replace("#EXTINF:6.000,\nb.ts", "#EXT-X-CUE-OUT:12\n#EXTINF:6.000,\nb.ts")
    text = text.replace("\n", "\r\n")
    output = render(apply_trim(media(text), Trim(duration=12.0), {}))
    assert output.endswith(b"b.ts\r\n\r\n#EXT-X-CUE-IN\r\n#EXT-X-ENDLIST\r\n")


def test_without_dates_date_ranges_cannot_be_placed_and_stay():
    text = VOD + '#EXT-X-DATERANGE:ID="x",START-DATE="2030-01-01T00:00:00Z"\n'
    output = apply_trim(media(text), Trim(duration=6.0), {})
    assert output.tail[-1].startswith("#EXT-X-DATERANGE")


@given(
    st.lists(st.integers(500, 10_000), min_size=1, max_size=10),
    st.integers(0, 100_000),
)
def test_the_trimmed_playlist_is_the_longest_prefix_that_fits(milliseconds, duration_ms):
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:10", "#EXT-X-PLAYLIST-TYPE:VOD"]
    lines += [f"#EXTINF:{ms / 1000:.3f},\ns{i}.ts" for i, ms in enumerate(milliseconds)]
    playlist = media("\n".join([*lines, "#EXT-X-ENDLIST", ""]))
    duration = duration_ms / 1000
    if duration < milliseconds[0] / 1000 - 0.1:
        with pytest.raises(EditError):
            apply_trim(playlist, Trim(duration=duration), {})
        return
    output = apply_trim(playlist, Trim(duration=duration), {})
    data = render(output)
    assert_m3u8_agrees(data)
    assert check(media(data.decode())) == []
    assert output.duration <= duration + 0.1
    assert output.segments == playlist.segments[: len(output.segments)]
    rest = playlist.segments[len(output.segments) :]
    assert not rest or output.duration + rest[0].duration > duration + 0.1
