"""The record of a live break on first sight: from its start, from inside it, open with a
signalled duration, closed, and of unknown length (``core.hls.sighting``)."""

from edge_assembler.core.hls import MediaPlaylist, parse
from edge_assembler.core.hls.sighting import Sighting, sightings, unrecorded


def window(first: int, tags: dict[int, str], last: int, *, ended: bool = False) -> MediaPlaylist:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for msn in range(first, last + 1):
        if msn in tags:
            lines.append(tags[msn])
        lines += ["#EXTINF:2.000,", f"{msn}.ts"]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    playlist = parse(("\n".join(lines) + "\n").encode())
    assert isinstance(playlist, MediaPlaylist)
    return playlist


OUT = "#EXT-X-CUE-OUT:DURATION=8"


def test_an_open_break_counts_the_segments_still_to_come_from_its_duration():
    (seen,) = sightings(window(10, {13: OUT}, 14))
    assert seen == Sighting("msn-13", 13, 4, 8.0, OUT, 4.0)


def test_a_closed_break_counts_its_listed_segments():
    (seen,) = sightings(window(10, {12: OUT, 15: "#EXT-X-CUE-IN"}, 16))
    assert (seen.start_msn, seen.replaced, seen.duration, seen.age) == (12, 3, 8.0, 10.0)


def test_a_window_opening_inside_a_break_dates_its_start_back():
    cont = "#EXT-X-CUE-OUT-CONT:ElapsedTime=4.000,Duration=8.000"
    (seen,) = sightings(window(20, {20: cont}, 21))
    assert (seen.id, seen.start_msn, seen.replaced, seen.age) == ("msn-18", 18, 4, 8.0)
    assert seen.cue == cont


def test_a_break_of_unknown_length_is_recorded_without_a_duration():
    (seen,) = sightings(window(10, {12: "#EXT-X-CUE-OUT"}, 14))
    assert (seen.start_msn, seen.replaced, seen.duration) == (12, 3, None)


def test_a_vod_has_no_sightings():
    assert sightings(window(0, {2: OUT}, 8, ended=True)) == ()


def test_a_sighting_over_a_recorded_break_is_not_new():
    seen = [Sighting("msn-14", 14, 2, 4.0, "", 2.0), Sighting("b2", 30, 2, 4.0, "", 2.0)]
    assert unrecorded(seen, [("b1", 13, 4)]) == seen[1:]
    assert unrecorded(seen, [("b2", 50, 1)]) == seen[:1]
