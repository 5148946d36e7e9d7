"""Hypothesis strategies for HLS playlists: valid-looking ones with the quirks real
origins produce (CRLF, BOM, comments, unknown tags, spaces in attribute lists), and
mutations of them (mitmproxy's fuzzing idea: cut a slice, splice in random bytes)."""

from hypothesis import strategies as st

DURATIONS = st.one_of(
    st.integers(1, 12).map(str),
    st.floats(0.1, 12, allow_nan=False).map(lambda d: f"{d:.6f}"),
    st.floats(0.1, 12, allow_nan=False).map(lambda d: f"{d:.3f}"),
)
URIS = st.from_regex(r"[a-z0-9_/]{1,12}\.(ts|m4s|aac|vtt)(\?t=[0-9]{1,4})?", fullmatch=True)
SEGMENT_EXTRAS = st.sampled_from(
    [
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-CUE-OUT:DURATION=30",
        "#EXT-X-CUE-OUT-CONT:ElapsedTime=6,Duration=30",
        "#EXT-X-CUE-IN",
        '#EXT-X-KEY:METHOD=AES-128,URI="key.bin"',
        "#EXT-X-KEY:METHOD=NONE",
        '#EXT-X-MAP:URI="init.mp4"',
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T10:00:00.000Z",
        "#EXT-X-BYTERANGE:1000@0",
        "#EXT-X-GAP",
        "#EXT-X-BITRATE:800",
        "#EXT-OATCLS-SCTE35:/DAlAAAAAAAAAP/wFAUAAAABf+/+AAAAAH4AKTLgAAEAAAAAAAA=",
        "#EXT-X-UNKNOWN-VENDOR-TAG:X=1",
        "# a comment",
        "",
    ]
)
HEADER_EXTRAS = st.sampled_from(
    [
        "#EXT-X-VERSION:3",
        "#EXT-X-MEDIA-SEQUENCE:42",
        "#EXT-X-DISCONTINUITY-SEQUENCE:3",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-START:TIME-OFFSET=10.5",
        "# header comment",
        "#EXT-X-ALLOW-CACHE:YES",
    ]
)


@st.composite
def segments(draw: st.DrawFn) -> list[str]:
    extras = draw(st.lists(SEGMENT_EXTRAS, max_size=3))
    title = draw(st.sampled_from(["", "no desc", "title, with comma"]))
    return [*extras, f"#EXTINF:{draw(DURATIONS)},{title}", draw(URIS)]


@st.composite
def media_playlists(draw: st.DrawFn) -> bytes:
    """A media playlist as bytes, with the quirks real origins send."""
    lines = ["#EXTM3U", f"#EXT-X-TARGETDURATION:{draw(st.integers(1, 12))}"]
    lines += draw(st.lists(HEADER_EXTRAS, max_size=4, unique=True))
    for segment in draw(st.lists(segments(), max_size=12)):
        lines += segment
    lines += draw(st.lists(st.sampled_from(["#EXT-X-ENDLIST", "", "# trailing"]), max_size=2))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from([newline, ""]))
    return (draw(st.sampled_from(["", "\ufeff"])) + text).encode()


@st.composite
def multivariant_playlists(draw: st.DrawFn) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for lang in draw(st.lists(st.sampled_from(["en", "fr", "de", "es"]), unique=True, max_size=3)):
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud", NAME="{lang}",LANGUAGE="{lang}",'
            f'URI="audio_{lang}.m3u8"'
        )
    for i in range(draw(st.integers(1, 5))):
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={(i + 1) * 500000},"
            f'RESOLUTION={320 * (i + 1)}x{180 * (i + 1)},CODECS="avc1.4d401f,mp4a.40.2"'
        )
        if draw(st.booleans()):
            lines.append("# variant comment")
        lines.append(f"v{i}/index.m3u8")
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return (newline.join(lines) + newline).encode()


@st.composite
def mutations(draw: st.DrawFn, source: st.SearchStrategy[bytes]) -> bytes:
    """Cut a random slice out of a playlist and splice random bytes in."""
    data = draw(source)
    if not data:
        return data
    start = draw(st.integers(0, len(data)))
    end = draw(st.integers(start, min(len(data), start + 40)))
    noise = draw(
        st.binary(max_size=12) | st.sampled_from([b"\n", b"#EXT", b",", b'"', b"=", b"\r"])
    )
    return data[:start] + noise + data[end:]
