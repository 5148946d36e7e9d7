"""The plan and its dispatcher: one plan of typed edits, applied in order, without I/O."""

import msgspec
import pytest

from edge_assembler.core.edits import EditError, Plan, apply, needs
from edge_assembler.core.edits.replace_break import ReplaceBreak
from edge_assembler.core.edits.splice import InsertRun
from edge_assembler.core.edits.trim import Trim
from edge_assembler.core.edits.uris import SegmentBase
from edge_assembler.core.edits.variants import FilterVariants
from edge_assembler.core.hls import MediaPlaylist, parse, render
from tests.hls_support import assert_m3u8_agrees

CONTENT = (
    b"\xef\xbb\xbf#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n"
    + b"".join(b"#EXTINF:6.000,\nseg_%d.ts\n" % i for i in range(10))
    + b"#EXT-X-ENDLIST\n"
)
AD = (
    b"#EXTM3U\n#EXT-X-TARGETDURATION:5\n"
    b"#EXTINF:5.000,\nad_0.ts\n#EXTINF:5.000,\nad_1.ts\n#EXT-X-ENDLIST\n"
)
MASTER = (
    b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=640x360\nlow.m3u8\n"
    b"#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1920x1080\nhigh.m3u8\n"
)


def media(data: bytes) -> MediaPlaylist:
    playlist = parse(data)
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def test_an_empty_plan_is_the_identity():
    assert render(apply(parse(CONTENT), Plan().edits, {})) == CONTENT


def test_a_plan_decodes_from_json_and_applies_in_order():
    plan = msgspec.json.decode(
        b'{"edits": ['
        b'{"kind": "insert_run", "source": "ad", "source_url": "http://ads.test/ad/index.m3u8",'
        b' "at": 30},'
        b'{"kind": "trim", "duration": 40},'
        b'{"kind": "segment_base", "playlist_url": "http://origin.test/vod/index.m3u8",'
        b' "base": "http://cdn.test"}'
        b"]}",
        type=Plan,
    )
    assert [type(e) for e in plan.edits] == [InsertRun, Trim, SegmentBase]
    assert plan.needs == ("ad",)
    out = render(apply(parse(CONTENT), plan.edits, {"ad": media(AD)}))
    assert_m3u8_agrees(out)
    edited = media(out)
    assert [s.uri for s in edited.segments] == [
        *(f"http://cdn.test/vod/seg_{i}.ts" for i in range(5)),
        "http://ads.test/ad/ad_0.ts",
        "http://ads.test/ad/ad_1.ts",
    ]
    assert edited.duration == 40
    assert not out.startswith(b"\xef\xbb\xbf")  # RFC 8216 §4.1: no BOM once edited


def test_unknown_edit_kinds_are_refused_with_the_path():
    with pytest.raises(msgspec.ValidationError, match=r"\$\.edits\[0\]\.kind"):
        msgspec.json.decode(b'{"edits": [{"kind": "insert_rum"}]}', type=Plan)


@pytest.mark.parametrize(
    ("data", "edit", "message"),
    [
        (MASTER, Trim(duration=10), "Trim edits a media playlist"),
        (CONTENT, FilterVariants(max_height=720), "FilterVariants edits a multivariant"),
    ],
)
def test_an_edit_of_the_wrong_playlist_kind_is_an_edit_error(data, edit, message):
    with pytest.raises(EditError, match=message):
        apply(parse(data), [edit], {})


def test_needs_lists_every_source_once_in_order():
    edits = [
        InsertRun(source="ad1", source_url="http://a/1.m3u8", position="pre"),
        ReplaceBreak(break_id="b", pod=("ad2", "ad1"), pod_urls=("u2", "u1"), slate="slate"),
        InsertRun(source="ad2", source_url="http://a/2.m3u8", position="post"),
    ]
    assert needs(edits) == ("ad1", "ad2", "slate")


def test_multivariant_edits_through_the_dispatcher():
    out = apply(parse(MASTER), [FilterVariants(max_height=720)], {})
    assert render(out) == (
        b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=640x360\nlow.m3u8\n"
    )


def test_several_break_replacements_refer_to_the_origin_playlist():
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for i in range(12):
        if i in (2, 7):
            lines.append("#EXT-X-CUE-OUT:DURATION=12")
        if i in (4, 9):
            lines.append("#EXT-X-CUE-IN")
        lines += ["#EXTINF:6.000,", f"c{i}.ts"]
    content = media(("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n").encode())
    pod = media(
        b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n" + b"#EXTINF:4.000,\np.ts\n" * 3 + b"#EXT-X-ENDLIST\n"
    )
    edits = [
        ReplaceBreak(break_id=f"msn-{n}", pod=("pod",), pod_urls=("http://ads.test/p.m3u8",))
        for n in (2, 7)
    ]
    out = apply(content, edits, {"pod": pod})
    assert isinstance(out, MediaPlaylist)
    uris = [s.uri for s in out.segments]
    assert uris == [
        "c0.ts", "c1.ts", *["http://ads.test/p.ts"] * 3, "c4.ts", "c5.ts", "c6.ts",
        *["http://ads.test/p.ts"] * 3, "c9.ts", "c10.ts", "c11.ts",
    ]  # fmt: skip
    assert out.duration == content.duration
    assert_m3u8_agrees(render(out))


def test_an_open_break_ends_where_the_origin_put_it_whatever_a_later_replacement_did():
    """Break ids refer to the origin: the open break before the other ends where that one
    starts, even once the other's markers are removed (and so the content after both
    stays)."""
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for i in range(12):
        if i == 2:
            lines.append("#EXT-X-CUE-OUT")  # no duration, no CUE-IN: open until the next
        if i == 7:
            lines.append("#EXT-X-CUE-OUT:DURATION=12")
        if i == 9:
            lines.append("#EXT-X-CUE-IN")
        lines += ["#EXTINF:6.000,", f"c{i}.ts"]
    content = media(("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n").encode())
    pod = media(
        b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n" + b"#EXTINF:4.000,\np.ts\n" * 3 + b"#EXT-X-ENDLIST\n"
    )
    edits = [
        ReplaceBreak(
            break_id=f"msn-{n}",
            pod=("pod",),
            pod_urls=("http://ads.test/p.m3u8",),
            markers="remove",
        )
        for n in (2, 7)
    ]
    out = apply(content, edits, {"pod": pod})
    assert isinstance(out, MediaPlaylist)
    uris = [s.uri for s in out.segments]
    assert uris == ["c0.ts", "c1.ts", *["http://ads.test/p.ts"] * 6, "c9.ts", "c10.ts", "c11.ts"]
    assert_m3u8_agrees(render(out))


def test_a_break_replaced_twice_is_looked_for_again():
    content = media(
        b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\nc0.ts\n#EXT-X-CUE-OUT:12\n"
        b"#EXTINF:6.000,\nc1.ts\n#EXTINF:6.000,\nc2.ts\n#EXT-X-CUE-IN\n#EXTINF:6.000,\nc3.ts\n"
        b"#EXT-X-ENDLIST\n"
    )
    pod = media(b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\np.ts\n#EXT-X-ENDLIST\n")
    edit = ReplaceBreak(break_id="msn-1", pod=("pod",), pod_urls=("http://ads.test/p.m3u8",))
    once = apply(content, [edit], {"pod": pod})
    twice = apply(content, [edit, edit], {"pod": pod})
    assert render(twice) == render(apply(once, [edit], {"pod": pod}))
