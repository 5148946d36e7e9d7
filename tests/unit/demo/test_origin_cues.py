"""inject_cues: SCTE-35-style cue tags derived from EXT-X-MEDIA-SEQUENCE alone."""

from typing import Any

import pytest
from hypothesis import given, strategies as st

from edge_assembler.demo.origin import CueSchedule, inject_cues

SMALL = CueSchedule(every=5, at=1, segments=2, segment_seconds=2.0)
OUT = "#EXT-X-CUE-OUT:DURATION=4.000"
IN = "#EXT-X-CUE-IN"


def cont(elapsed: float, duration: float) -> str:
    return f"#EXT-X-CUE-OUT-CONT:ElapsedTime={elapsed:.3f},Duration={duration:.3f}"


CONT = cont(2, 4)


def media_playlist(first: int, count: int, *, sequence_tag: bool = True) -> list[str]:
    head = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:2"]
    if sequence_tag:
        head.append(f"#EXT-X-MEDIA-SEQUENCE:{first}")
    body: list[str] = []
    for n in range(first, first + count):
        body += ["#EXTINF:2.000000,", f"seg_{n:05d}.ts"]
    return head + body


def text(lines: list[str], newline: str = "\n") -> str:
    return "".join(line + newline for line in lines)


def with_tags(lines: list[str], tags: dict[int, str]) -> list[str]:
    """Insert tags[i] before the i-th #EXTINF (0-based) of lines."""
    out: list[str] = []
    extinf = 0
    for line in lines:
        if line.startswith("#EXTINF"):
            if extinf in tags:
                out.append(tags[extinf])
            extinf += 1
        out.append(line)
    return out


CASES = [
    pytest.param(
        SMALL,
        text(media_playlist(0, 3)),
        text(with_tags(media_playlist(0, 3), {1: OUT, 2: CONT})),
        id="break-start",
    ),
    pytest.param(
        SMALL,
        text(media_playlist(2, 3)),
        text(with_tags(media_playlist(2, 3), {0: CONT, 1: IN})),
        id="window-opens-mid-break-then-cue-in",
    ),
    pytest.param(
        SMALL,
        text(media_playlist(20, 3)),
        text(with_tags(media_playlist(20, 3), {1: OUT, 2: CONT})),
        id="later-cycle",
    ),
    pytest.param(
        CueSchedule(every=5, at=4, segments=2),
        text(media_playlist(3, 5)),
        text(with_tags(media_playlist(3, 5), {1: OUT, 2: CONT, 3: IN})),
        id="break-wraps-the-cycle",
    ),
    pytest.param(
        CueSchedule(),
        text(media_playlist(3, 9)),
        text(
            with_tags(
                media_playlist(3, 9),
                {
                    2: "#EXT-X-CUE-OUT:DURATION=10.000",
                    3: cont(2, 10),
                    4: cont(4, 10),
                    5: cont(6, 10),
                    6: cont(8, 10),
                    7: IN,
                },
            )
        ),
        id="default-schedule",
    ),
    pytest.param(
        SMALL,
        text(media_playlist(0, 2, sequence_tag=False)),
        text(with_tags(media_playlist(0, 2, sequence_tag=False), {1: OUT})),
        id="missing-media-sequence-means-zero",
    ),
    pytest.param(
        SMALL,
        text(media_playlist(0, 3), "\r\n"),
        text(with_tags(media_playlist(0, 3), {1: OUT, 2: CONT})),
        id="crlf-input-lf-output",
    ),
    pytest.param(
        SMALL,
        "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2.0,\nseg_00001.ts",
        f"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1\n{OUT}\n#EXTINF:2.0,\nseg_00001.ts\n",
        id="no-final-newline",
    ),
    pytest.param(
        SMALL,
        text(
            [
                "#EXTM3U",
                "#EXT-X-MEDIA-SEQUENCE:1",
                "#EXT-X-DISCONTINUITY-SEQUENCE:7",
                "#EXT-X-DISCONTINUITY",
                "#EXTINF:2.000000,",
                "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000+0000",
                "seg_00001.ts",
                "",
                "#EXTINF:2.000000,",
                "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:04.000+0000",
                "seg_00002.ts",
            ]
        ),
        text(
            [
                "#EXTM3U",
                "#EXT-X-MEDIA-SEQUENCE:1",
                "#EXT-X-DISCONTINUITY-SEQUENCE:7",
                "#EXT-X-DISCONTINUITY",
                OUT,
                "#EXTINF:2.000000,",
                "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000+0000",
                "seg_00001.ts",
                "",
                CONT,
                "#EXTINF:2.000000,",
                "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:04.000+0000",
                "seg_00002.ts",
            ]
        ),
        id="pdt-blank-lines-and-discontinuity-sequence",
    ),
    pytest.param(
        SMALL,
        text(
            [
                "#EXTM3U",
                '#EXT-X-STREAM-INF:BANDWIDTH=620400,RESOLUTION=640x360,CODECS="avc1"',
                "360p/index.m3u8",
                '#EXT-X-STREAM-INF:BANDWIDTH=1170400,RESOLUTION=960x540,CODECS="avc1"',
                "540p/index.m3u8",
            ]
        ),
        text(
            [
                "#EXTM3U",
                '#EXT-X-STREAM-INF:BANDWIDTH=620400,RESOLUTION=640x360,CODECS="avc1"',
                "360p/index.m3u8",
                '#EXT-X-STREAM-INF:BANDWIDTH=1170400,RESOLUTION=960x540,CODECS="avc1"',
                "540p/index.m3u8",
            ]
        ),
        id="master-has-no-extinf",
    ),
    pytest.param(SMALL, "", "", id="empty"),
]


@pytest.mark.parametrize(("cues", "source", "expected"), CASES)
def test_inject_cues(cues: CueSchedule, source: str, expected: str) -> None:
    assert inject_cues(source, cues) == expected


def test_one_tag_per_segment_even_with_repeated_extinf() -> None:
    source = "#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2,\n#EXTINF:2,\nseg.ts\n"
    assert inject_cues(source, SMALL) == (
        f"#EXT-X-MEDIA-SEQUENCE:1\n{OUT}\n#EXTINF:2,\n#EXTINF:2,\nseg.ts\n"
    )


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [(0, None), (1, OUT), (2, CONT), (3, IN), (4, None), (6, OUT), (5001, OUT)],
)
def test_tag_for(sequence: int, expected: str | None) -> None:
    assert SMALL.tag_for(sequence) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"every": 5, "segments": 5},
        {"every": 5, "segments": 0},
        {"every": 5, "at": 5, "segments": 2},
        {"every": 5, "at": -1, "segments": 2},
        {"segment_seconds": 0.0},
    ],
)
def test_schedule_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="need"):
        CueSchedule(**kwargs)


schedules = st.integers(min_value=2, max_value=40).flatmap(
    lambda every: st.builds(
        CueSchedule,
        every=st.just(every),
        at=st.integers(min_value=0, max_value=every - 1),
        segments=st.integers(min_value=1, max_value=every - 1),
        segment_seconds=st.sampled_from([1.0, 2.0, 6.006]),
    )
)
playlist_lines = st.one_of(
    st.sampled_from(
        [
            "#EXTM3U",
            "#EXT-X-TARGETDURATION:2",
            "#EXTINF:2.000000,",
            "#EXT-X-DISCONTINUITY",
            "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000+0000",
            "seg_00001.ts",
            "",
        ]
    ),
    st.integers(min_value=0, max_value=10**9).map(lambda n: f"#EXT-X-MEDIA-SEQUENCE:{n}"),
    st.text(
        st.characters(exclude_characters="\r\n"),
        max_size=20,
    ).filter(lambda line: not line.startswith("#EXT-X-CUE")),
)


@given(
    lines=st.lists(playlist_lines, max_size=40),
    cues=schedules,
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_only_cue_lines_are_added(lines: list[str], cues: CueSchedule, newline: str) -> None:
    out = inject_cues(text(lines, newline), cues).split("\n")
    assert out.pop() == ""
    assert [line for line in out if not line.startswith("#EXT-X-CUE")] == lines
    for i, line in enumerate(out):
        if line.startswith("#EXT-X-CUE"):
            assert out[i + 1].startswith("#EXTINF")


@given(
    cues=schedules,
    first=st.integers(min_value=0, max_value=10**6),
    shift=st.integers(min_value=1, max_value=6),
)
def test_sliding_windows_agree(cues: CueSchedule, first: int, shift: int) -> None:
    def tags_by_segment(start: int) -> dict[str, str | None]:
        lines = inject_cues(text(media_playlist(start, 6)), cues).splitlines()
        tags: dict[str, str | None] = {}
        pending: str | None = None
        for line in lines:
            if line.startswith("#EXT-X-CUE"):
                pending = line
            elif not line.startswith("#"):
                tags[line], pending = pending, None
        return tags

    before, after = tags_by_segment(first), tags_by_segment(first + shift)
    for uri in before.keys() & after.keys():
        assert before[uri] == after[uri]
