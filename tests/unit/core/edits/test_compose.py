"""Compose: a new VOD from time ranges of several playlists."""

from itertools import pairwise

import msgspec
import pytest
from hypothesis import given, strategies as st

from edge_assembler.core.edits.compose import Compose, Range, apply_compose
from edge_assembler.core.edits.seams import EditError, boundaries, snap
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.invariants import check
from tests.hls_support import assert_m3u8_agrees

URL = "https://cdn.example.com/{}/index.m3u8"


def media(text: str) -> MediaPlaylist:
    playlist = parse(text.encode())
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def vod(name: str, *durations: float, head: str = "", target: int = 6) -> MediaPlaylist:
    body = "".join(f"#EXTINF:{d:.3f},\n{name}{i}.ts\n" for i, d in enumerate(durations))
    return media(
        f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n{head}{body}#EXT-X-ENDLIST\n"
    )


def part(source: str, start: float, end: float, role: str = "content") -> Range:
    return Range(source=source, source_url=URL.format(source), start=start, end=end, role=role)


def compose(playlist: MediaPlaylist, *ranges: Range, **fetched: MediaPlaylist) -> MediaPlaylist:
    output = apply_compose(playlist, Compose(ranges=ranges), fetched)
    data = render(output)
    assert_m3u8_agrees(data)
    assert check(media(data.decode())) == []
    return output


def test_continuing_ranges_join_without_a_discontinuity():
    playlist = vod("s", 4.0, 4.0, 4.0, 4.0)
    output = compose(playlist, part("self", 0, 8), part("self", 8, 12))
    assert [s.uri for s in output.segments] == ["s0.ts", "s1.ts", "s2.ts"]
    assert not any(s.discontinuity for s in output.segments)


def test_the_same_range_twice_is_two_runs():
    playlist = vod("s", 4.0, 4.0)
    output = compose(playlist, part("self", 0, 4), part("self", 0, 4))
    assert [s.discontinuity for s in output.segments] == [False, True]


def test_an_ad_range_is_a_break_and_a_recap_is_not():
    playlist = vod("s", 4.0, 4.0)
    ad = vod("ad", 2.0, 2.0)
    output = render(
        compose(playlist, part("self", 0, 4), part("ad", 0, 4, "ad"), part("self", 4, 8), ad=ad)
    ).decode()
    assert "#EXT-X-CUE-OUT:DURATION=4\n#EXTINF:2.000,\nhttps://cdn.example.com/ad/ad0.ts" in output
    assert "#EXT-X-CUE-IN\n#EXTINF:4.000,\ns1.ts" in output
    recap = render(compose(playlist, part("ad", 0, 4, "recap"), part("self", 0, 8), ad=ad))
    assert b"CUE" not in recap


def test_the_header_comes_from_the_edited_playlist_and_live_tags_go():
    live = media(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:90\n"
        "#EXT-X-PART-INF:PART-TARGET=1.0\n#EXT-X-SERVER-CONTROL:PART-HOLD-BACK=3.0\n"
        '#EXTINF:4.000,\na.ts\n#EXT-X-PART:DURATION=1.0,URI="p.ts"\n#EXTINF:4.000,\nb.ts\n'
    )
    output = compose(live, part("other", 0, 10), other=vod("o", 10.0, target=10))
    assert output.head == (
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-TARGETDURATION:10",
        "#EXT-X-MEDIA-SEQUENCE:90",
    )
    assert output.tail == ("#EXT-X-ENDLIST",)
    assert output.endlist


@pytest.mark.parametrize(
    ("ranges", "reason"),
    [
        ((part("self", 4, 4),), "is empty"),
        ((part("self", 1, 2),), "holds no whole segment"),
        ((part("self", 0, 30),), "beyond the end"),
        ((part("gone", 0, 4),), "source 'gone' was not fetched"),
    ],
)
def test_refusals(ranges, reason):
    with pytest.raises(EditError, match=reason):
        apply_compose(vod("s", 4.0, 4.0), Compose(ranges=ranges), {})


def test_at_least_one_range():
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"kind":"compose","ranges":[]}', type=Compose)


SOURCES = {
    "self": vod("s", 4.0, 4.0, 4.0, 4.0, 4.0),
    "b": vod("b", 6.0, 6.0, 6.0),
    "c": vod("c", 2.0, 2.0, 3.0, 3.0),
}


@st.composite
def ranges(draw: st.DrawFn) -> Range:
    source = draw(st.sampled_from(sorted(SOURCES)))
    edges = boundaries(SOURCES[source])
    start = draw(st.integers(0, len(edges) - 2))
    end = draw(st.integers(start + 1, len(edges) - 1))
    role = draw(st.sampled_from(["content", "ad", "recap", "bumper"]))
    return part(source, edges[start], edges[end], role)


@given(st.lists(ranges(), min_size=1, max_size=5))
def test_a_composition_is_its_ranges_with_a_seam_between_each(parts):
    output = compose(SOURCES["self"], *parts, b=SOURCES["b"], c=SOURCES["c"])
    expected = sum(r.end - r.start for r in parts)
    assert output.duration == pytest.approx(expected)
    seams = sum(
        1
        for before, after in pairwise(parts)
        if not (before.source == after.source and before.end == after.start)
    )
    assert sum(s.discontinuity for s in output.segments) == seams
    first = parts[0]
    assert len(output.segments) == sum(
        snap(SOURCES[r.source], r.end) - snap(SOURCES[r.source], r.start) for r in parts
    )
    assert output.segments[0].uri.endswith(
        f"{first.source[0]}{snap(SOURCES[first.source], first.start)}.ts"
    )


def test_i_frame_headers_are_refused():
    iframes = vod("s", 4.0, head="#EXT-X-I-FRAMES-ONLY\n")
    with pytest.raises(EditError, match="full media playlist"):
        apply_compose(iframes, Compose(ranges=(part("self", 0, 4),)), {})
