"""Every HLS file of the shared corpus round-trips byte for byte or is refused with a
ManifestError naming a line; nothing else may escape the parser."""

from pathlib import Path

import pytest

from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls import MediaPlaylist, MultivariantPlaylist, parse, render
from tests.hls_support import assert_m3u8_agrees

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "hls"
FILES = sorted(CORPUS.glob("*.m3u8"))

# Refused on purpose (RFC 8216 §4.3.1.1, §4.3.3.1, §4.3.4.2): fragments and broken fixtures.
REFUSED = {
    "m3u8parser__ext-x-start.m3u8": (1, "does not start with #EXTM3U"),
    "mediatailor-docs__splicepoint-scte35-fragment.m3u8": (1, "does not start with #EXTM3U"),
    "m3u8py__daterange-scte35-out-in-rfc8216-example.m3u8": (2, "without #EXT-X-TARGETDURATION"),
    "m3u8py__ll-daterange-end-on-next-between-parts.m3u8": (6, "without #EXT-X-TARGETDURATION"),
    "m3u8py__llhls-byterange-parts-preload-hint.m3u8": (2, "without #EXT-X-TARGETDURATION"),
    "mamba__sap-spanish-audio-uri-attribute-on-stream-inf.m3u8": (6, "not followed by its URI"),
}


def test_the_corpus_is_there():
    assert len(FILES) >= 70, f"corpus not found at {CORPUS}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_round_trip_or_refusal(path: Path):
    data = path.read_bytes()
    if path.name in REFUSED:
        line, reason = REFUSED[path.name]
        with pytest.raises(ManifestError) as caught:
            parse(data)
        assert caught.value.line == line
        assert reason in caught.value.detail
        return
    playlist = parse(data)
    assert isinstance(playlist, MediaPlaylist | MultivariantPlaylist)
    assert render(playlist) == data


# Where the m3u8 library reads these differently from RFC 8216, our reading is checked
# by our own tests instead.
M3U8_DIFFERS = {
    # A trailing #EXTINF with no URI yet: m3u8 counts a URI-less segment.
    "grafov__live-usp-bare-cue-out-cue-in.m3u8",
    # LL-HLS: m3u8 6 counts the parent of trailing EXT-X-PARTs, or ignores EXT-X-SKIP.
    "exoplayer__llhls-segments-and-parts.m3u8",
    "m3u8parser__llhls-delta-skip-recently-removed-dateranges.m3u8",
    "m3u8parser__llhls-gap-part-independent.m3u8",
    "m3u8py__llhls-delta-update-skip.m3u8",
    "m3u8py__llhls-parts-preload-rendition-reports.m3u8",
}


@pytest.mark.parametrize(
    "path",
    [p for p in FILES if p.name not in REFUSED and p.name not in M3U8_DIFFERS],
    ids=lambda p: p.name,
)
def test_m3u8_library_agrees_on_the_corpus(path: Path):
    assert_m3u8_agrees(path.read_bytes())
