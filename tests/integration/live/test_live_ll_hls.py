"""LL-HLS through a live replacement (BIS §6.2.5): a session's blocking reload asks the
origin for the segment it means in the origin's numbering, rendition reports name the
session's numbers, parts of a replaced segment are not listed, and delta updates are
withdrawn (no CAN-SKIP-UNTIL; ``_HLS_skip`` never reaches the origin)."""

from pathlib import Path

import aiohttp

from edge_assembler.core.hls import MediaPlaylist, parse
from edge_assembler.core.hls.invariants import check
from tests.conftest import Origin
from tests.integration.live.live_support import IN_PROCESS, TOKEN_PARAM, token_for
from tests.integration.personalise_support import Nodes

MEDIA = "/live/channel/720p/index.m3u8"
SPOT = "/vod/spot/720p/index.m3u8"


def window(first: int, last: int) -> bytes:
    """Origin MSNs first..last (2 s) with a 6 s break at 102-104 and a part in progress."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:9",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,PART-HOLD-BACK=1.5",
        "#EXT-X-PART-INF:PART-TARGET=0.5",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
    ]
    for msn in range(first, last + 1):
        lines += {
            102: ["#EXT-X-CUE-OUT:DURATION=6"],
            103: ["#EXT-X-CUE-OUT-CONT:ElapsedTime=2,Duration=6"],
            104: ["#EXT-X-CUE-OUT-CONT:ElapsedTime=4,Duration=6"],
            105: ["#EXT-X-CUE-IN"],
        }.get(msn, [])
        lines += ["#EXTINF:2.000,", f"{msn}.ts"]
    nxt = last + 1
    lines += [
        f'#EXT-X-PART:DURATION=0.5,URI="{nxt}.0.ts",INDEPENDENT=YES',
        f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{nxt}.1.ts"',
        f'#EXT-X-RENDITION-REPORT:URI="../audio_en/index.m3u8",LAST-MSN={nxt},LAST-PART=0',
    ]
    return ("\n".join(lines) + "\n").encode()


def spot() -> bytes:
    body = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\na.ts\n#EXTINF:2.000,\nb.ts\n"
    return (body + "#EXT-X-ENDLIST\n").encode()


async def test_blocking_reloads_and_reports_use_the_origin_s_and_the_session_s_numbers(
    origin: Origin, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    nodes = Nodes(origin, tmp_path)
    origin.state.manifest(SPOT, body=spot())
    playlist = origin.state.manifest(MEDIA, body=window(100, 106), cache_control="max-age=0")
    try:
        node = await nodes.make(IN_PROCESS)
        url = f"{node.url}{MEDIA}?{TOKEN_PARAM}={token_for(started=0)}"
        async with http.get(url) as r:
            assert r.status == 200
            assert "live-breaks" in r.headers["X-Edge-Decision"]
            out = parse(await r.read())
        assert isinstance(out, MediaPlaylist)
        assert check(out) == []
        # The 3-segment break became the 2-segment spot: origin 105.. are one lower.
        uris = [s.uri for s in out.segments]
        assert uris == ["100.ts", "101.ts", "/vod/spot/720p/a.ts", "/vod/spot/720p/b.ts",
                        "105.ts", "106.ts"]  # fmt: skip
        assert out.msn(len(uris) - 1) == 105
        head = "\n".join(out.head)
        assert "CAN-BLOCK-RELOAD=YES" in head
        assert "CAN-SKIP-UNTIL" not in head
        tail = "\n".join(out.tail)
        assert "LAST-MSN=106,LAST-PART=0" in tail  # origin 107's part 0 is output 106's
        assert '#EXT-X-PART:DURATION=0.5,URI="107.0.ts"' in tail

        # The player waits for output MSN 106, part 1 (origin 107): the origin is asked for
        # MSN 107, part 1; a delta update is never asked for.
        playlist.body = window(101, 107)
        origin.state.seen_queries.clear()
        async with http.get(f"{url}&_HLS_msn=106&_HLS_part=1&_HLS_skip=YES") as r:
            assert r.status == 200
            out = parse(await r.read())
        assert origin.state.seen_queries == ["_HLS_msn=107&_HLS_part=1"]
        assert isinstance(out, MediaPlaylist)
        assert out.segments[-1].uri == "107.ts"
        assert out.msn(len(out.segments) - 1) == 106
    finally:
        await nodes.close()


async def test_parts_of_a_segment_the_break_replaces_are_not_listed(
    origin: Origin, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    nodes = Nodes(origin, tmp_path)
    origin.state.manifest(SPOT, body=spot())
    origin.state.manifest(MEDIA, body=window(98, 103), cache_control="max-age=0")
    try:
        node = await nodes.make(IN_PROCESS)
        url = f"{node.url}{MEDIA}?{TOKEN_PARAM}={token_for(started=0)}"
        async with http.get(url) as r:
            assert r.status == 200
            out = parse(await r.read())
    finally:
        await nodes.close()
    assert isinstance(out, MediaPlaylist)
    assert [s.uri for s in out.segments][-2:] == ["/vod/spot/720p/a.ts", "/vod/spot/720p/b.ts"]
    tail = "\n".join(out.tail)
    assert "#EXT-X-PART:" not in tail  # origin 104 is the break's
    assert "#EXT-X-PRELOAD-HINT" not in tail
    assert check(out) == []
