"""Facts memoised on a parsed playlist, and the layout that renders it in pieces."""

from hypothesis import given

from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.layout import Lines, layout, pieces_of, record, segment_text
from edge_assembler.core.hls.model import tagged_segments
from tests.property.hls_strategies import media_playlists

TEXT = (
    "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n#EXT-X-CUE-OUT:8\n#EXTINF:4,\nb.ts\n"
    "#EXTINF:4,\nc.ts\n# a comment\n#EXTINF:4,\nd.ts\n#EXT-X-ENDLIST\n"
)


def media(data: bytes) -> MediaPlaylist:
    playlist = parse(data)
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def test_a_fact_is_computed_once_and_is_no_part_of_the_value():
    playlist = media(TEXT.encode())
    calls = []

    def count(p: MediaPlaylist) -> int:
        calls.append(p)
        return len(p.segments)

    assert playlist.fact(count) == playlist.fact(count) == 4
    assert len(calls) == 1
    assert playlist == media(TEXT.encode())  # facts take no part in comparison
    assert "count" not in repr(playlist)
    evolved = playlist.evolve(tail=())
    assert evolved.fact(count) == 4
    assert len(calls) == 2  # evolve starts with no facts


def test_tagged_segments_are_those_with_more_than_extinf_and_uri():
    playlist = media(TEXT.encode())
    assert playlist.fact(tagged_segments) == (1, 3)
    assert tagged_segments(playlist) == (1, 3)  # what parse recorded is what it computes


@given(media_playlists())
def test_what_parse_records_equals_what_the_facts_compute(data):
    try:
        playlist = parse(data)
    except ManifestError:
        return  # the round trip tests cover the errors
    assert isinstance(playlist, MediaPlaylist)
    assert playlist.fact(tagged_segments) == tagged_segments(playlist)
    lines = [raw for segment in playlist.segments for raw in segment.raw]
    assert "\n".join(segment_text(playlist)) == "\n".join(lines)


def test_pieces_of_a_parsed_playlist_are_slices_of_its_lines():
    playlist = media(TEXT.encode())
    pieces = pieces_of(playlist, 1, 3)
    assert len(pieces) == 1
    assert isinstance(pieces[0], Lines)
    assert pieces[0].text() == "#EXT-X-CUE-OUT:8\n#EXTINF:4,\nb.ts\n#EXTINF:4,\nc.ts"
    assert pieces_of(playlist, 2, 2) == []


def test_a_recorded_layout_splits_at_any_segment():
    playlist = media(TEXT.encode())
    new = playlist.segments[2]._replace(raw=("#EXTINF:4,", "x.ts"), uri="x.ts", number=0)
    segments = (*playlist.segments[:2], new, *playlist.segments[3:])
    edited = playlist.evolve(segments=segments)
    assert edited.fact(layout) is None  # evolve forgets the layout
    record(edited, [*pieces_of(playlist, 0, 2), new, *pieces_of(playlist, 3, 4)])
    expected = TEXT.replace("c.ts", "x.ts").encode()
    assert render(edited) == expected
    for start in range(5):
        for stop in range(start, 5):
            text = "\n".join(
                piece.text() if isinstance(piece, Lines) else "\n".join(piece.raw)
                for piece in pieces_of(edited, start, stop)
            )
            assert text == "\n".join(r for s in segments[start:stop] for r in s.raw)
