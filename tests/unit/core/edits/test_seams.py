"""The shared seam logic: snapping, cutting runs, joining them, fixing playlist tags."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, strategies as st

from edge_assembler.core.edits.assemble import assemble, required_version
from edge_assembler.core.edits.join import join
from edge_assembler.core.edits.seams import (
    SELF,
    TOLERANCE,
    AdMark,
    CueSpan,
    EditError,
    boundaries,
    content,
    round_duration,
    seconds,
    snap,
    source_playlist,
    take,
)
from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.dates import format_date, parse_date, segment_dates
from edge_assembler.core.hls.invariants import check
from edge_assembler.core.hls.model import tagged_segments
from tests.hls_support import assert_m3u8_agrees


def media(text: str) -> MediaPlaylist:
    playlist = parse(text.encode())
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def vod(
    *durations: float, head: str = "", lines: dict[int, str] | None = None, version: int = 3
) -> MediaPlaylist:
    """A VOD playlist; ``lines[i]`` goes before segment i."""
    body = "".join(
        f"{(lines or {}).get(i, '')}#EXTINF:{d:.3f},\ns{i}.ts\n" for i, d in enumerate(durations)
    )
    target = max(round_duration(d) for d in durations)
    return media(
        f"#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:{target}\n"
        f"{head}{body}#EXT-X-ENDLIST\n"
    )


def joined(playlist: MediaPlaylist, runs, **kwargs) -> MediaPlaylist:
    options = {"first_msn": playlist.msn(0), "live": playlist.live, "ended": playlist.endlist}
    options |= {"crlf": playlist.crlf} | kwargs
    result = join(runs, **options)
    inserted = [s for run in runs if not run.keep_tags for s in run.segments]
    return assemble(playlist, result, inserted=inserted)


def text(playlist: MediaPlaylist) -> str:
    data = render(playlist)
    assert_m3u8_agrees(data)
    return data.decode()


# ------------------------------------------------------------------------ timing


@pytest.mark.parametrize(
    ("at", "how", "index"),
    [
        (0.0, "nearest", 0),
        (4.0, "nearest", 1),
        (5.9, "nearest", 1),
        (6.0, "nearest", 1),  # a tie goes to the earlier boundary
        (6.1, "nearest", 2),
        (9.0, "before", 2),
        (9.0, "after", 3),
        (8.0 + TOLERANCE / 2, "before", 2),  # within the tolerance counts as on it
        (20.0, "nearest", 3),
        (20.0 + TOLERANCE / 2, "after", 3),
    ],
)
def test_snap(at, how, index):
    assert snap(vod(4.0, 4.0, 12.0), at, how) == index


def test_snap_beyond_the_end():
    with pytest.raises(EditError, match="beyond the end"):
        snap(vod(4.0, 4.0), 8.5)


@pytest.mark.parametrize(
    ("value", "rounded", "written"),
    [(2.5, 3, "2.5"), (2.499, 2, "2.499"), (6.0, 6, "6"), (10.0004, 10, "10"), (0.0, 0, "0")],
)
def test_round_and_write_durations(value, rounded, written):
    assert round_duration(value) == rounded
    assert seconds(value) == written


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00.5", datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T14:00:00.000+02:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ],
)
def test_dates(written, expected):
    assert parse_date(written) == expected


def test_date_format_keeps_the_zone():
    assert format_date(datetime(2024, 5, 1, 12, tzinfo=UTC)) == "2024-05-01T12:00:00.000Z"
    plus2 = parse_date("2024-05-01T14:00:00+02:00") + timedelta(seconds=1.5)
    assert format_date(plus2) == "2024-05-01T14:00:01.500+02:00"


def test_bad_date_is_a_manifest_error():
    with pytest.raises(ManifestError, match="ISO 8601"):
        parse_date("yesterday", 7)


def test_segment_dates_extrapolate_both_ways():
    playlist = vod(4.0, 4.0, 2.0, lines={1: "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00Z\n"})
    noon = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert segment_dates(playlist) == [
        noon - timedelta(seconds=4),
        noon,
        noon + timedelta(seconds=4),
    ]
    assert segment_dates(vod(4.0)) == [None]


# ------------------------------------------------------------------------ runs


def test_take_carries_the_scope_and_numbers():
    playlist = vod(
        4.0,
        4.0,
        4.0,
        head="#EXT-X-MEDIA-SEQUENCE:7\n",
        lines={
            0: '#EXT-X-KEY:METHOD=AES-128,URI="k1"\n#EXT-X-MAP:URI="i1.mp4"\n',
            1: '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://k",KEYFORMAT="com.apple.streamingkeydelivery"\n',
        },
    )
    run = take(playlist, 2, 3, source="x", base_url="https://cdn.example.com/a/b.m3u8")
    assert run.first_msn == 9
    assert run.context == (
        '#EXT-X-KEY:METHOD=AES-128,URI="https://cdn.example.com/a/k1"',
        '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://k",KEYFORMAT="com.apple.streamingkeydelivery"',
        '#EXT-X-MAP:URI="https://cdn.example.com/a/i1.mp4"',
    )


def test_take_after_method_none_has_no_keys():
    playlist = vod(
        4.0,
        4.0,
        4.0,
        lines={0: '#EXT-X-KEY:METHOD=AES-128,URI="k1"\n', 1: "#EXT-X-KEY:METHOD=NONE\n"},
    )
    assert take(playlist, 1, 2, source="x").context == ('#EXT-X-KEY:METHOD=AES-128,URI="k1"',)
    assert take(playlist, 2, 3, source="x").context == ()


def test_take_writes_out_an_implicit_byterange_offset():
    ranges = ("#EXT-X-BYTERANGE:1000@200\n", "#EXT-X-BYTERANGE:500\n", "#EXT-X-BYTERANGE:300\n")
    playlist = vod(4.0, 4.0, 4.0, lines=dict(enumerate(ranges)))
    byterange = take(playlist, 2, 3, source="x").segments[0].tag("EXT-X-BYTERANGE")
    assert byterange is not None
    assert byterange.value == "300@1700"
    assert take(playlist, 0, 3, source="x").segments == playlist.segments


def test_take_refuses_an_empty_range():
    with pytest.raises(EditError, match="no segments"):
        take(vod(4.0), 1, 1, source="x")


@pytest.mark.parametrize(
    ("text_", "complete", "reason"),
    [
        (None, True, "was not fetched"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n", True, "not complete"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-ENDLIST\n", True, "no segments"),
        (
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-I-FRAMES-ONLY\n#EXTINF:4,\na.ts\n",
            False,
            "I-frame",
        ),
    ],
)
def test_source_playlist_refusals(text_, complete, reason):
    fetched = {} if text_ is None else {"ad": media(text_)}
    with pytest.raises(EditError, match=reason):
        source_playlist(fetched, "ad", complete=complete)


# ------------------------------------------------------------------------ join

AD_URL = "https://ads.example.com/c/1/video.m3u8"


def ad(*durations: float, lines: dict[int, str] | None = None) -> MediaPlaylist:
    return vod(*durations, lines=lines)


def foreign(playlist: MediaPlaylist, **changes):
    run = take(playlist, 0, len(playlist.segments), source="ad", base_url=AD_URL, keep_tags=False)
    return run.evolve(**changes)


def around(playlist: MediaPlaylist, index: int, inserted) -> list:
    n = len(playlist.segments)
    return [*content(playlist, 0, index, None), inserted, *content(playlist, index, n, None)]


def test_continuing_runs_join_without_a_discontinuity():
    playlist = vod(4.0, 4.0, 4.0)
    runs = [take(playlist, 0, 1, source=SELF), take(playlist, 1, 3, source=SELF)]
    assert render(joined(playlist, runs)) == render(playlist)


def test_foreign_runs_keep_only_media_tags_and_absolute_uris():
    source = ad(
        4.0,
        4.0,
        lines={
            0: "#EXT-X-DISCONTINUITY\n# a comment\n#EXT-X-CUE-OUT:8\n"
            '#EXT-X-MAP:URI="init.mp4"\n#EXT-X-PROGRAM-DATE-TIME:2020-01-01T00:00:00Z\n',
            1: '#EXT-X-DATERANGE:ID="x",START-DATE="2020-01-01T00:00:04Z"\n#EXT-X-GAP\n'
            '#EXT-X-PART:DURATION=1,URI="p.ts"\n#EXT-X-BITRATE:800\n#EXT-X-CUE-IN\n',
        },
    )
    # fMP4 content: after the fMP4 ad, its MAP takes over again (BIS §4.4.4.5).
    playlist = vod(4.0, lines={0: '#EXT-X-MAP:URI="c.mp4"\n'}, version=6)
    output = text(joined(playlist, [foreign(source), *content(playlist, 0, 1, None)]))
    assert output == (
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n"
        '#EXT-X-MAP:URI="https://ads.example.com/c/1/init.mp4"\n'
        "#EXTINF:4.000,\nhttps://ads.example.com/c/1/s0.ts\n"
        "#EXT-X-GAP\n#EXT-X-BITRATE:800\n#EXTINF:4.000,\nhttps://ads.example.com/c/1/s1.ts\n"
        '#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="c.mp4"\n#EXTINF:4.000,\ns0.ts\n#EXT-X-ENDLIST\n'
    )


def test_every_keyformat_ends_with_one_method_none_and_comes_back():
    keys = (
        '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://k1",KEYFORMAT="com.apple.streamingkeydelivery",'
        'KEYFORMATVERSIONS="1"\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI="https://k/1",IV=0x1\n'
    )
    playlist = vod(4.0, 4.0, lines={0: keys}, version=5)
    output = text(joined(playlist, around(playlist, 1, foreign(ad(3.0)))))
    assert output.count("#EXT-X-KEY:METHOD=NONE\n") == 1
    resumed = output.rsplit("#EXT-X-DISCONTINUITY\n", 1)[1]
    assert resumed.startswith(keys)
    assert check(media(output)) == []


def test_an_encrypted_ad_gets_its_own_key_and_no_method_none():
    playlist = vod(4.0, 4.0, lines={0: '#EXT-X-KEY:METHOD=AES-128,URI="k/c",IV=0x1\n'})
    source = ad(3.0, lines={0: '#EXT-X-KEY:METHOD=AES-128,URI="k/ad",IV=0x2\n'})
    output = text(joined(playlist, around(playlist, 1, foreign(source))))
    assert "METHOD=NONE" not in output
    assert '#EXT-X-KEY:METHOD=AES-128,URI="https://ads.example.com/c/1/k/ad",IV=0x2\n' in output
    assert output.endswith(
        '#EXT-X-DISCONTINUITY\n#EXT-X-KEY:METHOD=AES-128,URI="k/c",IV=0x1\n'
        "#EXTINF:4.000,\ns1.ts\n#EXT-X-ENDLIST\n"
    )


def test_moved_segments_with_implicit_ivs_get_their_original_number():
    playlist = vod(
        4.0,
        4.0,
        head="#EXT-X-MEDIA-SEQUENCE:255\n",
        lines={0: '#EXT-X-KEY:METHOD=AES-128,URI="k"\n'},
    )
    output = text(joined(playlist, [foreign(ad(3.0)), *content(playlist, 0, 2, None)]))
    assert output.count("IV=") == 2
    assert '#EXT-X-KEY:METHOD=AES-128,URI="k",IV=0x000000000000000000000000000000FF\n' in output
    assert '#EXT-X-KEY:METHOD=AES-128,URI="k",IV=0x00000000000000000000000000000100\n' in output


def test_aes_ctr_and_fairplay_keys_have_no_implicit_iv():
    playlist = vod(
        4.0,
        lines={0: '#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="data:text/plain;base64,AA"\n'},
    )
    output = text(joined(playlist, [foreign(ad(3.0)), *content(playlist, 0, 1, None)]))
    assert "IV=" not in output
    assert '#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="data:text/plain;base64,AA"\n' in output


def test_the_content_map_is_restated_even_if_unchanged():
    playlist = vod(4.0, 4.0, lines={0: '#EXT-X-MAP:URI="init.mp4"\n'})
    source = ad(3.0, lines={0: '#EXT-X-MAP:URI="init.mp4"\n'})
    output = text(joined(playlist, around(playlist, 1, foreign(source))))
    assert output.count('#EXT-X-MAP:URI="init.mp4"\n') == 2
    assert '#EXT-X-MAP:URI="https://ads.example.com/c/1/init.mp4"\n' in output
    assert check(media(output)) == []


def test_a_foreign_run_opening_the_output_loses_its_leading_discontinuity():
    playlist = vod(4.0)
    source = ad(3.0, 3.0, lines={0: "#EXT-X-DISCONTINUITY\n", 1: "#EXT-X-DISCONTINUITY\n"})
    output = joined(playlist, [foreign(source), *content(playlist, 0, 1, None)])
    assert [s.discontinuity for s in output.segments] == [False, True, True]


PDT = "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n"


def test_a_replaced_break_keeps_the_content_clock_within_the_tolerance():
    playlist = vod(4.0, 4.0, 4.0, lines={0: PDT})
    dates = segment_dates(playlist)
    fill = foreign(ad(4.0 + TOLERANCE / 2), date=dates[1])
    runs = [*content(playlist, 0, 1, dates), fill, *content(playlist, 2, 3, dates)]
    output = text(joined(playlist, runs))
    assert "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:08.000Z\n#EXTINF:4.000,\ns2.ts" in output


def test_a_live_break_gets_cont_markers_and_no_cue_in_while_open():
    playlist = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:3\n#EXTINF:4,\na.ts\n#EXTINF:4,\nb.ts\n"
    )
    fill = foreign(ad(2.0, 2.0), cue=CueSpan(30.0, 6.0))
    output = text(joined(playlist, [*content(playlist, 0, 1, None), fill]))
    assert output.endswith(
        "#EXT-X-DISCONTINUITY\n#EXT-X-CUE-OUT-CONT:ElapsedTime=6,Duration=30\n#EXTINF:2.000,\n"
        "https://ads.example.com/c/1/s0.ts\n#EXT-X-CUE-OUT-CONT:ElapsedTime=8,Duration=30\n"
        "#EXTINF:2.000,\nhttps://ads.example.com/c/1/s1.ts\n"
    )
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:0\n" in output


def test_back_to_back_breaks_close_and_open():
    playlist = vod(4.0)
    first = foreign(ad(2.0), cue=CueSpan(2.0, 0.0))
    second = foreign(ad(3.0), cue=CueSpan(3.0, 0.0), source="other")
    output = text(joined(playlist, [*content(playlist, 0, 1, None), first, second]))
    assert "#EXT-X-CUE-IN\n#EXT-X-CUE-OUT:DURATION=3\n" in output
    assert output.endswith("#EXT-X-CUE-IN\n#EXT-X-ENDLIST\n")


def test_an_unknown_break_length_is_a_bare_cue_out():
    playlist = vod(4.0)
    output = text(
        joined(playlist, [foreign(ad(2.0), cue=CueSpan(None, 0.0)), *content(playlist, 0, 1, None)])
    )
    assert output.count("#EXT-X-CUE-OUT\n") == 1


def test_an_ad_date_range_needs_a_clock():
    mark = AdMark("m", None, 0.0, 2.0)
    plain = vod(4.0)
    dated = vod(4.0, lines={0: PDT})
    for playlist, expected in ((plain, 0), (dated, 1)):
        runs = [foreign(ad(2.0), mark=mark), *content(playlist, 0, 1, segment_dates(playlist))]
        assert text(joined(playlist, runs)).count("#EXT-X-DATERANGE:") == expected


def test_written_lines_follow_the_playlist_line_ends():
    playlist = media(render(vod(4.0, 4.0)).decode().replace("\n", "\r\n"))
    output = render(joined(playlist, around(playlist, 1, foreign(ad(3.0), cue=CueSpan(3.0, 0.0)))))
    assert b"\n" not in output.replace(b"\r\n", b"")
    assert_m3u8_agrees(output)


# ------------------------------------------------------------------------ assemble


@pytest.mark.parametrize(
    ("version", "duration", "target"),
    [(3, 10.4, 11), (6, 10.4, 10), (6, 10.5, 11), (3, 4.0, 6)],
)
def test_vod_target_covers_inserted_segments(version, duration, target):
    playlist = media(
        f"#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\na.ts\n"
        "#EXT-X-ENDLIST\n"
    )
    output = joined(playlist, around(playlist, 1, foreign(ad(duration))))
    assert output.target_duration == target
    assert f"#EXT-X-TARGETDURATION:{target}\n" in text(output)


def test_live_target_never_grows():
    playlist = media("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\na.ts\n")
    with pytest.raises(EditError, match="target duration 6 s of a live playlist"):
        joined(playlist, around(playlist, 1, foreign(ad(7.0))))


def test_version_is_added_or_raised_never_lowered():
    playlist = media("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n#EXT-X-ENDLIST\n")
    output = text(joined(playlist, around(playlist, 1, foreign(ad(3.5)))))
    assert output.startswith("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n")
    same = media(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n#EXT-X-ENDLIST\n"
    )
    assert joined(same, around(same, 1, foreign(ad(3.5)))).version == 7


@pytest.mark.parametrize(
    ("line", "version"),
    [
        ("#EXTINF:4,", 1),
        ("#EXTINF:4.0,", 3),
        ('#EXT-X-KEY:METHOD=AES-128,URI="k",IV=0x1', 2),
        ('#EXT-X-KEY:METHOD=AES-128,URI="k",KEYFORMAT="identity"', 5),
        ('#EXT-X-KEY:METHOD=SAMPLE-AES,URI="k"', 5),
        ("#EXT-X-BYTERANGE:100@0", 4),
        ('#EXT-X-MAP:URI="i.mp4"', 6),
    ],
)
def test_required_version(line, version):
    playlist = media(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n{line}\n#EXTINF:4,\na.ts\n")
    assert required_version(playlist.segments, playlist) == version


def test_playlist_tags_among_the_first_segment_move_to_the_head():
    playlist = media(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:3\n"
        '#EXT-X-KEY:METHOD=AES-128,URI="k",IV=0x1\n#EXT-X-MEDIA-SEQUENCE:10\n'
        "#EXTINF:4.0,\na.ts\n#EXT-X-ENDLIST\n"
    )
    output = text(joined(playlist, [foreign(ad(2.0)), *content(playlist, 0, 1, None)]))
    assert output.startswith(
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:10\n"
    )
    assert check(media(output)) == []


def test_content_dated_on_every_segment_moves_whole_after_an_insertion():
    playlist = vod(
        4.0,
        4.0,
        4.0,
        lines={
            0: PDT,
            1: "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:04.000Z\n"
            '#EXT-X-DATERANGE:ID="a",START-DATE="2024-05-01T12:00:04.000Z",'
            'END-DATE="2024-05-01T12:00:06.000Z"\n#EXT-X-DATERANGE:ID="a",CLASS="c"\n',
            2: "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:08.000Z\n",
        },
        version=6,
    )
    dates = segment_dates(playlist)
    runs = [*content(playlist, 0, 1, dates), foreign(ad(2.0)), *content(playlist, 1, 3, dates)]
    output = text(joined(playlist, runs))
    assert "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:06.000Z\n#EXT-X-DATERANGE" in output
    assert (
        '#EXT-X-DATERANGE:ID="a",START-DATE="2024-05-01T12:00:06.000Z",'
        'END-DATE="2024-05-01T12:00:08.000Z"\n#EXT-X-DATERANGE:ID="a",CLASS="c"\n'
    ) in output
    assert "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:10.000Z\n#EXTINF:4.000,\ns2.ts" in output
    assert check(media(output)) == []


def test_an_inserted_run_dates_its_own_discontinuities():
    playlist = vod(4.0, lines={0: PDT})
    source = ad(2.0, 3.0, lines={1: "#EXT-X-DISCONTINUITY\n#EXT-X-KEY:METHOD=NONE\n"})
    runs = [*content(playlist, 0, 1, segment_dates(playlist)), foreign(source)]
    output = text(joined(playlist, runs))
    assert output.endswith(
        "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:06.000Z\n#EXT-X-DISCONTINUITY\n"
        "#EXT-X-KEY:METHOD=NONE\n#EXTINF:3.000,\nhttps://ads.example.com/c/1/s1.ts\n"
        "#EXT-X-ENDLIST\n"
    )


def test_a_segment_stating_method_none_needs_none_from_the_seam():
    playlist = vod(4.0, 4.0, lines={0: '#EXT-X-KEY:METHOD=AES-128,URI="k",IV=0x1\n'})
    source = ad(2.0, lines={0: "#EXT-X-KEY:METHOD=NONE\n"})
    output = text(joined(playlist, around(playlist, 1, foreign(source))))
    assert output.count("METHOD=NONE") == 1


def test_a_byterange_after_a_whole_resource_starts_at_zero():
    playlist = vod(4.0, 4.0, lines={1: "#EXT-X-BYTERANGE:500\n"})
    byterange = take(playlist, 1, 2, source="x").segments[0].tag("EXT-X-BYTERANGE")
    assert byterange is not None
    assert byterange.value == "500@0"


# ------------------------------------------------------------------------ reference checks

DURATION_LISTS = st.lists(
    st.sampled_from([0.0, 2.0, 2.002, 4.0, 6.0, 0.05])
    | st.integers(1, 9000).map(lambda ms: ms / 1000),
    min_size=1,
    max_size=12,
)


def snap_by_definition(edges: list[float], at: float, how: str) -> int:
    """``snap`` as it is defined: a scan of every boundary."""
    if how == "before":
        return max(i for i, t in enumerate(edges) if t <= at + TOLERANCE)
    if how == "after":
        return min(i for i, t in enumerate(edges) if t >= at - TOLERANCE)
    return min(range(len(edges)), key=lambda i: (abs(edges[i] - at), i))


@given(DURATION_LISTS, st.floats(0, 1.0), st.sampled_from(["nearest", "before", "after"]))
def test_snap_finds_what_a_scan_of_every_boundary_finds(durations, fraction, how):
    playlist = vod(*durations)
    edges = boundaries(playlist)
    moments = [edges[-1] * fraction]
    for edge in edges:  # on a boundary, and within the tolerance of one
        moments += [edge, edge + TOLERANCE, edge - TOLERANCE / 2]
    for at in moments:
        if not 0 <= at <= edges[-1] + TOLERANCE:
            continue
        try:
            expected = snap_by_definition(edges, at, how)
        except ValueError:  # "after" a moment within the tolerance past the end
            expected = len(edges) - 1
        assert snap(playlist, at, how) == expected


BYTERANGES = st.lists(
    st.sampled_from(["", "#EXT-X-BYTERANGE:700\n", "#EXT-X-BYTERANGE:300@1000\n"]),
    min_size=2,
    max_size=8,
)


@given(BYTERANGES)
def test_implicit_byterange_offsets_are_those_of_a_scan_from_the_start(ranges):
    playlist = vod(*[4.0] * len(ranges), lines=dict(enumerate(ranges)), version=4)
    offset = 0
    for index, line in enumerate(ranges):
        length, _, start = line.removeprefix("#EXT-X-BYTERANGE:").strip().partition("@")
        taken = take(playlist, index, index + 1, source="x").segments[0]
        if length and not start and index:
            found = taken.tag("EXT-X-BYTERANGE")
            assert found is not None
            assert found.value == f"{length}@{offset}"
        else:
            assert taken is playlist.segments[index]
        offset = int(start or offset) + int(length) if length else 0


SEGMENT_LINES = st.sampled_from(
    [
        "#EXT-X-DISCONTINUITY\n",
        '#EXT-X-KEY:METHOD=AES-128,URI="k1"\n',
        '#EXT-X-KEY:METHOD=AES-128,URI="k2",IV=0x1\n',
        "#EXT-X-KEY:METHOD=NONE\n",
        '#EXT-X-MAP:URI="init.mp4"\n',
        "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n",
        "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:01:00.000Z\n",
        '#EXT-X-DATERANGE:ID="d",START-DATE="2024-05-01T12:00:30.000Z"\n',
        "#EXT-X-CUE-OUT:DURATION=8\n",
        "#EXT-X-CUE-IN\n",
        "# a comment\n",
    ]
)


@st.composite
def playlists_with_tags(draw: st.DrawFn, min_size: int = 1) -> MediaPlaylist:
    durations = draw(st.lists(st.sampled_from([2.0, 4.0, 3.5]), min_size=min_size, max_size=9))
    lines = draw(st.dictionaries(st.integers(0, len(durations) - 1), st.lists(SEGMENT_LINES)))
    head = "#EXT-X-MEDIA-SEQUENCE:5\n" if draw(st.booleans()) else ""
    playlist = vod(*durations, head=head, lines={i: "".join(v) for i, v in lines.items()})
    if draw(st.booleans()):  # live: no EXT-X-ENDLIST
        playlist = playlist.evolve(tail=(), endlist=False)
    return playlist


@given(playlists_with_tags(min_size=2), playlists_with_tags(), st.data())
def test_joining_only_seams_and_tags_equals_rewriting_every_segment(playlist, source, data):
    """``join`` copies what needs no change; forgetting what ``take`` found out makes it
    look at every segment, and the two must agree."""
    count = len(playlist.segments)
    cut = data.draw(st.integers(1, count - 1))
    dates = segment_dates(playlist) if "PROGRAM-DATE" in text_of(playlist) else None
    fill = take(source, 0, len(source.segments), source="ad", base_url=AD_URL, keep_tags=False)
    if data.draw(st.booleans()):
        fill = fill.evolve(cue=CueSpan(8.0, data.draw(st.sampled_from([0.0, 4.0]))))
    runs = [*content(playlist, 0, cut, dates), fill, *content(playlist, cut, count, dates)]
    quick, slow = (
        joined_or_refused(playlist, r) for r in (runs, [r.evolve(tagged=None) for r in runs])
    )
    if isinstance(quick, str) or isinstance(slow, str):
        assert quick == slow  # refused either way, for the same reason
        return
    assert quick.segments == slow.segments
    assert render(quick) == render(slow)
    assert render(quick) == ("\n".join(quick.raw_lines()) + "\n").encode()
    assert quick.fact(tagged_segments) == tagged_segments(quick)


def joined_or_refused(playlist: MediaPlaylist, runs: list) -> MediaPlaylist | str:
    try:
        return joined(playlist, runs)
    except EditError as refused:
        return str(refused)


def text_of(playlist: MediaPlaylist) -> str:
    return render(playlist).decode()
