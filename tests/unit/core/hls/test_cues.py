"""Break detection: the breaks a reader sees in every cue file of the corpus, each dialect
on small hand-written playlists, reload stability, and random cue soup that never raises."""

import base64
from fnmatch import fnmatch
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from edge_assembler.core.hls import MediaPlaylist, MultivariantPlaylist, parse
from edge_assembler.core.hls.cues import Break, covered_duration, detect_breaks
from edge_assembler.core.scte35 import crc32_mpeg2

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "hls"
PATTERNS = (
    "*cue*", "*scte35*", "*daterange*", "*oatcls*", "*splicepoint*", "mediatailor*",
    "threefive*", "mamba__live*", "grafov__live*", "hlssplice__vod-daterange*",
)  # fmt: skip
CUE_FILES = sorted(
    p.name for p in CORPUS.glob("*.m3u8") if any(fnmatch(p.name, g) for g in PATTERNS)
)


def with_target_duration(seconds: int):
    def repair(text: str) -> str:
        return text.replace("#EXTM3U\n", f"#EXTM3U\n#EXT-X-TARGETDURATION:{seconds}\n", 1)

    return repair


def splicepoint_fragment(text: str) -> str:
    """The AWS docs fragment: its "..." stands for the segments between the two cues."""
    segments = "".join(f"#EXTINF:6.000,\ns{i}.ts\n" for i in range(4))
    body = text.replace("...\n", segments)
    return "#EXTM3U\n#EXT-X-TARGETDURATION:6\n" + body + "#EXTINF:6.000,\ns4.ts\n"


# Fixtures the parser refuses (see test_corpus.py), made whole without touching their cues.
REPAIRS = {
    "m3u8py__daterange-scte35-out-in-rfc8216-example.m3u8": with_target_duration(10),
    "m3u8py__ll-daterange-end-on-next-between-parts.m3u8": with_target_duration(4),
    "mediatailor-docs__splicepoint-scte35-fragment.m3u8": splicepoint_fragment,
}
MULTIVARIANT = "multivariant"

# What a reader of each file sees: (id, start_index, end_index, start_msn, signalled duration,
# closed, dialect, elapsed before the window, covered EXTINF seconds).
EXPECTED: dict[str, object] = {
    "exoplayer__llhls-can-skip-dateranges-full.m3u8": [],
    # CUE= is unreadable (section_length 8 in a 37-byte cue) and nothing else says out or in.
    "grafov__ext-scte35-custom-tag.m3u8": [],
    "grafov__live-usp-bare-cue-out-cue-in.m3u8": [
        # The window opens on the tail of a break: its CUE-OUT left with the removed head.
        ("msn-275163116", 0, 2, 275163116, None, True, "cue-out", 0.0, 11.167),
        ("msn-275163121", 5, 9, 275163121, None, True, "cue-out", 0.0, 24.0),
        # No CUE-IN in the window: the 180 s are covered at segment 60.
        ("msn-275163146", 30, 60, 275163146, 180.0, True, "cue-out", 0.0, 180.033),
    ],
    # PLANNED-DURATION=0 splice_insert + CUE-OUT:0 + CUE-IN: one insertion point, not two.
    "hlssplice__vod-daterange-splice-insert-zero-duration.m3u8": [
        ("1-804", 5, 5, 6, 0.0, True, "daterange", 0.0, 0.0),
    ],
    "m3u8parser__llhls-delta-skip-recently-removed-dateranges.m3u8": [],
    # The SCTE35-OUT payload is one byte short, so PLANNED-DURATION/DURATION signal it.
    "m3u8py__daterange-scte35-out-in-rfc8216-example.m3u8": [
        ("splice-6FFFFFF0", 0, 6, 0, 59.993, True, "daterange", 0.0, 60.0),
    ],
    # Bare CUE-OUT-CONT with no CUE-OUT before it: the window starts inside the break.
    "m3u8py__live-cue-out-cont-pdt-per-segment.m3u8": [
        ("msn-143474331", 0, 3, 143474331, None, True, "cue-out", 0.0, 30.0),
    ],
    "m3u8py__live-cue-out-cont-slash-form.m3u8": [
        ("msn-19980226", 0, 4, 19980226, 119.987, False, "cue-out", 0.0, 20.002),
    ],
    # 2.040 + 7.960 split at both splice points; SCTE-35 says 50 s.
    "m3u8py__live-elemental-cue-out-oatcls-asset.m3u8": [
        ("1", 3, 9, 47227, 50.0, True, "cue-out", 0.0, 50.0),
    ],
    "m3u8py__live-envivio-cue-out-cue-span.m3u8": [
        ("16777323", 3, 7, 399706, 366.0, True, "cue-out", 0.0, 40.0),
    ],
    "m3u8py__live-oatcls-time-signal-only.m3u8": [],
    "m3u8py__ll-daterange-end-on-next-between-parts.m3u8": [],
    "m3u8py__llhls-delta-update-skip-dateranges-v2.m3u8": [],
    # VOD_DAI: the CUE-IN before the EXTINF:0 segment closes the break.
    "m3u8py__vod-mediaconvert-cue-out-vod-dai.m3u8": [
        ("msn-2", 1, 4, 2, 4.0, True, "cue-out", 0.0, 30.0),
    ],
    # Break Start (0x22) and Provider Advertisement (0x30) share one span: one break. The
    # Program Start (0x10) and Chapter Start (0x20) ranges are not ad breaks.
    "mamba__live-fmp4-fairplay-scte35-daterange-time-signal.m3u8": [
        ("1-0x22-1585221985", 0, 5, 112000, 30.0, True, "daterange", 0.0, 29.996),
    ],
    # CUE-OUT says 20.020 and CUE-OUT-CONT 21; the splice_insert says 20.0 (SPEC_RULES 43).
    "mediatailor-docs__origin-live-media-cue-out.m3u8": [
        ("4026531846", 3, 8, 8779960, 20.0, True, "cue-out", 0.0, 20.02),
    ],
    "mediatailor-docs__origin-multivariant.m3u8": MULTIVARIANT,
    # The stitched output carries no cue tags: the ads show only as discontinuities.
    "mediatailor-docs__personalized-live-media-ad-stitched.m3u8": [],
    "mediatailor-docs__personalized-multivariant.m3u8": MULTIVARIANT,
    "mediatailor-docs__splicepoint-scte35-fragment.m3u8": [
        ("2729", 0, 4, 0, 212.16, True, "splicepoint", 0.0, 24.0),
    ],
    "shaka__svta2053-2-ad-creative-signaling-daterange.m3u8": [],
    "threefive__vod-two-breaks-oatcls-cue-out-cont.m3u8": [
        ("1", 1, 5, 2, 30.0, True, "cue-out", 0.0, 30.0),
        ("2", 9, 12, 10, 30.0, True, "cue-out", 0.0, 30.0),
    ],
}


def load(name: str) -> MediaPlaylist | MultivariantPlaylist:
    text = (CORPUS / name).read_text()
    playlist = parse(REPAIRS.get(name, lambda t: t)(text).encode())
    assert isinstance(playlist, MediaPlaylist | MultivariantPlaylist)
    return playlist


def summary(playlist: MediaPlaylist) -> list[tuple[object, ...]]:
    return [
        (
            b.id, b.start_index, b.end_index, b.start_msn, b.signalled_duration, b.closed,
            b.dialect, b.elapsed_before_window, round(covered_duration(playlist, b), 3),
        )
        for b in detect_breaks(playlist)
    ]  # fmt: skip


def test_every_cue_file_of_the_corpus_has_an_expectation():
    assert len(CUE_FILES) >= 20, f"corpus not found at {CORPUS}"
    assert sorted(EXPECTED) == CUE_FILES


@pytest.mark.parametrize("name", CUE_FILES)
def test_corpus_breaks(name: str):
    playlist = load(name)
    if EXPECTED[name] == MULTIVARIANT:
        assert isinstance(playlist, MultivariantPlaylist)
        return
    assert isinstance(playlist, MediaPlaylist)
    assert summary(playlist) == EXPECTED[name]


def test_corpus_break_details():
    elemental = load("m3u8py__live-elemental-cue-out-oatcls-asset.m3u8")
    assert isinstance(elemental, MediaPlaylist)
    (brk,) = detect_breaks(elemental)
    assert brk.scte35 is not None
    assert brk.scte35.splice_event_id == 1
    assert brk.duration == 50.0
    mamba = load("mamba__live-fmp4-fairplay-scte35-daterange-time-signal.m3u8")
    assert isinstance(mamba, MediaPlaylist)
    (brk,) = detect_breaks(mamba)
    assert brk.start_date == "2020-03-26T11:26:25.122Z"
    assert brk.scte35 is not None
    assert brk.scte35.descriptors[0].type_id == 0x22
    pdt = load("m3u8py__live-cue-out-cont-pdt-per-segment.m3u8")
    assert isinstance(pdt, MediaPlaylist)
    assert detect_breaks(pdt)[0].start_date == "2015-06-18T23:22:10Z"


# --- reloads: a live window slides, the break keeps its id and start MSN -------------------


def slide(playlist: MediaPlaylist, drop: int) -> MediaPlaylist:
    """The next reloads of a live playlist: the first ``drop`` segments (and their tags)
    removed from the head, MEDIA-SEQUENCE advanced (RFC 8216 §6.2.2)."""
    head = tuple(
        f"#EXT-X-MEDIA-SEQUENCE:{playlist.media_sequence + drop}"
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:")
        else line
        for line in playlist.head
    )
    text = "\n".join((*head, *(r for s in playlist.segments[drop:] for r in s.raw), *playlist.tail))
    reloaded = parse((text + "\n").encode())
    assert isinstance(reloaded, MediaPlaylist)
    return reloaded


@pytest.mark.parametrize(
    "name",
    [
        "m3u8py__live-elemental-cue-out-oatcls-asset.m3u8",
        "mediatailor-docs__origin-live-media-cue-out.m3u8",
        "m3u8py__live-envivio-cue-out-cue-span.m3u8",
        "threefive__vod-two-breaks-oatcls-cue-out-cont.m3u8",
    ],
)
def test_break_id_and_start_msn_survive_reloads(name: str):
    full = load(name)
    assert isinstance(full, MediaPlaylist)
    first = {b.start_msn: b.id for b in detect_breaks(full)}
    checked = 0
    for drop in range(1, len(full.segments)):
        window = slide(full, drop)
        if window.duration < 3 * window.target_duration:
            break  # SPEC_RULES 14: a live window never holds less
        for brk in detect_breaks(window):
            if brk.start_index == 0 and brk.elapsed_before_window > 0:
                assert first.get(brk.start_msn) == brk.id, (drop, brk)
                checked += 1
    assert checked


def test_window_inside_a_break_counts_back_from_elapsed_time():
    playlist = media(
        "#EXT-X-CUE-OUT-CONT:ElapsedTime=12,Duration=30", seg(), seg(), seg(), seg(), sequence=100
    )
    (brk,) = detect_breaks(playlist)
    assert (brk.start_index, brk.end_index, brk.start_msn) == (0, 3, 98)
    assert (brk.elapsed_before_window, brk.closed, brk.id) == (12.0, True, "msn-98")


def test_uneven_durations_do_not_allow_counting_back():
    playlist = media("#EXT-X-CUE-OUT-CONT:12/30", seg(6.8), seg(6), seg(6), sequence=100)
    (brk,) = detect_breaks(playlist)
    assert (brk.start_msn, brk.elapsed_before_window) == (100, 12.0)


# --- hand-written playlists, one behaviour each ---------------------------------------------


def seg(duration: float = 6.0) -> str:
    return f"#EXTINF:{duration:.3f},\nseg.ts"


def media(
    *lines: str, sequence: int = 0, endlist: bool = False, pdt: str | None = None
) -> MediaPlaylist:
    head = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        "#EXT-X-TARGETDURATION:10",
        f"#EXT-X-MEDIA-SEQUENCE:{sequence}",
    ]
    if pdt:
        head.append(f"#EXT-X-PROGRAM-DATE-TIME:{pdt}")
    tail = ["#EXT-X-ENDLIST"] if endlist else []
    playlist = parse(("\n".join([*head, *lines, *tail]) + "\n").encode())
    assert isinstance(playlist, MediaPlaylist)
    return playlist


def cue(command: bytes, descriptors: bytes = b"", *, hex_text: bool = False) -> str:
    """A splice_info_section (SCTE 35 Table 5) with a correct CRC, as base64 or 0x-hex;
    ``command`` starts with its splice_command_type."""
    body = (
        b"\x00" + bytes(5) + b"\x00" + (0xFFF000 | len(command[1:])).to_bytes(3, "big")
        + command + len(descriptors).to_bytes(2, "big") + descriptors
    )  # fmt: skip
    head = b"\xfc" + (0x3000 | (len(body) + 4)).to_bytes(2, "big") + body
    data = head + crc32_mpeg2(head).to_bytes(4, "big")
    return "0x" + data.hex().upper() if hex_text else base64.b64encode(data).decode()


def splice_insert(event_id: int, out: bool, seconds: float | None = None) -> bytes:
    flags = 0x40 | 0x10 | (0x80 if out else 0) | (0x20 if seconds is not None else 0)
    body = b"\x05" + event_id.to_bytes(4, "big") + b"\x7f" + bytes([flags | 0x0F])
    if seconds is not None:
        body += (0xFE00000000 | round(seconds * 90000)).to_bytes(5, "big")
    return body + b"\x00\x00\x00\x00"


TIME_SIGNAL = b"\x06\x7f"  # time_signal() with no time specified


def segmentation(event_id: int, type_id: int, seconds: float | None = None) -> bytes:
    flags = 0xFF if seconds is not None else 0xBF
    body = b"CUEI" + event_id.to_bytes(4, "big") + b"\x7f" + bytes([flags])
    if seconds is not None:
        body += round(seconds * 90000).to_bytes(5, "big")
    body += b"\x00\x00" + bytes([type_id]) + b"\x00\x00"
    return bytes([0x02, len(body)]) + body


OUT_30 = cue(splice_insert(7, True, 30))
OUT_12 = cue(splice_insert(7, True, 12))
IN_7 = cue(splice_insert(7, False))
PO_START = cue(TIME_SIGNAL, segmentation(41, 0x34, 12))
PO_END = cue(TIME_SIGNAL, segmentation(41, 0x35))
PROGRAM_START = cue(TIME_SIGNAL, segmentation(5, 0x10, 1800), hex_text=True)

CASES = [
    pytest.param(
        media(seg(), "#EXT-X-CUE-OUT", seg(), seg(), "#EXT-X-CUE-IN", seg()),
        [("msn-1", 1, 3, 1, None, True, "cue-out", 0.0, 12.0)],
        id="bare-out-in",
    ),
    pytest.param(
        media(seg(), "#EXT-X-CUE-OUT:DURATION=12", seg(), seg(), seg(), seg()),
        [("msn-1", 1, 3, 1, 12.0, True, "cue-out", 0.0, 12.0)],
        id="closed-when-duration-covered",
    ),
    pytest.param(
        media("#EXT-X-CUE-OUT:10", seg(), seg(), seg()),
        [("msn-0", 0, 2, 0, 10.0, True, "cue-out", 0.0, 12.0)],
        id="covered-within-half-a-segment",
    ),
    pytest.param(
        media("#EXT-X-CUE-OUT:12", seg(), seg(), "#EXT-X-CUE-OUT-CONT:12/12", seg(), seg()),
        [("msn-0", 0, 3, 0, 12.0, True, "cue-out", 0.0, 18.0)],
        id="continuation-past-the-duration-extends",
    ),
    pytest.param(
        media(seg(), seg(), "#EXT-X-CUE-OUT:DURATION=30"),
        [("msn-2", 2, 2, 2, 30.0, False, "cue-out", 0.0, 0.0)],
        id="announced-after-the-last-segment",
    ),
    pytest.param(
        media(seg(), "#EXT-X-CUE-IN", seg(), seg(), sequence=9),
        [("msn-9", 0, 1, 9, None, True, "cue-out", 0.0, 6.0)],
        id="live-window-opens-on-a-break-tail",
    ),
    pytest.param(
        media(seg(), "#EXT-X-CUE-IN", seg(), endlist=True), [], id="vod-stray-cue-in"
    ),
    pytest.param(
        media(seg(), f"#EXT-OATCLS-SCTE35:{PO_START}", seg(), seg(), seg()),
        [("41", 1, 3, 1, 12.0, True, "oatcls", 0.0, 12.0)],
        id="oatcls-placement-opportunity",
    ),
    pytest.param(
        media(seg(), f"#EXT-OATCLS-SCTE35:{PROGRAM_START}", seg(), seg()),
        [],
        id="oatcls-program-start-is-no-break",
    ),
    pytest.param(
        media(f"#EXT-X-SPLICEPOINT-SCTE35:{PO_START}", seg(), f"#EXT-X-SPLICEPOINT-SCTE35:{PO_END}",
              seg()),
        [("41", 0, 1, 0, 12.0, True, "splicepoint", 0.0, 6.0)],
        id="splicepoint-pair",
    ),
    pytest.param(
        media(
            seg(), f'#EXT-X-SCTE35:CUE="{OUT_30}",ID="a1",CUE-OUT=YES', seg(),
            "#EXT-X-SCTE35:CUE-OUT=CONT,ELAPSED=6", seg(), '#EXT-X-SCTE35:CUE-IN=YES,ID="a1"',
            seg(),
        ),
        [("7", 1, 3, 1, 30.0, True, "scte35-tag", 0.0, 12.0)],
        id="adobe-ext-x-scte35",
    ),
    pytest.param(
        media(seg(), f'#EXT-SCTE35: CUE="{OUT_30}", ID="9"', seg(), f'#EXT-SCTE35:CUE="{IN_7}"',
              seg()),
        [("7", 1, 2, 1, 30.0, True, "scte35-tag", 0.0, 6.0)],
        id="ext-scte35-by-its-cue",
    ),
    pytest.param(
        media(
            "#EXT-X-CUE-SPAN:TIMEFROMSIGNAL=PT12S,ID=77", seg(), seg(), "#EXT-X-CUE-IN:ID=77",
            seg(), sequence=50,
        ),
        [("77", 0, 2, 48, None, True, "cue-span", 12.0, 12.0)],
        id="window-opens-in-a-cue-span",
    ),
    pytest.param(
        media(seg(), f"#EXT-OATCLS-SCTE35:{OUT_30}", "#EXT-X-CUE-OUT:20", *[seg()] * 6),
        [("7", 1, 6, 1, 30.0, True, "cue-out", 0.0, 30.0)],
        id="scte35-duration-wins-over-the-tag",
    ),
    pytest.param(
        media(
            seg(), "#EXT-X-CUE-OUT", seg(), "#EXT-X-CUE-IN", seg(),
            "#EXT-X-CUE-OUT-CONT:ElapsedTime=6,Duration=12", seg(), seg(),
        ),
        [
            ("msn-1", 1, 2, 1, None, True, "cue-out", 0.0, 6.0),
            ("msn-2", 2, 4, 2, 12.0, True, "cue-out", 0.0, 12.0),
        ],
        id="continuation-after-a-closed-break-starts-there",
    ),
    pytest.param(
        media(seg(), "#EXT-X-CUE-OUT:6", "#EXT-X-CUE-IN", "#EXT-X-CUE-OUT:12", seg(), seg(), seg()),
        [
            ("msn-1", 1, 1, 1, 6.0, True, "cue-out", 0.0, 0.0),
            ("msn-1", 1, 3, 1, 12.0, True, "cue-out", 0.0, 12.0),
        ],
        id="insertion-point-then-a-break",
    ),
    pytest.param(
        media(
            f"#EXT-OATCLS-SCTE35:{OUT_12}", seg(), f"#EXT-OATCLS-SCTE35:{OUT_12}", seg(), seg(),
            f"#EXT-OATCLS-SCTE35:{OUT_12}", seg(), seg(), seg(),
        ),
        [
            ("7", 0, 2, 0, 12.0, True, "oatcls", 0.0, 12.0),
            ("7", 3, 5, 3, 12.0, True, "oatcls", 0.0, 12.0),
        ],
        id="same-event-re-announced-within-and-after-its-duration",
    ),
    pytest.param(
        media(
            seg(), "#EXT-X-CUE-OUT:DURATION=abc", seg(), "#EXT-X-CUE-OUT-CONT:x/y", seg(),
            "#EXT-OATCLS-SCTE35:!!!", '#EXT-X-SCTE35:CUE="/DA",CUE-OUT=MAYBE', "#EXT-X-CUE-SPAN:PT",
            '#EXT-X-DATERANGE:ID="unterminated,SCTE35-OUT=0xZZ', "#EXT-X-CUE-IN:ID", seg(),
        ),
        [("msn-1", 1, 3, 1, None, True, "cue-out", 0.0, 12.0)],
        id="malformed-cues-are-read-as-far-as-they-go",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("playlist", "expected"), CASES)
def test_dialects(playlist: MediaPlaylist, expected: list[tuple[object, ...]]):
    assert summary(playlist) == expected


PDT = "2024-05-01T10:00:00.000Z"
AD_START_6 = cue(TIME_SIGNAL, segmentation(8, 0x30, 6), hex_text=True)


def daterange(ident: str, start: str, *attributes: str) -> str:
    """An EXT-X-DATERANGE on 2024-05-01; SCTE35-* payloads stay unquoted hex (BIS §4.4.5.1)."""
    return ",".join(
        (f'#EXT-X-DATERANGE:ID="{ident}",START-DATE="2024-05-01T{start}Z"', *attributes)
    )


DATERANGE_CASES = [
    pytest.param(
        media(
            seg(), seg(), seg(), seg(),
            daterange("b1", "10:00:06.000", "PLANNED-DURATION=12",
                      f"SCTE35-OUT={cue(splice_insert(3, True, 12), hex_text=True)}"),
            pdt=PDT,
        ),
        [("b1", 1, 3, 1, 12.0, True, "daterange", 0.0, 12.0)],
        id="placed-by-date-not-position",
    ),
    pytest.param(
        media(
            daterange("b2", "09:59:48.000", "DURATION=18.0", "SCTE35-OUT=0x00"),
            seg(), seg(), seg(), sequence=20, pdt=PDT,
        ),
        [("b2", 0, 1, 18, 18.0, True, "daterange", 12.0, 6.0)],
        id="window-opens-inside-a-date-range",
    ),
    pytest.param(
        media(
            daterange("gone", "09:59:00.000", "DURATION=30.0", "SCTE35-OUT=0x00"),
            seg(), seg(), pdt=PDT,
        ),
        [],
        id="over-before-the-window",
    ),
    pytest.param(
        media(
            seg(), daterange("p", "10:00:06", f"SCTE35-OUT={PROGRAM_START}"),
            seg(), pdt=PDT,
        ),
        [],
        id="program-start-is-no-break",
    ),
    pytest.param(
        media(
            seg(), daterange("c", "10:00:06", f"SCTE35-CMD={AD_START_6}"),
            seg(), seg(), pdt=PDT,
        ),
        [("c", 1, 2, 1, 6.0, True, "daterange", 0.0, 6.0)],
        id="scte35-cmd-carrying-an-avail",
    ),
    pytest.param(
        media(
            seg(), daterange("d", "10:00:06", "SCTE35-OUT=0x00"),
            "#EXT-X-CUE-OUT:12", seg(), seg(), "#EXT-X-CUE-IN", seg(), pdt=PDT,
        ),
        [("d", 1, 3, 1, 12.0, True, "daterange", 0.0, 12.0)],
        id="daterange-wins-over-cue-out",
    ),
    pytest.param(
        media(
            seg(), daterange("e", "10:00:06", "SCTE35-OUT=0x00"),
            seg(), seg(), '#EXT-X-DATERANGE:ID="e",SCTE35-IN=0x00', seg(),
        ),
        [("e", 1, 3, 1, None, True, "daterange", 0.0, 12.0)],
        id="without-dates-the-tags-mark-the-points",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("playlist", "expected"), DATERANGE_CASES)
def test_dateranges(playlist: MediaPlaylist, expected: list[tuple[object, ...]]):
    assert summary(playlist) == expected


def test_start_date_is_derived_from_the_nearest_program_date_time():
    playlist = media(seg(), seg(), "#EXT-X-CUE-OUT:6", seg(), seg(), pdt=PDT)
    (brk,) = detect_breaks(playlist)
    assert brk.start_date == "2024-05-01T10:00:12.000Z"


@pytest.mark.parametrize("pdt", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00"])
def test_dates_past_the_calendar_give_no_start_date(pdt: str):
    playlist = media("#EXT-X-CUE-OUT-CONT:ElapsedTime=1e300", seg(), seg(), pdt=pdt)
    (brk,) = detect_breaks(playlist)
    assert (brk.start_date, brk.start_msn, brk.elapsed_before_window) == (None, 0, 1e300)


def test_commands_other_than_splice_insert_and_time_signal_are_no_cues():
    null = cue(b"\x00")
    assert detect_breaks(media(seg(), f"#EXT-OATCLS-SCTE35:{null}", seg(), seg())) == []


def test_no_cues_no_breaks():
    assert detect_breaks(media(seg(), seg())) == []


def test_break_duration_is_the_signalled_one():
    brk = Break("x", 0, 0, 0, 5.0, 0.0, False, "cue-out", None, None)
    assert brk.duration == 5.0


# --- property: random cue soup ---------------------------------------------------------------

_TEXT = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f"), max_size=20
)
_NUM = st.one_of(
    st.floats(0, 200, allow_nan=False).map(lambda x: f"{x:.3f}"),
    st.sampled_from(["1e300", "1e999", "-1", "nan", "inf"]),
    _TEXT,
)
_B64 = st.one_of(
    st.sampled_from([OUT_30, IN_7, PO_START, PO_END, PROGRAM_START]),
    st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
    _TEXT,
)
_DATE = st.one_of(
    st.integers(-60, 120).map(lambda s: f"2024-05-01T10:{(s // 60) % 60:02d}:{s % 60:02d}Z"), _TEXT
)
_CUES = st.one_of(
    st.just("#EXT-X-CUE-OUT"),
    st.just("#EXT-X-CUE-IN"),
    st.just("#EXT-X-CUE-OUT-CONT"),
    _NUM.map(lambda d: f"#EXT-X-CUE-OUT:{d}"),
    _NUM.map(lambda d: f"#EXT-X-CUE-OUT:DURATION={d}"),
    st.tuples(_NUM, _NUM).map(lambda t: f"#EXT-X-CUE-OUT-CONT:ElapsedTime={t[0]},Duration={t[1]}"),
    st.tuples(_NUM, _NUM).map(lambda t: f"#EXT-X-CUE-OUT-CONT:{t[0]}/{t[1]}"),
    st.tuples(_NUM, _B64).map(lambda t: f"#EXT-X-CUE-OUT-CONT:ElapsedTime={t[0]},SCTE35={t[1]}"),
    _NUM.map(lambda d: f"#EXT-X-CUE-SPAN:TIMEFROMSIGNAL=PT{d}S,ID=1"),
    _B64.map(lambda c: f"#EXT-OATCLS-SCTE35:{c}"),
    _B64.map(lambda c: f"#EXT-X-SPLICEPOINT-SCTE35:{c}"),
    st.tuples(_B64, st.sampled_from(["CUE-OUT=YES", "CUE-IN=YES", "CUE-OUT=CONT", "X=1"])).map(
        lambda t: f'#EXT-X-SCTE35:CUE="{t[0]}",{t[1]}'
    ),
    st.tuples(st.sampled_from("abc"), _DATE, _NUM, st.sampled_from(["OUT", "IN", "CMD"]), _B64).map(
        lambda t: (
            f'#EXT-X-DATERANGE:ID="{t[0]}",START-DATE="{t[1]}",DURATION={t[2]},SCTE35-{t[3]}={t[4]}'
        )
    ),
    st.integers(0, 90).map(lambda s: f"#EXT-X-PROGRAM-DATE-TIME:2024-05-01T10:00:{s % 60:02d}Z"),
    st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00", "today"]).map(
        lambda d: f"#EXT-X-PROGRAM-DATE-TIME:{d}"
    ),
    _TEXT.map(lambda t: "#EXT-X-CUE-OUT:" + t),
)
_SEGMENT = st.tuples(st.lists(_CUES, max_size=3), st.floats(0, 10, allow_nan=False))


@given(
    segments=st.lists(_SEGMENT, max_size=12),
    tail=st.lists(_CUES, max_size=2),
    sequence=st.integers(0, 1000),
    endlist=st.booleans(),
)
def test_random_cues_never_raise_and_breaks_never_overlap(segments, tail, sequence, endlist):
    lines = [line for tags, duration in segments for line in (*tags, seg(duration))]
    if endlist:
        tail = [*tail, "#EXT-X-ENDLIST"]
    playlist = media(*lines, *tail, sequence=sequence)
    breaks = detect_breaks(playlist)
    count = len(playlist.segments)
    previous_end = 0
    for brk in breaks:
        assert 0 <= brk.start_index <= brk.end_index <= count
        assert brk.start_index >= previous_end
        previous_end = brk.end_index
        assert brk.elapsed_before_window >= 0
        assert brk.start_msn >= 0
        assert brk.elapsed_before_window == 0 or brk.start_index == 0
        if brk.elapsed_before_window == 0:
            assert brk.start_msn == playlist.msn(brk.start_index)
        assert covered_duration(playlist, brk) >= 0
