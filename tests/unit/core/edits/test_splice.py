"""InsertRun: pre-, mid- and post-roll insertion, at a time or at a cue."""

from functools import reduce
from math import ceil
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, strategies as st

from edge_assembler.core.edits.seams import TOLERANCE, EditError, boundaries, round_duration
from edge_assembler.core.edits.splice import InsertRun, apply_insert_run
from edge_assembler.core.edits.trim import Trim, apply_trim
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.invariants import check
from tests.hls_support import assert_m3u8_agrees

GOLDEN = Path(__file__).resolve().parents[3] / "golden" / "hls" / "splice"
AD_URL = "https://ads.example.com/c/1/video.m3u8"
DURATIONS = st.integers(500, 10_000).map(lambda ms: ms / 1000)
# One AAC frame at 48 kHz: the most two renditions cut at the same time may differ.
AAC_FRAME = 1024 / 48_000


def media(text: str) -> MediaPlaylist:
    playlist = parse(text.encode())
    assert isinstance(playlist, MediaPlaylist)
    return playlist


@st.composite
def vod_texts(draw: st.DrawFn, *, prefix: str, fmp4: bool, min_segments: int = 1) -> str:
    """A VOD media playlist, TS or fMP4, maybe AES-128 (implicit IVs, a key rotation),
    maybe with program dates."""
    durations = draw(st.lists(DURATIONS, min_size=min_segments, max_size=8))
    encrypted = draw(st.booleans())
    rotate = draw(st.integers(1, len(durations))) if encrypted else None
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{6 if fmp4 else draw(st.sampled_from([3, 6]))}",
        f"#EXT-X-TARGETDURATION:{max(ceil(d) for d in durations)}",
        f"#EXT-X-MEDIA-SEQUENCE:{draw(st.integers(0, 300))}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    if encrypted:
        lines.append(f'#EXT-X-KEY:METHOD=AES-128,URI="{prefix}-key-0"')
    if fmp4:
        lines.append(f'#EXT-X-MAP:URI="{prefix}-init.mp4"')
    if draw(st.booleans()):
        lines.append("#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z")
    for i, duration in enumerate(durations):
        if i == rotate:
            lines.append(f'#EXT-X-KEY:METHOD=AES-128,URI="{prefix}-key-{i}"')
        lines += [f"#EXTINF:{duration:.3f},", f"{prefix}{i}.{'m4s' if fmp4 else 'ts'}"]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


@st.composite
def insertions(draw: st.DrawFn) -> tuple[MediaPlaylist, MediaPlaylist, InsertRun]:
    fmp4 = draw(st.booleans())  # content and ad share a container (see the seams docs)
    content = media(draw(vod_texts(prefix="c", fmp4=fmp4, min_segments=2)))
    ad = media(draw(vod_texts(prefix="ad", fmp4=fmp4)))
    position = draw(st.sampled_from(["pre", "mid", "post"]))
    at = None
    if position == "mid":
        at = boundaries(content)[draw(st.integers(1, len(content.segments) - 1))]
    role = draw(st.sampled_from(["ad", "recap", "bumper"]))
    edit = InsertRun(
        source="ad", source_url=AD_URL, at=at, position=position, role=role, marker_id="m-1"
    )
    return content, ad, edit


@given(insertions())
def test_insertion_adds_the_source_and_its_seams(case):
    content, ad, edit = case
    output = apply_insert_run(content, edit, {"ad": ad})
    data = render(output)
    assert_m3u8_agrees(data)
    again = parse(data)
    assert isinstance(again, MediaPlaylist)
    assert check(again) == []
    assert again.duration == pytest.approx(content.duration + ad.duration, abs=1e-6)
    seams = 2 if edit.position == "mid" else 1
    assert sum(s.discontinuity for s in again.segments) == seams
    assert all(round_duration(s.duration) <= again.target_duration for s in again.segments)
    kept = [s.uri for s in again.segments if not s.uri.startswith("https://")]
    assert kept == [s.uri for s in content.segments]


@given(st.booleans().flatmap(lambda fmp4: vod_texts(prefix="c", fmp4=fmp4)))
def test_no_edit_is_the_identity(text):
    content = media(text)
    edits: list[InsertRun] = []
    output = reduce(lambda p, e: apply_insert_run(p, e, {}), edits, content)
    assert render(output) == text.encode()
    assert render(apply_trim(content, Trim(duration=content.duration), {})) == text.encode()


def test_demuxed_renditions_get_their_seams_at_the_same_time():
    seams = {}
    for rendition in ("video", "audio", "subtitles"):
        case = GOLDEN / f"demux-{rendition}"
        edit = msgspec.json.decode((case / "edit.json").read_bytes(), type=InsertRun)
        content = media((case / "input.m3u8").read_text())
        output = apply_insert_run(
            content, edit, {"ad": media((case / "sources/ad.m3u8").read_text())}
        )
        first = next(i for i, s in enumerate(output.segments) if s.discontinuity)
        seams[rendition] = output.starts()[first]
        assert sum(s.discontinuity for s in output.segments) == 2
    assert seams["video"] == seams["subtitles"] == 12.0
    assert abs(seams["audio"] - seams["video"]) < AAC_FRAME < TOLERANCE


CONTENT = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:1
#EXTINF:6.0,
a.ts
#EXT-X-CUE-OUT:12
#EXTINF:6.0,
b.ts
#EXTINF:6.0,
c.ts
#EXT-X-CUE-IN
#EXTINF:6.0,
d.ts
#EXT-X-ENDLIST
"""
AD = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nx.ts\n#EXT-X-ENDLIST\n"


def test_insertion_at_a_cue_goes_before_the_break():
    edit = InsertRun(source="ad", source_url=AD_URL, cue="msn-2", role="bumper")
    output = apply_insert_run(media(CONTENT), edit, {"ad": media(AD)})
    assert [s.uri for s in output.segments] == [
        "a.ts",
        "https://ads.example.com/c/1/x.ts",
        "b.ts",
        "c.ts",
        "d.ts",
    ]
    assert output.segments[2].raw[:2] == ("#EXT-X-DISCONTINUITY", "#EXT-X-CUE-OUT:12")


@pytest.mark.parametrize(
    ("changes", "fetched", "reason"),
    [
        ({}, {}, "source 'ad' was not fetched"),
        ({}, {"ad": AD.replace("#EXT-X-ENDLIST\n", "")}, "not complete"),
        ({"at": 24.5}, {"ad": AD}, "beyond the end"),
        ({"at": None}, {"ad": AD}, "exactly one of 'at' and 'cue'"),
        ({"cue": "msn-2"}, {"ad": AD}, "exactly one of 'at' and 'cue'"),
        ({"at": None, "cue": "msn-9"}, {"ad": AD}, "no break 'msn-9'"),
    ],
)
def test_refusals(changes, fetched, reason):
    edit = msgspec.structs.replace(InsertRun(source="ad", source_url=AD_URL, at=6.0), **changes)
    with pytest.raises(EditError, match=reason):
        apply_insert_run(media(CONTENT), edit, {k: media(v) for k, v in fetched.items()})


def test_i_frame_playlists_are_refused():
    iframes = media(CONTENT.replace("#EXT-X-VERSION:3", "#EXT-X-VERSION:4\n#EXT-X-I-FRAMES-ONLY"))
    with pytest.raises(EditError, match="I-frame"):
        apply_insert_run(
            iframes, InsertRun(source="ad", source_url=AD_URL, at=6.0), {"ad": media(AD)}
        )


@pytest.mark.parametrize(("snap", "index"), [("nearest", 1), ("before", 1), ("after", 2)])
def test_snap_choices(snap, index):
    edit = InsertRun(source="ad", source_url=AD_URL, at=7.0, snap=snap, role="recap")
    output = apply_insert_run(media(CONTENT), edit, {"ad": media(AD)})
    assert output.segments[index].uri.startswith("https://")


def test_edits_decode_from_json():
    data = b'{"kind":"insert_run","source":"ad","source_url":"u","at":3.5,"marker_id":"m"}'
    assert msgspec.json.decode(data, type=InsertRun) == InsertRun(
        source="ad", source_url="u", at=3.5, marker_id="m"
    )
    for bad in (b'"at":-1', b'"marker_id":"a\\"b"', b'"position":"middle"'):
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(
                b'{"kind":"insert_run","source":"a","source_url":"u",' + bad + b"}", type=InsertRun
            )


def container(fmp4: bool, prefix: str) -> MediaPlaylist:
    """A two-segment VOD: fMP4 (an EXT-X-MAP before its first segment) or TS (none)."""
    init = f'#EXT-X-MAP:URI="{prefix}-init.mp4"\n' if fmp4 else ""
    ext = "m4s" if fmp4 else "ts"
    return media(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        f"{init}#EXTINF:4.000,\n{prefix}0.{ext}\n#EXTINF:4.000,\n{prefix}1.{ext}\n"
        "#EXT-X-ENDLIST\n"
    )


# BIS §4.4.4.5: a MAP applies until the next MAP; nothing ends its scope.
@pytest.mark.parametrize(
    ("content_fmp4", "ad_fmp4", "position", "refused"),
    [
        (True, False, "mid", True),  # TS ad inside fMP4 content
        (True, False, "post", True),  # TS post-roll after fMP4 content
        (False, True, "mid", True),  # TS content resumes after an fMP4 ad
        (False, True, "pre", True),  # fMP4 pre-roll before TS content
        (True, False, "pre", False),  # TS pre-roll: the content MAP follows the run
        (False, True, "post", False),  # fMP4 post-roll: its MAP applies only to the run
        (True, True, "mid", False),
        (False, False, "mid", False),
    ],
)
def test_a_map_scope_cannot_be_left(content_fmp4, ad_fmp4, position, refused):
    edit = InsertRun(
        source="ad", source_url=AD_URL, at=4.0 if position == "mid" else None, position=position
    )
    content, ad = container(content_fmp4, "c"), container(ad_fmp4, "ad")
    if refused:
        with pytest.raises(EditError, match=r"BIS §4\.4\.4\.5.*content's container"):
            apply_insert_run(content, edit, {"ad": ad})
        return
    data = render(apply_insert_run(content, edit, {"ad": ad}))
    assert_m3u8_agrees(data)
    output = parse(data)
    assert isinstance(output, MediaPlaylist)
    assert check(output) == []
