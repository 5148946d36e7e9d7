"""Live break numbering: tables for each function, LL-HLS header/report rewriting on corpus
files, and the acceptance property: a simulated stream stays consistent across reloads."""

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.attributes import Attributes, parse_attributes
from edge_assembler.core.hls.invariants import check, check_reload
from edge_assembler.core.hls.live import (
    BreakRecord,
    Numbering,
    anchor,
    apply_numbering,
    msn_offset,
    numbering,
    origin_msn_for,
    output_msn,
    pod_window,
    rendition_report,
    translate_blocking_request,
)
from tests.hls_support import assert_m3u8_agrees

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "hls"
KEY = '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example.com/k"'

# Origin MSNs 10-11 replaced by a 4-segment pod; 20-22 by nothing; a pod of 2 before 30.
HISTORY = (
    BreakRecord("a", 10, 2, 4),
    BreakRecord("b", 20, 3, 0),
    BreakRecord("c", 30, 0, 2),
)


def media(text: str) -> MediaPlaylist:
    playlist = parse(text.encode())
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def window(first: int, dsn: int = 0, count: int = 3) -> MediaPlaylist:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{dsn}")
    for m in range(first, first + count):
        lines += ["#EXTINF:6,", f"o{m}.ts"]
    return media("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("origin", "offset", "output"),
    [
        (9, 0, 9),
        (10, 0, 10),  # replaced: where the pod begins
        (12, 2, 14),  # the first segment after the 4-segment pod
        (19, 2, 21),
        (23, -1, 22),  # 20-22 removed without a pod
        (29, -1, 28),
        (30, 1, 31),  # after the pod inserted before 30
        (100, 1, 101),
    ],
)
def test_msn_offset_and_output_msn(origin, offset, output):
    assert msn_offset(HISTORY, origin) == offset
    assert output_msn(HISTORY, origin) == output


@pytest.mark.parametrize(
    ("output", "origin"),
    [
        (9, (9, None)),
        (10, (10, 0)),
        (13, (10, 3)),
        (14, (12, None)),
        (21, (19, None)),
        (22, (23, None)),
        (28, (29, None)),
        (29, (30, 0)),
        (30, (30, 1)),
        (31, (30, None)),
    ],
)
def test_origin_msn_for(output, origin):
    assert origin_msn_for(HISTORY, output) == origin


def test_origin_msn_for_inverts_output_msn():
    replaced = {m for b in HISTORY for m in range(b.start_msn, b.start_msn + b.replaced)}
    for m in set(range(60)) - replaced:
        assert origin_msn_for(HISTORY, output_msn(HISTORY, m)) == (m, None)


@pytest.mark.parametrize(
    ("record", "anchors"),
    [
        (BreakRecord("p>r", 10, 2, 4), [10, 10, 11, 11]),
        (BreakRecord("p<r", 10, 5, 2), [10, 12]),
        (BreakRecord("p=r", 10, 3, 3), [10, 11, 12]),
        (BreakRecord("insert", 10, 0, 2), [9, 9]),
    ],
)
def test_anchor_and_pod_window(record, anchors):
    assert [anchor(record, j) for j in range(record.inserted)] == anchors
    for first in range(5, 16):
        for last in range(first, 18):
            visible = [j for j, a in enumerate(anchors) if first <= a <= last]
            assert list(pod_window(record, first, last)) == visible


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (5, Numbering(5, 7)),
        (9, Numbering(9, 7)),
        (10, Numbering(10, 7)),  # window opens on the pod's first segment
        (11, Numbering(12, 8)),  # inside the pod: its opening DISCONTINUITY slid out
        (12, Numbering(14, 8)),  # on the closing seam: it is still listed
        (13, Numbering(15, 9)),  # both seams of break a slid out
        (20, Numbering(22, 9)),  # inside the empty break b: only its closing seam remains
        (23, Numbering(22, 9)),
        (24, Numbering(23, 10)),
        (29, Numbering(28, 10)),  # the pod anchored at 29 is listed after segment 29
        (30, Numbering(31, 11)),  # pod c slid out with 29; its closing seam is segment 30
        (31, Numbering(32, 12)),
    ],
)
def test_numbering(first, expected):
    assert numbering(window(first, dsn=7), HISTORY) == expected


@pytest.mark.parametrize(
    ("per_break", "first", "dsn"),
    [(0, 31, 7), (1, 11, 8), (1, 13, 8), (1, 24, 9), (1, 31, 10)],
)
def test_numbering_counts_the_discontinuities_each_break_writes(per_break, first, dsn):
    got = numbering(window(first, dsn=7), HISTORY, discontinuities_per_break=per_break)
    assert got.discontinuity_sequence == dsn


def test_numbering_refuses_an_impossible_seam_count():
    with pytest.raises(ValueError, match="DISCONTINUITY"):
        numbering(window(5), HISTORY, discontinuities_per_break=3)


@pytest.mark.parametrize(
    "history",
    [
        (BreakRecord("a", 10, 2, 4), BreakRecord("b", 12, 1, 1)),  # back to back
        (BreakRecord("a", 10, 2, 4), BreakRecord("b", 11, 0, 1)),  # inside a's run
        (BreakRecord("a", 10, 0, 4), BreakRecord("b", 10, 0, 1)),  # same place
        (BreakRecord("a", 10, 2, 4), BreakRecord("b", 3, 1, 1)),  # out of order
    ],
)
def test_numbering_refuses_breaks_that_do_not_follow_each_other(history):
    with pytest.raises(ValueError, match="does not follow"):
        numbering(window(5), history)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [(("x", 5, -1, 2), "negative"), (("x", -1, 1, 2), "negative"), (("x", 0, 0, 2), "MSN 0")],
)
def test_impossible_break_records(fields, reason):
    with pytest.raises(ValueError, match=reason):
        BreakRecord(*fields)


@pytest.mark.parametrize(
    ("request_", "origin"),
    [
        ((None, None), (None, None)),
        ((None, 2), (None, 2)),  # passed on: the server answers 400 (BIS §6.2.5.2)
        ((9, 3), (9, 3)),
        ((10, None), (10, None)),  # pod a[0], anchored at 10
        ((12, 1), (11, None)),  # pod a[2]: its part index has no origin meaning
        ((14, 0), (12, 0)),  # the first segment after pod a, part 0 of it
        ((29, None), (29, None)),  # pod c, anchored at 29
        ((31, 2), (30, 2)),
    ],
)
def test_translate_blocking_request(request_, origin):
    assert translate_blocking_request(HISTORY, *request_) == origin


@pytest.mark.parametrize(
    ("report", "output"),
    [
        ((9, None), (9, None)),
        ((9, 4), (9, 4)),
        ((10, None), (11, None)),  # pod a[0..1] anchored at 10 are listed
        ((10, 2), (9, None)),  # 10 in progress, replaced: nothing of it is listed
        ((11, None), (13, None)),
        ((12, 1), (14, 1)),
        ((21, None), (21, None)),  # the run of b lists nothing: segment 19 is last
        ((29, None), (30, None)),  # pod c follows 29
        ((29, 0), (28, 0)),
        ((30, 3), (31, 3)),
    ],
)
def test_rendition_report(report, output):
    assert rendition_report(HISTORY, *report) == output


def test_an_empty_history_changes_nothing():
    for m in range(20):
        assert output_msn((), m) == m
        assert origin_msn_for((), m) == (m, None)
        assert translate_blocking_request((), m, 1) == (m, 1)
        assert rendition_report((), m, 1) == (m, 1)
    origin = window(12, dsn=3)
    assert numbering(origin, ()) == Numbering(12, 3)
    assert apply_numbering(origin, numbering(origin, ()), ()) == origin


# -- apply_numbering -----------------------------------------------------------------------


def test_apply_numbering_rewrites_only_the_numbers():
    origin = window(13, dsn=7)
    out = apply_numbering(origin, numbering(origin, HISTORY), HISTORY)
    assert out.media_sequence == 15
    assert out.discontinuity_sequence == 9
    assert render(out).decode() == render(origin).decode().replace(
        "MEDIA-SEQUENCE:13", "MEDIA-SEQUENCE:15"
    ).replace("DISCONTINUITY-SEQUENCE:7", "DISCONTINUITY-SEQUENCE:9")
    assert origin.media_sequence == 13  # input untouched


@pytest.mark.parametrize(
    ("text", "written"),
    [
        pytest.param(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\no13.ts\n",
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:2\n"
            "#EXT-X-DISCONTINUITY-SEQUENCE:4\n#EXTINF:6,\no13.ts\n",
            id="both-absent",
        ),
        pytest.param(
            "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:1\n"
            "#EXTINF:6,\no13.ts\n",
            "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:2\n"
            "#EXT-X-DISCONTINUITY-SEQUENCE:4\n#EXTINF:6,\no13.ts\n",
            id="next-to-media-sequence",
        ),
        pytest.param(
            "#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n#EXT-X-MEDIA-SEQUENCE:1\r\n#EXTINF:6,\r\no13.ts\r\n",
            "#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n#EXT-X-MEDIA-SEQUENCE:2\r\n"
            "#EXT-X-DISCONTINUITY-SEQUENCE:4\r\n#EXTINF:6,\r\no13.ts\r\n",
            id="crlf",
        ),
        pytest.param(
            "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\no0.ts\n",
            "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\no0.ts\n",
            id="zero-needs-no-tag",
        ),
        pytest.param(
            "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\no0.ts\n#EXT-X-DISCONTINUITY\n"
            "#EXTINF:6,\nad.ts\n",
            "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXTINF:6,\n"
            "o0.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:6,\nad.ts\n",
            id="sequence-with-a-discontinuity",
        ),
        pytest.param(
            "#EXTM3U\n#EXT-X-KEY:METHOD=NONE\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\no13.ts\n",
            "#EXTM3U\n#EXT-X-KEY:METHOD=NONE\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:2\n"
            "#EXT-X-DISCONTINUITY-SEQUENCE:4\n#EXTINF:6,\no13.ts\n",
            id="header-inside-the-first-segment",
        ),
    ],
)
def test_apply_numbering_writes_absent_tags_after_the_target_duration(text, written):
    playlist = media(text)
    number = Numbering(2, 4) if "o13" in text else Numbering(0, 0)
    out = apply_numbering(playlist, number, ())
    assert render(out).decode() == written
    assert check(out) == []
    assert_m3u8_agrees(render(out))


LL_REPORTS = "m3u8py__llhls-parts-preload-rendition-reports.m3u8"
LL_DELTA = "m3u8py__llhls-delta-update-skip.m3u8"


@pytest.mark.parametrize(
    ("history", "media_sequence", "reports"),
    [
        pytest.param(
            (BreakRecord("before", 200, 2, 5),),
            267,
            ["LAST-MSN=276,LAST-PART=2", "LAST-MSN=276,LAST-PART=1"],
            id="break-before-the-window",
        ),
        pytest.param(
            (BreakRecord("before", 200, 2, 5), BreakRecord("future", 280, 4, 3)),
            267,
            ["LAST-MSN=276,LAST-PART=2", "LAST-MSN=276,LAST-PART=1"],
            id="a-later-break-changes-nothing-yet",
        ),
        pytest.param(
            (BreakRecord("later", 300, 4, 3),),
            264,
            ["LAST-MSN=273,LAST-PART=2", "LAST-MSN=273,LAST-PART=1"],
            id="only-a-later-break",
        ),
        pytest.param(
            (BreakRecord("now", 273, 3, 2),),
            264,
            ["LAST-MSN=272", "LAST-MSN=272"],
            id="segment-in-progress-is-replaced",
        ),
    ],
)
def test_apply_numbering_translates_rendition_reports(history, media_sequence, reports):
    origin = media((CORPUS / LL_REPORTS).read_text())
    out = apply_numbering(origin, numbering(origin, history), history)
    assert out.media_sequence == media_sequence
    found = [raw for raw in out.tail if raw.startswith("#EXT-X-RENDITION-REPORT")]
    assert [raw.split(",", 1)[1] for raw in found] == reports
    assert all(raw.startswith('#EXT-X-RENDITION-REPORT:URI="../') for raw in found)
    # Parts and the preload hint stay where they were, byte for byte.
    assert [raw for raw in out.tail if "REPORT" not in raw] == [
        raw for raw in origin.tail if "REPORT" not in raw
    ]
    assert out.segments[1:] == origin.segments[1:]
    assert check(out) == check(origin) == []


@pytest.mark.parametrize(
    ("history", "media_sequence", "skipped"),
    [
        pytest.param((), 266, 3, id="no-break"),
        pytest.param((BreakRecord("old", 100, 1, 3),), 268, 3, id="shifted"),
        # 267-268 replaced by 4 pod segments: 266, the pod (4) and nothing else is skipped.
        pytest.param((BreakRecord("skipped", 267, 2, 4),), 266, 5, id="pod-in-skipped-run"),
        # The pod of 268-269 straddles the skip boundary: a[0..1] skipped, a[2..3] listed.
        pytest.param((BreakRecord("straddles", 268, 2, 4),), 266, 4, id="pod-straddles"),
    ],
)
def test_apply_numbering_translates_skipped_segments(history, media_sequence, skipped):
    origin = media((CORPUS / LL_DELTA).read_text())
    out = apply_numbering(origin, numbering(origin, history), history)
    assert (out.media_sequence, out.skipped) == (media_sequence, skipped)
    assert f"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}" in out.segments[0].raw
    assert check(out) == check(origin) == []


def test_a_report_without_last_msn_is_left_alone():
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\no20.ts\n"
    report = '#EXT-X-RENDITION-REPORT:URI="../1M/a.m3u8"'
    origin = media(text + report + "\n")
    out = apply_numbering(origin, Numbering(0, 0), HISTORY)
    assert out.tail == (report,)


def test_without_a_target_duration_line_the_numbers_end_the_header():
    origin = media("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\no20.ts\n")
    out = apply_numbering(origin.evolve(head=("#EXTM3U",)), Numbering(3, 0), ())
    assert out.head == ("#EXTM3U", "#EXT-X-MEDIA-SEQUENCE:3")


def test_a_model_skipping_without_its_line_gets_no_line():
    origin = media("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\no20.ts\n").evolve(skipped=2)
    out = apply_numbering(origin, Numbering(0, 0), (BreakRecord("x", 1, 1, 2),))
    assert out.skipped == 3
    assert not any("SKIP" in raw for raw in out.raw_lines())


def test_apply_numbering_pins_the_ivs_that_moved():
    """SPEC_RULES 26: 10-11 moved by +2 get their old IVs; 14-15 did not move, but 11's
    explicit key would apply to them, so they get theirs too; so do the parts of 16."""
    history = (BreakRecord("x", 5, 1, 3), BreakRecord("y", 12, 2, 0))
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:10\n"
        f"{KEY}\n#EXTINF:6,\no10.ts\n#EXTINF:6,\no11.ts\n"
        "#EXT-X-DISCONTINUITY\n#EXTINF:6,\no14.ts\n#EXTINF:6,\no15.ts\n"
        '#EXT-X-PART:DURATION=1,URI="p16.0.ts"\n'
    )
    origin = media(text)
    out = apply_numbering(origin, Numbering(12, 1), history)
    assert ivs(out) == {"o10.ts": 10, "o11.ts": 11, "o14.ts": 14, "o15.ts": 15}
    assert out.segments[0].raw[0] == KEY + ",IV=0x0000000000000000000000000000000A"
    assert out.tail[0] == KEY + ",IV=0x00000000000000000000000000000010"
    assert out.version == 2
    assert out.head[1] == "#EXT-X-VERSION:2"  # BIS §8: IV needs version 2


def test_pinning_an_iv_raises_a_stated_version_1():
    text = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-VERSION:1\n#EXT-X-MEDIA-SEQUENCE:10\n"
    text += f"{KEY}\n#EXTINF:6,\no10.ts\n"
    history = (BreakRecord("x", 5, 1, 3),)
    origin = media(text)
    out = apply_numbering(origin, numbering(origin, history), history)
    assert out.head == (
        "#EXTM3U",
        "#EXT-X-TARGETDURATION:6",
        "#EXT-X-VERSION:2",
        "#EXT-X-MEDIA-SEQUENCE:12",
        "#EXT-X-DISCONTINUITY-SEQUENCE:2",
    )
    assert check(out) == []


@pytest.mark.parametrize(
    "key",
    [
        '#EXT-X-KEY:METHOD=AES-128,URI="k",IV=0x01',  # explicit already
        '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://k",KEYFORMAT="com.apple.streamingkeydelivery"',
        "#EXT-X-KEY:METHOD=NONE",
    ],
)
def test_apply_numbering_leaves_keys_without_implicit_iv(key):
    text = f"#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:6\n{key}\n#EXTINF:6,\no10.ts\n"
    history = (BreakRecord("x", 5, 1, 3),)
    origin = media(text)
    out = apply_numbering(origin, numbering(origin, history), history)
    assert out.segments == origin.segments


# -- the acceptance property ---------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """An origin stream: segment durations, its breaks, origin DISCONTINUITY MSNs, the
    successive windows (first, last complete MSN) a player reloads, and whether it is
    encrypted with AES-128 and implicit IVs (the MSN)."""

    durations: tuple[float, ...]
    breaks: tuple[BreakRecord, ...]
    discontinuities: frozenset[int]
    windows: tuple[tuple[int, int], ...]
    encrypted: bool

    def known(self, last: int) -> tuple[BreakRecord, ...]:
        """The breaks known when ``last`` is the newest segment (a cue announces the next)."""
        return tuple(b for b in self.breaks if b.start_msn <= last + 1)


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    length = draw(st.integers(10, 36))
    milliseconds = st.lists(st.integers(1000, 9900), min_size=length, max_size=length)
    durations = tuple(ms / 1000 for ms in draw(milliseconds))
    breaks: list[BreakRecord] = []
    position = 1
    while True:
        start = position + draw(st.integers(0, 6))
        replaced = draw(st.integers(0, 5))  # 0: a pod inserted without replacing anything
        if start + replaced >= length:
            break
        breaks.append(BreakRecord(f"b{len(breaks)}", start, replaced, draw(st.integers(0, 6))))
        position = start + replaced + 1  # a kept segment between two runs
    # Origin discontinuities away from the runs and their closing seams (the documented
    # assumption of ``numbering``).
    taken = {m for b in breaks for m in range(b.start_msn, b.start_msn + b.replaced + 1)}
    free = sorted(set(range(length)) - taken)
    discontinuities = draw(st.frozensets(st.sampled_from(free))) if free else frozenset()
    windows: list[tuple[int, int]] = []
    first, last = 0, draw(st.integers(0, 3))
    while last < length:
        first = max(first, last - draw(st.integers(3, 8)) + 1)
        windows.append((first, last))
        last += draw(st.integers(1, 2))
    return Stream(durations, tuple(breaks), discontinuities, tuple(windows), draw(st.booleans()))


def origin_window(stream: Stream, first: int, last: int, skipped: int = 0) -> MediaPlaylist:
    dsn = sum(1 for m in stream.discontinuities if m < first)
    lines = ["#EXTM3U", "#EXT-X-VERSION:9", "#EXT-X-TARGETDURATION:10"]
    lines += [f"#EXT-X-MEDIA-SEQUENCE:{first}", f"#EXT-X-DISCONTINUITY-SEQUENCE:{dsn}"]
    if skipped:
        lines.append(f"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}")
    for m in range(first + skipped, last + 1):
        if m in stream.discontinuities:
            lines.append("#EXT-X-DISCONTINUITY")
        if stream.encrypted and m == first + skipped:
            lines.append(KEY)  # BIS §6.2.3: the key in effect stays in the window
        lines += [f"#EXTINF:{stream.durations[m]:.3f},", f"o{m}.ts"]
    return media("\n".join(lines) + "\n")


def replace_breaks(stream: Stream, origin: MediaPlaylist, last: int) -> MediaPlaylist:
    """The replacement edit, simulated: each replaced run becomes its visible pod
    segments, with a DISCONTINUITY on each seam (and clear pods: METHOD=NONE before them,
    the content key again after them); then the numbers are applied."""
    history = stream.known(last)
    replaced = {m for b in history for m in range(b.start_msn, b.start_msn + b.replaced)}
    seams = {b.start_msn + b.replaced for b in history if b.replaced or b.inserted}
    lines = list(origin.head)
    if origin.skipped:
        lines.append(f"#EXT-X-SKIP:SKIPPED-SEGMENTS={origin.skipped}")
    listed = 0
    for m in range(origin.msn(0), last + 1):
        if m not in replaced:
            if m in stream.discontinuities or m in seams:
                lines.append("#EXT-X-DISCONTINUITY")
            if stream.encrypted and (m in seams or not listed):
                lines.append(KEY)
            lines += [f"#EXTINF:{stream.durations[m]:.3f},", f"o{m}.ts"]
            listed += 1
        for record in history:
            for j in pod_window(record, m, m):
                if j == 0:
                    lines.append("#EXT-X-DISCONTINUITY")
                if j == 0 and stream.encrypted:
                    lines.append("#EXT-X-KEY:METHOD=NONE")
                lines += ["#EXTINF:4.000,", f"{record.id}-{j}.ts"]
                listed += 1
    rewritten = media("\n".join(lines) + "\n")
    return apply_numbering(rewritten, numbering(origin, history), history)


@given(streams())
def test_numbers_stay_consistent_across_reloads(stream: Stream) -> None:
    seen: dict[str, tuple[int, int]] = {}
    previous: MediaPlaylist | None = None
    for first, last in stream.windows:
        history = stream.known(last)
        out = replace_breaks(stream, origin_window(stream, first, last), last)
        assert check(out) == []
        assert_m3u8_agrees(render(out))
        if previous is not None:
            assert check_reload(previous, out) == []
            assert out.media_sequence >= previous.media_sequence
            assert out.discontinuity_sequence >= previous.discontinuity_sequence
        for i, (segment, dsn) in enumerate(zip(out.segments, out.dsn(), strict=True)):
            assert seen.setdefault(segment.uri, (out.msn(i), dsn)) == (out.msn(i), dsn)
            assert_inverse(history, segment.uri, out.msn(i))
        assert_ivs_kept(stream, out)
        listed = out.media_sequence + len(out.segments) - 1
        assert rendition_report(history, last, None) == (listed, None)
        assert_in_progress_report(history, last + 1, listed)
        assert_delta_agrees(stream, first, last, out)
        previous = out


def assert_inverse(history: tuple[BreakRecord, ...], uri: str, msn: int) -> None:
    """Kept segments and pod segments map back to where they came from."""
    name = uri.removesuffix(".ts")
    if name.startswith("o"):
        assert output_msn(history, int(name[1:])) == msn
        assert origin_msn_for(history, msn) == (int(name[1:]), None)
    else:
        record = next(b for b in history if b.id == name.split("-")[0])
        assert origin_msn_for(history, msn) == (record.start_msn, int(name.split("-")[1]))


def ivs(playlist: MediaPlaylist) -> dict[str, int | None]:
    """The IV each segment is decrypted with (None: clear), as a player computes it."""
    key: Attributes | None = None
    out = {}
    for i, segment in enumerate(playlist.segments):
        for raw in segment.raw:
            if raw.startswith("#EXT-X-KEY:"):
                key = parse_attributes(raw.split(":", 1)[1])
                key = None if key["METHOD"] == "NONE" else key
        iv = key.get("IV") if key is not None else None
        out[segment.uri] = None if key is None else playlist.msn(i) if iv is None else int(iv, 16)
    return out


def assert_ivs_kept(stream: Stream, out: MediaPlaylist) -> None:
    """SPEC_RULES 26: content keeps the IV of its origin number; pods are clear."""
    for uri, iv in ivs(out).items():
        kept = uri.startswith("o") and stream.encrypted
        assert iv == (int(uri[1:].removesuffix(".ts")) if kept else None), uri


def assert_in_progress_report(
    history: tuple[BreakRecord, ...], in_progress: int, listed: int
) -> None:
    """Parts of the segment in progress: kept, they belong to the next output MSN."""
    msn, part = rendition_report(history, in_progress, 0)
    if any(b.start_msn <= in_progress < b.start_msn + b.replaced for b in history):
        assert (msn, part) == (listed, None)
    else:
        assert (msn, part) == (listed + 1, 0)


def assert_delta_agrees(stream: Stream, first: int, last: int, full: MediaPlaylist) -> None:
    """A delta update of the same window lists the same segments under the same MSNs."""
    skipped = (last - first) // 2
    if not skipped:
        return
    delta = replace_breaks(stream, origin_window(stream, first, last, skipped), last)
    assert delta.media_sequence == full.media_sequence
    assert delta.discontinuity_sequence == full.discontinuity_sequence
    listed = [(delta.msn(i), s.uri) for i, s in enumerate(delta.segments)]
    assert listed == [(full.msn(i), s.uri) for i, s in enumerate(full.segments)][delta.skipped :]
    assert check(delta) == []


@given(streams(), st.data())
def test_a_blocking_request_is_answered_once_the_segment_is_listed(stream, data):
    """BIS §6.2.5.2: the origin MSN a request is translated to is the first whose
    publication lists the requested output segment."""
    _, last = data.draw(st.sampled_from(stream.windows))
    history = stream.known(last)
    wanted = rendition_report(history, last, None)[0] + 1  # the next segment
    origin, part = translate_blocking_request(history, wanted, None)
    assert origin is not None
    assert part is None
    assert origin > last
    assert rendition_report(stream.known(origin), origin, None)[0] >= wanted
    assert rendition_report(stream.known(origin - 1), origin - 1, None)[0] < wanted
