"""The cohort output cache: equal plans on one origin version share the rendered bytes."""

import pytest

from edge_assembler.core.edits import PLANS_PER_VERSION, EditError, apply, render_plan
from edge_assembler.core.edits.replace_break import ReplaceBreak
from edge_assembler.core.edits.splice import InsertRun
from edge_assembler.core.edits.variants import FilterVariants
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.cues import detect_breaks
from tests.hls_support import assert_m3u8_agrees

LIVE = (
    b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1200\n"
    b"#EXTINF:2.000,\nseg_0.ts\n#EXTINF:2.000,\nseg_1.ts\n"
    b"#EXT-X-CUE-OUT:DURATION=4.000\n#EXTINF:2.000,\nseg_2.ts\n"
    b"#EXT-X-CUE-OUT-CONT:ElapsedTime=2.000,Duration=4.000\n#EXTINF:2.000,\nseg_3.ts\n"
    b"#EXT-X-CUE-IN\n#EXTINF:2.000,\nseg_4.ts\n#EXTINF:2.000,\nseg_5.ts\n"
)
AD = (
    b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
    b"#EXTINF:2.000,\nad_0.ts\n#EXTINF:2.000,\nad_1.ts\n#EXT-X-ENDLIST\n"
)
MASTER = (
    b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=640x360\nlow.m3u8\n"
    b"#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1920x1080\nhigh.m3u8\n"
)


def media(data: bytes) -> MediaPlaylist:
    playlist = parse(data)
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def plan(playlist: MediaPlaylist, pod: str = "ad") -> list[ReplaceBreak]:
    (found,) = detect_breaks(playlist)
    return [ReplaceBreak(break_id=found.id, pod=(pod,), pod_urls=("http://ads.test/p.m3u8",))]


def test_the_bytes_are_those_of_render_apply_and_a_second_call_shares_them():
    playlist, fetched = media(LIVE), {"ad": media(AD)}
    edits = plan(playlist)
    first = render_plan(playlist, edits, fetched)
    assert first == render(apply(playlist, edits, fetched))
    assert_m3u8_agrees(first)
    assert b"ad_0.ts" in first
    assert render_plan(playlist, list(edits), dict(fetched)) is first


def test_an_equal_plan_from_another_viewer_hits():
    playlist, fetched = media(LIVE), {"ad": media(AD)}
    first = render_plan(playlist, plan(playlist), fetched)
    assert render_plan(playlist, plan(playlist), fetched) is first


@pytest.mark.parametrize(
    "change",
    ["another source object", "another plan", "another origin version"],
)
def test_misses(change):
    playlist, fetched = media(LIVE), {"ad": media(AD), "ad2": media(AD)}
    first = render_plan(playlist, plan(playlist), fetched)
    match change:
        case "another source object":
            again = render_plan(playlist, plan(playlist), {"ad": media(AD)})
        case "another plan":
            again = render_plan(playlist, plan(playlist, pod="ad2"), fetched)
        case _:
            again = render_plan(media(LIVE), plan(playlist), fetched)
    assert again == first
    assert again is not first


def test_a_multivariant_plan_is_remembered_too():
    master = parse(MASTER)
    edits = [FilterVariants(max_bandwidth=1_000_000)]
    first = render_plan(master, edits, {})
    assert first == render(apply(master, edits, {}))
    assert b"high.m3u8" not in first
    assert render_plan(master, edits, {}) is first


def test_the_memo_keeps_the_most_recently_used_plans():
    playlist = media(LIVE)
    fetched = {"ad": media(AD)}
    edits = [
        [InsertRun(source="ad", source_url=f"http://ads.test/{n}/p.m3u8", at=0.0)]
        for n in range(PLANS_PER_VERSION + 1)
    ]
    kept = render_plan(playlist, edits[0], fetched)
    evicted = render_plan(playlist, edits[1], fetched)
    for later in edits[2:]:
        render_plan(playlist, edits[0], fetched)  # used again: stays
        render_plan(playlist, later, fetched)
    assert render_plan(playlist, edits[0], fetched) is kept
    again = render_plan(playlist, edits[1], fetched)
    assert again == evicted
    assert again is not evicted


def test_errors_are_raised_on_every_call_and_not_remembered():
    playlist = media(LIVE)
    edits = plan(playlist)
    for _ in range(2):
        with pytest.raises(EditError):
            render_plan(playlist, edits, {})
    assert render_plan(playlist, edits, {"ad": media(AD)}) == render(
        apply(playlist, edits, {"ad": media(AD)})
    )
