"""ReplaceBreak: fill plans, markers, live windows and their reloads."""

from math import ceil

import pytest
from hypothesis import example, given, strategies as st

from edge_assembler.core.edits.replace_break import ReplaceBreak, apply_replace_break
from edge_assembler.core.edits.seams import TOLERANCE, EditError
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.invariants import check
from tests.hls_support import assert_m3u8_agrees

URL = "https://ads.example.com/{}/video.m3u8"


def media(text: str) -> MediaPlaylist:
    playlist = parse(text.encode())
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def asset(name: str, *durations: float) -> MediaPlaylist:
    body = "".join(f"#EXTINF:{d:.3f},\n{name}{i}.ts\n" for i, d in enumerate(durations))
    target = max(ceil(d) for d in durations)
    return media(
        f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n{body}#EXT-X-ENDLIST\n"
    )


def vod_with_break(*inside: float, signalled: float | None = None, dated: bool = False) -> str:
    """Two 6 s segments, a CUE-OUT break of segments ``inside``, two 6 s segments."""
    out = f":{signalled:g}" if signalled is not None else ""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXT-X-PLAYLIST-TYPE:VOD"]
    if dated:
        lines.append("#EXT-X-PROGRAM-DATE-TIME:2024-06-01T18:00:00.000Z")
    lines += ["#EXTINF:6.000,", "c0.ts", "#EXTINF:6.000,", "c1.ts", f"#EXT-X-CUE-OUT{out}"]
    for i, duration in enumerate(inside):
        if i:
            lines.append(f"#EXT-X-CUE-OUT-CONT:ElapsedTime={sum(inside[:i]):.3f}")
        lines += [f"#EXTINF:{duration:.3f},", f"b{i}.ts"]
    lines += ["#EXT-X-CUE-IN", "#EXTINF:6.000,", "c2.ts", "#EXTINF:6.000,", "c3.ts"]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


def replace(playlist: MediaPlaylist, assets: dict[str, MediaPlaylist], **changes) -> MediaPlaylist:
    pod = tuple(k for k in assets if k != "slate")
    options = {
        "break_id": "msn-2",
        "pod": pod,
        "pod_urls": tuple(URL.format(k) for k in pod),
        **({"slate": "slate", "slate_url": URL.format("slate")} if "slate" in assets else {}),
    }
    output = apply_replace_break(playlist, ReplaceBreak(**(options | changes)), assets)
    data = render(output)
    assert_m3u8_agrees(data)
    assert check(media(data.decode())) == []
    return output


def fill(output: MediaPlaylist) -> list[tuple[str, float]]:
    return [(s.uri.rsplit("/", 1)[1], s.duration) for s in output.segments if "://" in s.uri]


@pytest.mark.parametrize(
    ("pod", "slate", "expected"),
    [
        # The pod fits exactly: no slate.
        ({"a": (10.0, 10.0)}, (2.0,), [("a0.ts", 10.0), ("a1.ts", 10.0)]),
        # The pod is trimmed at a segment boundary, the slate fills the rest, its last
        # segment cut to the remainder.
        (
            {"a": (8.0, 8.0, 8.0)},
            (3.0,),
            [("a0.ts", 8.0), ("a1.ts", 8.0), ("slate0.ts", 3.0), ("slate0.ts", 1.0)],
        ),
        # A creative that does not fit ends the pod, even if a later one would fit.
        ({"a": (12.0,), "b": (9.0,), "c": (2.0,)}, (), [("a0.ts", 12.0)]),
        # The slate goes round in order.
        (
            {"a": (14.0,)},
            (2.0, 1.5),
            [
                ("a0.ts", 14.0),
                ("slate0.ts", 2.0),
                ("slate1.ts", 1.5),
                ("slate0.ts", 2.0),
                ("slate1.ts", 0.5),
            ],
        ),
        # A pod longer by less than the tolerance still fits.
        ({"a": (10.0, 10.0 + TOLERANCE / 2)}, (2.0,), [("a0.ts", 10.0), ("a1.ts", 10.05)]),
    ],
)
def test_fill_plans(pod, slate, expected):
    assets = {k: asset(k, *d) for k, d in pod.items()}
    if slate:
        assets["slate"] = asset("slate", *slate)
    output = replace(media(vod_with_break(6.0, 6.0, 6.0, 2.0, signalled=20)), assets)
    assert fill(output) == expected


def test_without_slate_the_content_resumes_early():
    output = replace(media(vod_with_break(6.0, 6.0, 6.0, 2.0)), {"a": asset("a", 6.0, 6.0)})
    assert [s.uri for s in output.segments][-3:] == [
        "https://ads.example.com/a/a1.ts",
        "c2.ts",
        "c3.ts",
    ]
    assert output.duration == pytest.approx(24.0 + 12.0)


def test_the_signalled_duration_is_the_plan_and_the_listed_content_its_limit():
    # Signalled 30 s, but the break closed after 20 s: the plan for 30 s is listed as far
    # as the break went, whole segments only (15 s of pod, two 2 s slates).
    playlist = media(vod_with_break(10.0, 10.0, signalled=30))
    output = replace(playlist, {"a": asset("a", 5.0, 5.0, 5.0), "slate": asset("slate", 2.0)})
    assert sum(d for _, d in fill(output)) == pytest.approx(19.0)


MARKED = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:6
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-PROGRAM-DATE-TIME:2024-06-01T18:00:00.000Z
#EXTINF:6.000,
c0.ts
# break 7
#EXT-OATCLS-SCTE35:/DAlAAAAAsvhAP/wFAXwAAAGf+/+AdLfiP4AG3dAAAEBAQAAXytxmQ==
#EXT-X-CUE-OUT:20
#EXTINF:10.000,
b0.ts
#EXT-X-CUE-OUT-CONT:ElapsedTime=10,Duration=20
#EXTINF:10.000,
b1.ts
#EXT-X-CUE-IN
#EXTINF:6.000,
c1.ts
#EXT-X-ENDLIST
"""


@pytest.mark.parametrize(
    ("markers", "present", "absent"),
    [
        (
            "keep",
            ["# break 7", "#EXT-X-CUE-OUT:20\n#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-CUE-IN"],
            ["#EXT-X-DATERANGE", "DURATION=20", "CUE-OUT-CONT"],
        ),
        (
            "translate",
            ["#EXT-X-CUE-OUT:DURATION=20\n", "#EXT-X-CUE-IN", 'ID="m-1"', 'X-AD-CREATIVE-ID="c"'],
            ["# break 7", "OATCLS", "#EXT-X-CUE-OUT:20", "CUE-OUT-CONT"],
        ),
        ("remove", [], ["# break 7", "OATCLS", "CUE-OUT", "CUE-IN", "DATERANGE"]),
    ],
)
def test_markers(markers, present, absent):
    assets = {"a": asset("a", 10.0, 10.0)}
    changes = {
        "break_id": "4026531846",
        "markers": markers,
        "marker_id": "m",
        "creative_ids": ("c",),
    }
    output = render(replace(media(MARKED), assets, **changes)).decode()
    for text in present:
        assert text in output
    for text in absent:
        assert text not in output


def test_translate_removes_the_break_date_range_everywhere():
    scte = "SCTE35-OUT=0xFC302000000000000000FFF00F05000000017FFFFE001B774000000000000000"
    playlist = media(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXT-X-PROGRAM-DATE-TIME:2024-06-01T18:00:00.000Z\n#EXTINF:6.000,\nc0.ts\n"
        f'#EXT-X-DATERANGE:ID="splice-1",START-DATE="2024-06-01T18:00:06.000Z",'
        f"PLANNED-DURATION=12,{scte}\n"
        "#EXTINF:6.000,\nb0.ts\n#EXTINF:6.000,\nb1.ts\n#EXTINF:6.000,\nc1.ts\n#EXT-X-ENDLIST\n"
        '#EXT-X-DATERANGE:ID="splice-1",START-DATE="2024-06-01T18:00:06.000Z",DURATION=12\n'
    )
    output = render(replace(playlist, {"a": asset("a", 6.0, 6.0)}, break_id="splice-1")).decode()
    assert "splice-1" not in output
    assert output.count("#EXT-X-DISCONTINUITY") == 2


# A live stream with a 24 s break (pod: 16 s ad; slate: 2 s), seen in successive windows.
LIVE_HEAD = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:{msn}\n"
    "#EXT-X-DISCONTINUITY-SEQUENCE:12\n"
)
LIVE = [
    "#EXTINF:6.000,\nlive5000.ts\n",
    "#EXTINF:6.000,\nlive5001.ts\n",
    "#EXT-X-CUE-OUT:24.000\n#EXTINF:6.000,\nlive5002.ts\n",
    "#EXT-X-CUE-OUT-CONT:ElapsedTime=6.000,Duration=24\n#EXTINF:6.000,\nlive5003.ts\n",
    "#EXT-X-CUE-OUT-CONT:ElapsedTime=12.000,Duration=24\n#EXTINF:6.000,\nlive5004.ts\n",
    "#EXT-X-CUE-OUT-CONT:ElapsedTime=18.000,Duration=24\n#EXTINF:6.000,\nlive5005.ts\n",
    "#EXT-X-CUE-IN\n#EXTINF:6.000,\nlive5006.ts\n",
    "#EXTINF:6.000,\nlive5007.ts\n",
]
POD = {"ad": asset("ad", 6.0, 6.0, 4.0), "slate": asset("slate", 2.0)}


def window(first: int, last: int) -> MediaPlaylist:
    """Segments ``first..last`` of the stream as a live playlist (the head keeps the
    CUE-OUT-CONT of a window that starts inside the break)."""
    return media(LIVE_HEAD.format(msn=5000 + first) + "".join(LIVE[first : last + 1]))


def timeline(output: MediaPlaylist, elapsed: float) -> list[tuple[float, str]]:
    """(break time, URI) of the fill segments of a window whose break starts ``elapsed``
    seconds before its first fill segment."""
    out, t = [], elapsed
    for segment in output.segments:
        if "://" in segment.uri:
            out.append((round(t, 3), segment.uri))
            t += segment.duration
    return out


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (0, 2, [(0.0, "ad0")]),  # 6 s of the break listed
        (0, 4, [(0.0, "ad0"), (6.0, "ad1"), (12.0, "ad2"), (16.0, "slate0")]),
        (
            1,
            5,
            [
                (0.0, "ad0"),
                (6.0, "ad1"),
                (12.0, "ad2"),
                (16.0, "slate0"),
                (18.0, "slate0"),
                (20.0, "slate0"),
                (22.0, "slate0"),
            ],
        ),
        (
            4,
            7,
            [(12.0, "ad2"), (16.0, "slate0"), (18.0, "slate0"), (20.0, "slate0"), (22.0, "slate0")],
        ),
    ],
)
def test_every_reload_lists_the_same_fill(first, last, expected):
    playlist = window(first, last)
    output = replace(playlist, POD, break_id="msn-5002")
    elapsed = 12.0 if first == 4 else 0.0
    assert [(t, uri.rsplit("/", 1)[1][:-3]) for t, uri in timeline(output, elapsed)] == expected


def test_a_window_that_starts_inside_the_break_continues_it():
    output = render(replace(window(4, 7), POD, break_id="msn-5002")).decode()
    assert output.startswith(
        LIVE_HEAD.format(msn=5004) + "#EXT-X-CUE-OUT-CONT:ElapsedTime=12,Duration=24\n"
        "#EXTINF:4.000,\nhttps://ads.example.com/ad/ad2.ts\n"
    )
    assert "#EXT-X-DISCONTINUITY\n#EXT-X-CUE-IN\n#EXTINF:6.000,\nlive5006.ts\n" in output


def test_an_open_break_drops_the_parts_being_produced():
    playlist = media(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:5000\n"
        "#EXT-X-PART-INF:PART-TARGET=1.0\n"
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3.0\n"
        + "".join(LIVE[:3])
        + '#EXT-X-PART:DURATION=1.0,URI="p1.ts",INDEPENDENT=YES\n'
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p2.ts"\n'
        '#EXT-X-RENDITION-REPORT:URI="../audio/index.m3u8",LAST-MSN=5002,LAST-PART=0\n'
    )
    output = apply_replace_break(
        playlist,
        ReplaceBreak(break_id="msn-5002", pod=("ad",), pod_urls=(URL.format("ad"),)),
        POD,
    )
    assert output.tail == (
        '#EXT-X-RENDITION-REPORT:URI="../audio/index.m3u8",LAST-MSN=5002,LAST-PART=0',
    )


def test_a_live_pod_is_never_allowed_to_raise_the_target_duration():
    with pytest.raises(EditError, match="target duration 6 s of a live playlist"):
        replace(window(0, 4), {"ad": asset("ad", 8.0)}, break_id="msn-5002")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"break_id": "nope"}, "no break 'nope'"),
        ({"pod": (), "pod_urls": ()}, "the pod is empty"),
        ({"pod_urls": ()}, "pod and pod_urls differ"),
        ({"creative_ids": ("x", "y")}, "creative_ids and pod differ"),
        ({"slate": "slate"}, "slate and slate_url go together"),
        ({"pod": ("gone",)}, "source 'gone' was not fetched"),
    ],
)
def test_refusals(changes, reason):
    edit = ReplaceBreak(break_id="msn-2", pod=("a",), pod_urls=(URL.format("a"),))
    edit = ReplaceBreak(**{f: getattr(edit, f) for f in edit.__struct_fields__} | changes)
    with pytest.raises(EditError, match=reason):
        apply_replace_break(media(vod_with_break(6.0)), edit, {"a": asset("a", 6.0)})


def test_a_slate_without_duration_is_refused():
    slate = media("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:0,\ns.ts\n#EXT-X-ENDLIST\n")
    edit = ReplaceBreak(break_id="msn-2", pod=("a",), pod_urls=("u",), slate="slate", slate_url="v")
    with pytest.raises(EditError, match="no duration"):
        apply_replace_break(
            media(vod_with_break(6.0)), edit, {"a": asset("a", 2.0), "slate": slate}
        )


def test_a_ts_pod_in_fmp4_content_is_refused():
    """BIS §4.4.4.5: the content's MAP would still apply to the TS pod segments."""
    text = vod_with_break(6.0).replace("#EXT-X-VERSION:3", "#EXT-X-VERSION:6")
    text = text.replace("#EXTINF:6.000,\nc0.ts", '#EXT-X-MAP:URI="i.mp4"\n#EXTINF:6.000,\nc0.ts')
    edit = ReplaceBreak(break_id="msn-2", pod=("a",), pod_urls=(URL.format("a"),))
    with pytest.raises(EditError, match=r"BIS §4\.4\.4\.5"):
        apply_replace_break(media(text), edit, {"a": asset("a", 6.0)})


SECONDS = st.integers(1000, 6000).map(lambda ms: ms / 1000)


@given(
    inside=st.lists(SECONDS, min_size=1, max_size=5),
    pod=st.lists(st.lists(SECONDS, min_size=1, max_size=4), min_size=1, max_size=3),
    slate=st.lists(SECONDS, min_size=1, max_size=3),
    dated=st.booleans(),
)
@example(inside=[2.1], pod=[[1.0]], slate=[1.0], dated=False)  # a 0.1 s gap, float noise
def test_a_slate_fills_every_break_exactly(inside, pod, slate, dated):
    playlist = media(vod_with_break(*inside, dated=dated))
    assets = {f"p{i}": asset(f"p{i}", *d) for i, d in enumerate(pod)} | {
        "slate": asset("slate", *slate)
    }
    output = replace(playlist, assets, marker_id="m")
    inserted = sum(d for _, d in fill(output))
    assert inserted == pytest.approx(sum(inside), abs=TOLERANCE)
    assert output.duration == pytest.approx(playlist.duration - sum(inside) + inserted)
    assert [s.uri for s in output.segments if "://" not in s.uri] == [
        "c0.ts",
        "c1.ts",
        "c2.ts",
        "c3.ts",
    ]


def test_a_break_closed_after_the_last_segment_keeps_one_cue_in():
    playlist = media(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\na.ts\n"
        "#EXT-X-CUE-OUT:12\n#EXTINF:6.0,\nb.ts\n#EXTINF:6.0,\nc.ts\n#EXT-X-CUE-IN\n#EXT-X-ENDLIST\n"
    )
    output = render(replace(playlist, {"a": asset("a", 6.0, 6.0)}, break_id="msn-1")).decode()
    assert output.endswith("https://ads.example.com/a/a1.ts\n#EXT-X-CUE-IN\n#EXT-X-ENDLIST\n")
    assert output.count("#EXT-X-CUE-IN") == 1


def test_an_unannounced_open_break_is_filled_as_far_as_it_goes():
    playlist = media(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:7\n"
        "#EXTINF:6.0,\na.ts\n#EXT-X-CUE-OUT\n#EXTINF:6.0,\nb.ts\n#EXTINF:6.0,\nc.ts\n"
    )
    output = render(
        replace(playlist, {"a": asset("a", 4.0), "slate": asset("slate", 2.0)}, break_id="msn-8")
    ).decode()
    assert "#EXT-X-CUE-OUT\n#EXTINF:4.000,\nhttps://ads.example.com/a/a0.ts\n" in output
    assert output.count("slate0.ts") == 4
    assert output.count("#EXT-X-CUE-OUT-CONT:ElapsedTime=") == 4
    assert "Duration" not in output


def test_a_break_that_has_just_begun_lists_nothing_yet():
    playlist = media(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:7\n"
        "#EXT-X-PROGRAM-DATE-TIME:2024-06-01T18:00:00.000Z\n#EXTINF:6.0,\na.ts\n#EXT-X-CUE-OUT:30\n"
    )
    breaks = {"a": asset("a", 4.0)}
    output = apply_replace_break(
        playlist, ReplaceBreak(break_id="msn-8", pod=("a",), pod_urls=("u",)), breaks
    )
    assert [s.uri for s in output.segments] == ["a.ts"]


@pytest.mark.parametrize("marker_id", [None, "m"])
def test_date_ranges_need_a_marker_id_and_carry_creatives_only_when_given(marker_id):
    playlist = media(vod_with_break(6.0, 6.0, dated=True))
    output = render(replace(playlist, {"a": asset("a", 6.0, 6.0)}, marker_id=marker_id)).decode()
    assert output.count("#EXT-X-DATERANGE:") == (0 if marker_id is None else 1)
    assert "X-AD-CREATIVE-ID" not in output


def test_i_frame_playlists_are_refused():
    text = vod_with_break(6.0).replace("#EXT-X-VERSION:3", "#EXT-X-VERSION:4\n#EXT-X-I-FRAMES-ONLY")
    edit = ReplaceBreak(break_id="msn-2", pod=("a",), pod_urls=("u",))
    with pytest.raises(EditError, match="I-frame"):
        apply_replace_break(media(text), edit, {"a": asset("a", 6.0)})
