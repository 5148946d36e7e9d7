"""The live fast path of ReplaceBreak writes exactly what the general path writes."""

from hypothesis import event, given, strategies as st

from edge_assembler.core.edits.replace_break import (
    ReplaceBreak,
    _live_fill,
    _replace,
    _sources,
)
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.cues import detect_breaks
from edge_assembler.core.hls.model import tagged_segments
from tests.hls_support import assert_m3u8_agrees

DURATIONS = st.sampled_from(["2.000", "2", "1.500", "2.002", "1.000", "4.000"])
# Lines a live origin writes on a segment, now and then.
EXTRAS = st.sampled_from(
    [
        "#EXT-X-DISCONTINUITY",
        '#EXT-X-KEY:METHOD=AES-128,URI="key.bin"',
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T10:00:00.000Z",
        "#EXT-X-BYTERANGE:1000@0",
        "# a comment",
        "#EXT-X-UNKNOWN-VENDOR-TAG:X=1",
        '#EXT-X-DATERANGE:ID="x",START-DATE="2026-11-28T10:00:00.000Z"',
    ]
)
# A pod segment is plain, or has a comment (the general path's case).
POD_EXTRAS = st.sampled_from(["# c\n", *[""] * 15])
CUE_OUTS = st.sampled_from(
    ["#EXT-X-CUE-OUT:DURATION={d}", "#EXT-X-CUE-OUT:{d}", "#EXT-X-CUE-OUT:DURATION={d},ID=7"]
)


@st.composite
def live_windows(draw: st.DrawFn) -> bytes:
    count = draw(st.integers(3, 9))
    rare = st.integers(0, 9).map(lambda n: n == 0)
    # Mostly a break inside the window with content after it (the fast path's case); now
    # and then one at its start, or one that runs to its end.
    start = 0 if draw(rare) else draw(st.sampled_from(range(1, count - 1)))
    longest = 4 if draw(rare) else min(4, count - start - 1)
    length = draw(st.sampled_from(range(1, longest + 1)))
    lines = ["#EXTM3U"]
    # Mostly a version and a target duration the pod fits in.
    lines += (
        draw(st.sampled_from([["#EXT-X-VERSION:2"], []])) if draw(rare) else ["#EXT-X-VERSION:3"]
    )
    lines += [f"#EXT-X-TARGETDURATION:{draw(st.sampled_from([2, 3])) if draw(rare) else 4}"]
    lines += [f"#EXT-X-MEDIA-SEQUENCE:{draw(st.integers(0, 5000))}"]
    lines += draw(st.sampled_from([[], ["#EXT-X-DISCONTINUITY-SEQUENCE:4"]]))
    signalled = draw(st.sampled_from(["4.000", "4", "6", "3.5", "2"]))
    extra_at = [draw(st.integers(0, count))] if draw(st.booleans()) else []
    for i in range(count):
        if i in extra_at:
            lines.append(draw(EXTRAS))
        if i == start:
            lines.append(draw(CUE_OUTS).format(d=signalled))
        elif start < i < start + length:
            lines.append(f"#EXT-X-CUE-OUT-CONT:ElapsedTime={2 * (i - start)},Duration={signalled}")
        elif i == start + length and not draw(rare):
            lines.append("#EXT-X-CUE-IN")
        lines += [f"#EXTINF:{draw(DURATIONS)},", f"live/seg_{i:05d}.ts"]
    tails = [["#EXT-X-CUE-IN"], ['#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p"']]
    lines += draw(st.sampled_from(tails)) if draw(rare) else []
    crlf = draw(st.booleans())
    return ("\r\n" if crlf else "\n").join(lines).encode() + (b"\r\n" if crlf else b"\n")


@st.composite
def pods(draw: st.DrawFn) -> dict[str, MediaPlaylist]:
    out = {}
    for n in range(draw(st.integers(1, 3))):
        body = "".join(
            f"{draw(POD_EXTRAS)}#EXTINF:{draw(DURATIONS)},\nad{n}_{i}.ts\n"
            for i in range(draw(st.integers(1, 3)))
        )
        playlist = parse(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n{body}#EXT-X-ENDLIST\n".encode())
        assert isinstance(playlist, MediaPlaylist)
        out[f"ad{n}"] = playlist
    return out


@given(live_windows(), pods(), st.data())
def test_the_live_fast_path_writes_what_the_general_path_writes(window, fetched, data):
    playlist = parse(window)
    assert isinstance(playlist, MediaPlaylist)
    for found in detect_breaks(playlist):
        keys = tuple(data.draw(st.permutations(sorted(fetched))))
        base = data.draw(st.sampled_from(["http://ads.test/pod/", "http://ads.test/p.m3u8"]))
        edit = ReplaceBreak(break_id=found.id, pod=keys, pod_urls=(base,) * len(keys))
        pod, slate = _sources(edit, fetched)
        quick = _live_fill(playlist, edit, pod, slate, found)
        try:
            general = _replace(playlist, edit, pod, slate, found)
        except EditError:
            event("refused")
            assert quick is None
            continue
        event("fast path" if quick is not None else "general path")
        if quick is None:
            continue
        assert render(quick) == render(general)
        assert quick.fact(tagged_segments) == general.fact(tagged_segments)
        assert quick == general
        assert_m3u8_agrees(render(quick))


def test_a_live_window_with_one_cue_break_takes_the_fast_path():
    window = (
        b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1200\n"
        b"#EXTINF:2.000,\na.ts\n#EXT-X-CUE-OUT:DURATION=4\n#EXTINF:2.000,\nb.ts\n"
        b"#EXT-X-CUE-OUT-CONT:ElapsedTime=2,Duration=4\n#EXTINF:2.000,\nc.ts\n"
        b"#EXT-X-CUE-IN\n#EXTINF:2.000,\nd.ts\n"
    )
    playlist = parse(window)
    ad = parse(b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\nad.ts\n#EXT-X-ENDLIST\n")
    assert isinstance(playlist, MediaPlaylist)
    assert isinstance(ad, MediaPlaylist)
    (found,) = detect_breaks(playlist)
    edit = ReplaceBreak(break_id=found.id, pod=("ad", "ad"), pod_urls=("http://ads.test/",) * 2)
    pod, slate = _sources(edit, {"ad": ad})
    quick = _live_fill(playlist, edit, pod, slate, found)
    assert quick is not None
    assert (
        render(quick)
        == render(_replace(playlist, edit, pod, slate, found))
        == (
            b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1200\n"
            b"#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXTINF:2.000,\na.ts\n"
            b"#EXT-X-DISCONTINUITY\n#EXT-X-CUE-OUT:DURATION=4\n#EXTINF:2.000,\nhttp://ads.test/ad.ts\n"
            b"#EXT-X-DISCONTINUITY\n#EXT-X-CUE-OUT-CONT:ElapsedTime=2,Duration=4\n"
            b"#EXTINF:2.000,\nhttp://ads.test/ad.ts\n"
            b"#EXT-X-DISCONTINUITY\n#EXT-X-CUE-IN\n#EXTINF:2.000,\nd.ts\n"
        )
    )
