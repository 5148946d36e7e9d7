"""Live break replacement numbered from the break history: one break of two 6 s origin
segments (MSNs 12-13, signalled as 12 s), windows before, across, inside and after it, with
pods longer, shorter and empty (DESIGN §4; SPEC_RULES 9-13, 45)."""

import gc

import pytest

from edge_assembler.core.edits import apply, needs
from edge_assembler.core.edits.live_replace import (
    LiveBreak,
    LiveReplace,
    StreamBreak,
    live_records,
    replace_live_breaks,
    session_history,
)
from edge_assembler.core.edits.replace_break import Fill, ReplaceBreak, plan_fill
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.invariants import check
from edge_assembler.core.hls.live import BreakRecord
from tests.hls_support import assert_m3u8_agrees

BREAK = StreamBreak("brk", 12, 2)
HEAD = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n"


def media(text: str) -> MediaPlaylist:
    playlist = parse(text.encode())
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def origin(first: int, last: int, extra: dict[int, str] | None = None) -> MediaPlaylist:
    lines = [f"{HEAD}#EXT-X-MEDIA-SEQUENCE:{first}"]
    for msn in range(first, last + 1):
        lines += [(extra or {}).get(msn, "")]
        lines += {
            12: ["#EXT-X-CUE-OUT:DURATION=12,ID=brk"],
            13: ["#EXT-X-CUE-OUT-CONT:ElapsedTime=6,Duration=12"],
            14: ["#EXT-X-CUE-IN"],
        }.get(msn, [])
        lines += ["#EXTINF:6.000,", f"o{msn}.ts"]
    return media("\n".join(line for line in lines if line) + "\n")


def pod(name: str, *durations: str) -> MediaPlaylist:
    body = "".join(f"#EXTINF:{d},\n{name}{i}.ts\n" for i, d in enumerate(durations))
    return media(f"#EXTM3U\n#EXT-X-TARGETDURATION:6\n{body}#EXT-X-ENDLIST\n")


FETCHED = {
    "three": pod("a", "4.000", "4.000", "4.000"),  # 3 segments for 2: longer
    "one": pod("b", "4.000"),  # 1 segment for 2: shorter
    "two": pod("c", "5.000", "5.000"),
    "slate": pod("s", "2.000"),
}


def fill(*keys: str, slate: bool = False, planned: float = 12) -> Fill:
    edit = ReplaceBreak(
        break_id="brk",
        pod=keys,
        pod_urls=tuple(f"https://ads.example/{k}.m3u8" for k in keys),
        slate="slate" if slate else None,
        slate_url="https://ads.example/slate.m3u8" if slate else None,
    )
    return plan_fill(edit, FETCHED, planned)


def replaced(first: int, last: int, filled: Fill) -> str:
    out = replace_live_breaks(origin(first, last), [BREAK], {"brk": filled})
    data = render(out)
    assert check(out) == []
    assert_m3u8_agrees(data)
    return data.decode()


def test_a_window_before_the_break_is_the_origin():
    assert replaced(8, 11, fill("three")) == render(origin(8, 11)).decode()


def test_a_window_across_the_break_lists_the_whole_pod():
    assert replaced(11, 14, fill("three")) == (
        f"{HEAD}#EXT-X-MEDIA-SEQUENCE:11\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
        "#EXTINF:6.000,\no11.ts\n"
        "#EXT-X-DISCONTINUITY\n#EXT-X-CUE-OUT:DURATION=12\n"
        "#EXTINF:4.000,\nhttps://ads.example/a0.ts\n"
        "#EXT-X-CUE-OUT-CONT:ElapsedTime=4,Duration=12\n"
        "#EXTINF:4.000,\nhttps://ads.example/a1.ts\n"
        "#EXT-X-CUE-OUT-CONT:ElapsedTime=8,Duration=12\n"
        "#EXTINF:4.000,\nhttps://ads.example/a2.ts\n"
        "#EXT-X-DISCONTINUITY\n#EXT-X-CUE-IN\n#EXTINF:6.000,\no14.ts\n"
    )


def test_a_window_ending_inside_the_break_lists_the_pod_anchored_in_it():
    """Pod segments 0-1 are anchored at 12, 2 at 13 (live.anchor)."""
    out = replaced(9, 12, fill("three"))
    assert "a1.ts" in out
    assert "a2.ts" not in out
    assert "o12.ts" not in out


def test_joining_inside_the_break():
    """The window opens on o13: pod segment 2 (anchored at 13) under MSN 14, the opening
    seam counted in DISCONTINUITY-SEQUENCE, the cue continued."""
    assert replaced(13, 16, fill("three")) == (
        f"{HEAD}#EXT-X-MEDIA-SEQUENCE:14\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
        "#EXT-X-CUE-OUT-CONT:ElapsedTime=8,Duration=12\n"
        "#EXTINF:4.000,\nhttps://ads.example/a2.ts\n"
        "#EXT-X-DISCONTINUITY\n#EXT-X-CUE-IN\n#EXTINF:6.000,\no14.ts\n"
        "#EXTINF:6.000,\no15.ts\n#EXTINF:6.000,\no16.ts\n"
    )


def test_a_window_after_the_break_keeps_the_offset_and_both_seams():
    assert replaced(15, 18, fill("three")) == (
        f"{HEAD}#EXT-X-MEDIA-SEQUENCE:16\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n"
        + "".join(f"#EXTINF:6.000,\no{m}.ts\n" for m in range(15, 19))
    )


@pytest.mark.parametrize(
    ("keys", "slate", "window", "numbers", "uris", "opens"),
    [
        # One 4 s segment for two: the pod slid out with o12, o14 opens on the seam.
        (("one",), False, (13, 16), (13, 1), ["o14.ts", "o15.ts", "o16.ts"], True),
        (("one",), False, (11, 14), (11, 0), ["o11.ts", "b0.ts", "o14.ts"], False),
        # With the slate, the break is filled to its 12 s: 4 s + 4 x 2 s, anchored at
        # 12, 12, 12, 13, 13; each slate pass opens with a seam.
        (("one",), True, (13, 14), (15, 3), ["s0.ts", "s0.ts", "o14.ts"], True),
        # 5 + 5 s of one creative, then the 4 s one does not fit (trimmed).
        (("two", "one"), False, (13, 14), (13, 1), ["c1.ts", "o14.ts"], False),
    ],
)
def test_pods_shorter_and_trimmed(keys, slate, window, numbers, uris, opens):
    out = replace_live_breaks(origin(*window), [BREAK], {"brk": fill(*keys, slate=slate)})
    assert (out.media_sequence, out.discontinuity_sequence) == numbers
    assert [s.uri.rsplit("/", 1)[-1] for s in out.segments] == uris
    assert out.segments[0].discontinuity == opens
    assert check(out) == []
    assert_m3u8_agrees(render(out))


def test_an_empty_pod_leaves_the_closing_seam_only():
    """A pod whose first segment is longer than the break: nothing is inserted."""
    empty = fill("three", planned=3)
    assert empty.inserted == 0
    assert replaced(11, 14, empty) == (
        f"{HEAD}#EXT-X-MEDIA-SEQUENCE:11\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
        "#EXTINF:6.000,\no11.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:6.000,\no14.ts\n"
    )
    assert replaced(14, 15, empty) == (
        f"{HEAD}#EXT-X-MEDIA-SEQUENCE:12\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
        "#EXT-X-DISCONTINUITY\n#EXTINF:6.000,\no14.ts\n#EXTINF:6.000,\no15.ts\n"
    )
    inside = replace_live_breaks(origin(12, 13), [BREAK], {"brk": empty})
    assert (inside.media_sequence, inside.segments) == (12, ())


def test_the_history_carries_the_pod_and_its_seams():
    history = session_history([BREAK, StreamBreak("other", 20, 1)], {"brk": fill("two", "one")})
    assert history == (BreakRecord("brk", 12, 2, 2, ()),)
    history = session_history([BREAK], {"brk": fill("one", slate=True)})
    assert history == (BreakRecord("brk", 12, 2, 5, (1, 2, 3, 4)),)


def test_a_break_without_a_fill_is_left_alone():
    assert replace_live_breaks(origin(11, 14), [BREAK], {}) == origin(11, 14)


def test_an_origin_discontinuity_inside_the_run_is_refused():
    window = origin(11, 14, {13: "#EXT-X-DISCONTINUITY"})
    with pytest.raises(EditError, match="discontinuity"):
        replace_live_breaks(window, [BREAK], {"brk": fill("three")})


def test_breaks_that_overlap_are_refused():
    fills = {"brk": fill("three"), "b2": fill("one")}
    with pytest.raises(EditError, match="does not follow"):
        replace_live_breaks(origin(11, 14), [BREAK, StreamBreak("b2", 13, 1)], fills)


def test_a_creative_s_last_audio_frame_alone_in_a_segment_is_left_out():
    # An AAC rendition of a 4 s creative: 2.005 + 2.005 + one 21 ms frame; its video
    # rendition has two segments. Both fill the break with two segments.
    fetched = {"audio": pod("x", "2.005", "2.005", "0.021"), "video": pod("v", "2.000", "2.000")}
    counts = []
    for key in ("audio", "video"):
        edit = ReplaceBreak(break_id="brk", pod=(key,), pod_urls=(f"https://ads.example/{key}",))
        counts.append(plan_fill(edit, fetched, 12).inserted)
    assert counts == [2, 2]


def test_the_live_replace_edit_fills_each_break_from_its_record():
    edit = LiveReplace(
        breaks=(LiveBreak(12, 2, 12.0, fill("three").edit),)  # start MSN, replaced, planned
    )
    assert needs((edit,)) == ("three",)
    out = apply(origin(11, 14), [edit], FETCHED)
    assert isinstance(out, MediaPlaylist)
    assert render(out).decode() == replaced(11, 14, fill("three"))


def test_a_sessions_history_is_out_of_the_cyclic_collector():
    """Every live session keeps its edit and records (``LiveBreaks``): frozen values that
    cannot be in a cycle, kept out of the collector's full passes (gc=False)."""
    edit = LiveReplace(breaks=(LiveBreak(12, 2, 12.0, fill("three").edit),))
    records = live_records(edit, FETCHED)
    assert records
    held = [edit, *edit.breaks, *(b.fill for b in edit.breaks), *records]
    assert [type(v).__name__ for v in held if gc.is_tracked(v)] == []
