"""The invariant checks: one table of playlists per rule (the exact message, so the place
it names is checked too), one of reload pairs, and the corpus, whose known
non-conformances are documented in ``CORPUS_VIOLATIONS``."""

from pathlib import Path

import pytest

from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls import MediaPlaylist, Segment, parse
from edge_assembler.core.hls.invariants import check, check_reload
from edge_assembler.core.hls.lines import tag

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "hls"
H = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:6\n"
PDT = "#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:00Z\n"
START = 'START-DATE="2025-01-01T00:00:10Z"'


def media(text: str) -> MediaPlaylist:
    playlist = parse(text.encode())
    assert isinstance(playlist, MediaPlaylist)
    return playlist


FINE = [
    pytest.param(H + "#EXTINF:6,\na.ts\n#EXT-X-ENDLIST\n", id="vod"),
    pytest.param(
        H + "#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n#EXTINF:6,\na.ts\n"
        "#EXT-X-DISCONTINUITY\n#EXTINF:6,\nb.ts\n",
        id="live-with-discontinuity",
    ),
    pytest.param(H + "#EXTINF:6.49,\na.ts\n", id="rounds-to-target"),
    pytest.param("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n", id="version-1"),
    pytest.param(
        "#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:6\n#EXT-X-I-FRAMES-ONLY\n"
        '#EXT-X-MAP:URI="i.mp4"\n#EXT-X-BYTERANGE:100@0\n#EXTINF:6.0,\na.mp4\n',
        id="map-in-i-frames-needs-5",
    ),
    pytest.param(
        H + '#EXTINF:6,\na.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="ad.mp4"\n#EXTINF:6,\nad.mp4\n',
        id="ts-then-fmp4-across-a-discontinuity",
    ),
    pytest.param(
        H + '#EXT-X-MAP:URI="i.mp4"\n#EXTINF:6,\na.mp4\n#EXT-X-DISCONTINUITY\n'
        '#EXT-X-MAP:URI="ad.mp4"\n#EXTINF:6,\nad.mp4\n#EXT-X-DISCONTINUITY\n'
        '#EXT-X-MAP:URI="i.mp4"\n#EXTINF:6,\nb.mp4\n',
        id="map-restated-at-both-seams",
    ),
    pytest.param(
        H + '#EXT-X-KEY:METHOD=AES-128,URI="k"\n#EXTINF:6,\na.ts\n#EXT-X-KEY:METHOD=NONE\n'
        "#EXTINF:6,\nb.ts\n",
        id="keys",
    ),
    pytest.param(
        H + PDT + '#EXT-X-DATERANGE:ID="s",START-DATE="2025-01-01T00:00:00.000Z",'
        'END-DATE="2025-01-01T00:00:30.000Z",DURATION=30.0\n#EXTINF:6,\na.ts\n'
        '#EXT-X-DATERANGE:ID="s",START-DATE="2025-01-01T00:00:00.000Z",SCTE35-IN=0xFC\n',
        id="date-range-completed-by-a-later-tag",
    ),
    pytest.param(
        H + "#EXT-X-PART-INF:PART-TARGET=1\n#EXTINF:6,\na.ts\n"
        '#EXT-X-PART:DURATION=1,URI="p.ts"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="q.ts"\n',
        id="low-latency",
    ),
]


@pytest.mark.parametrize("text", FINE)
def test_conformant_playlists_pass(text):
    assert check(media(text)) == []


VIOLATIONS = [
    pytest.param(
        "\ufeff" + H + "#EXTINF:6,\na.ts\n",
        ["SPEC_RULES 1: line 1 (header): byte-order mark before #EXTM3U"],
        id="1-bom",
    ),
    pytest.param(
        "\n" + H + "#EXTINF:6,\na.ts\n",
        ["SPEC_RULES 1: line 1 (header): the first line is not #EXTM3U"],
        id="1-blank-first-line",
    ),
    pytest.param(
        "#EXTM3U\n#EXT-X-VERSION:2\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n#EXTINF:5.5,\nb.ts\n",
        ["SPEC_RULES 5: line 6 (segment 1 'b.ts'): decimal EXTINF needs EXT-X-VERSION 3, not 2"],
        id="5-decimal-extinf",
    ),
    pytest.param(
        '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-KEY:METHOD=AES-128,URI="k",IV=0x01\n'
        "#EXTINF:6,\na.ts\n",
        ["SPEC_RULES 5: line 3 (segment 0 'a.ts'): #EXT-X-KEY needs EXT-X-VERSION 2, not 1"],
        id="5-iv-without-version",
    ),
    pytest.param(
        '#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:6\n#EXT-X-MAP:URI="i.mp4"\n'
        "#EXTINF:6.0,\na.mp4\n",
        ["SPEC_RULES 5: line 4 (segment 0 'a.mp4'): #EXT-X-MAP needs EXT-X-VERSION 6, not 5"],
        id="5-map",
    ),
    pytest.param(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n"
        '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://k",KEYFORMAT="com.apple.streamingkeydelivery"\n'
        "#EXT-X-BYTERANGE:100@0\n#EXTINF:6.0,\na.ts\n#EXT-X-BYTERANGE:100\n#EXTINF:6.0,\na.ts\n",
        [
            "SPEC_RULES 5: line 4 (segment 0 'a.ts'): #EXT-X-KEY needs EXT-X-VERSION 5, not 3",
            "SPEC_RULES 5: line 5 (segment 0 'a.ts'): #EXT-X-BYTERANGE needs EXT-X-VERSION 4, "
            "not 3",
        ],
        id="5-keyformat-and-byterange-once-each",
    ),
    pytest.param(
        '#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:6\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI="k"\n'
        "#EXTINF:6.0,\na.ts\n",
        ["SPEC_RULES 5: line 4 (segment 0 'a.ts'): #EXT-X-KEY needs EXT-X-VERSION 5, not 4"],
        id="5-sample-aes",
    ),
    pytest.param(
        '#EXTM3U\n#EXT-X-VERSION:8\n#EXT-X-TARGETDURATION:6\n#EXT-X-DEFINE:QUERYPARAM="t"\n'
        "#EXTINF:6.0,\na.ts?t={$t}\n",
        ["SPEC_RULES 5: line 4 (header): #EXT-X-DEFINE needs EXT-X-VERSION 11, not 8"],
        id="5-queryparam",
    ),
    pytest.param(
        H + "#EXTINF:6,\na.ts\n#EXT-X-MEDIA-SEQUENCE:3\n#EXTINF:6,\nb.ts\n",
        ["SPEC_RULES 8: line 6 (segment 1 'b.ts'): #EXT-X-MEDIA-SEQUENCE after the first segment"],
        id="8-media-sequence-late",
    ),
    pytest.param(
        H + "#EXT-X-DISCONTINUITY\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n#EXTINF:6,\na.ts\n",
        [
            "SPEC_RULES 8: line 5 (segment 0 'a.ts'): #EXT-X-DISCONTINUITY-SEQUENCE after a "
            "DISCONTINUITY"
        ],
        id="8-discontinuity-sequence-late",
    ),
    pytest.param(
        H + "#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:6,\na.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:6,\nb.ts\n",
        ["SPEC_RULES 11: line 7 (segment 1 'b.ts'): no #EXT-X-DISCONTINUITY-SEQUENCE"],
        id="11-live-without-discontinuity-sequence",
    ),
    pytest.param(
        H + "#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:6,\na.ts\n",
        ["SPEC_RULES 15: playlist: PLAYLIST-TYPE:VOD without EXT-X-ENDLIST"],
        id="15-vod-without-endlist",
    ),
    pytest.param(
        H + "#EXTINF:6.49,\na.ts\n#EXTINF:6.5,\nb.ts\n#EXTINF:7,\nc.ts\n",
        [
            "SPEC_RULES 17: line 6 (segment 1 'b.ts'): EXTINF 6.5 rounds above "
            "EXT-X-TARGETDURATION 6 (and 1 later segments)"
        ],
        id="17-rounded-from-version-6",
    ),
    pytest.param(
        "#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\na.ts\n"
        "#EXTINF:6.001,\nb.ts\n",
        ["SPEC_RULES 17: line 6 (segment 1 'b.ts'): EXTINF 6.001 exceeds EXT-X-TARGETDURATION 6"],
        id="17-raw-before-version-6",
    ),
    pytest.param(
        "#EXTM3U\n#EXT-X-TARGETDURATION:0\n",
        ["SPEC_RULES 17: playlist: EXT-X-TARGETDURATION 0 is below 1"],
        id="17-target-zero",
    ),
    pytest.param(
        H + '#EXT-X-MAP:URI="i.mp4"\n#EXTINF:6,\na.mp4\n#EXT-X-DISCONTINUITY\n#EXTINF:6,\nad.mp4\n',
        [
            "SPEC_RULES 23: line 7 (segment 1 'ad.mp4'): no EXT-X-MAP stated after this "
            "DISCONTINUITY"
        ],
        id="23-map-not-restated",
    ),
    pytest.param(
        H + '#EXTINF:6,\na.mp4\n#EXT-X-MAP:URI="i.mp4"\n#EXTINF:6,\nb.mp4\n',
        [
            "SPEC_RULES 23: line 6 (segment 1 'b.mp4'): the 1 segment(s) before the first "
            "EXT-X-MAP are in no MAP's scope and no DISCONTINUITY separates them"
        ],
        id="23-window-lost-its-map",
    ),
    pytest.param(
        H + '#EXT-X-KEY:METHOD=NONE,URI="k"\n#EXTINF:6,\na.ts\n#EXT-X-KEY:METHOD=AES-128\n'
        '#EXTINF:6,\nb.ts\n#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="k",IV=0x01\n#EXTINF:6,\nc.ts\n'
        '#EXT-X-KEY:URI="k"\n#EXTINF:6,\nd.ts\n',
        [
            "SPEC_RULES 25: line 4 (segment 0 'a.ts'): METHOD=NONE with URI",
            "SPEC_RULES 25: line 7 (segment 1 'b.ts'): METHOD=AES-128 without URI",
            "SPEC_RULES 25: line 10 (segment 2 'c.ts'): METHOD=SAMPLE-AES-CTR with IV",
            "SPEC_RULES 25: line 13 (segment 3 'd.ts'): EXT-X-KEY without a readable METHOD",
        ],
        id="25-keys",
    ),
    pytest.param(
        H + '#EXT-X-KEY:METHOD=AES-128,URI="k\n#EXTINF:6,\na.ts\n',
        ["SPEC_RULES 25: line 4 (segment 0 'a.ts'): EXT-X-KEY without a readable METHOD"],
        id="25-unreadable-key",
    ),
    pytest.param(
        H + f'#EXT-X-DATERANGE:ID="a",{START}\n#EXTINF:6,\na.ts\n',
        [
            "SPEC_RULES 34: line 4 (segment 0 'a.ts'): EXT-X-DATERANGE in a playlist without "
            "PROGRAM-DATE-TIME"
        ],
        id="34-date-range-without-dates",
    ),
    pytest.param(
        H + PDT + f"#EXTINF:6,\na.ts\n#EXT-X-DATERANGE:{START}\n"
        '#EXT-X-DATERANGE:ID="b",DURATION=5\n'
        f'#EXT-X-DATERANGE:ID="c",{START},END-DATE="2025-01-01T00:00:05Z"\n'
        f'#EXT-X-DATERANGE:ID="d",{START},END-DATE="2025-01-01T00:00:20Z",DURATION=5\n'
        f'#EXT-X-DATERANGE:ID="e",{START},PLANNED-DURATION=-1\n'
        f'#EXT-X-DATERANGE:ID="f",START-DATE="yesterday",END-DATE="2025-01-01T00:00:20Z"\n',
        [
            "SPEC_RULES 36: line 7 (after the last segment): EXT-X-DATERANGE without a readable ID",
            "SPEC_RULES 36: line 8 (after the last segment): first EXT-X-DATERANGE 'b' without "
            "START-DATE",
            "SPEC_RULES 36: line 9 (after the last segment): END-DATE before START-DATE",
            "SPEC_RULES 36: line 10 (after the last segment): END-DATE is not START-DATE + "
            "DURATION",
            "SPEC_RULES 36: line 11 (after the last segment): PLANNED-DURATION=-1 is negative or "
            "not a number",
            "SPEC_RULES 36: line 12 (after the last segment): not an ISO 8601 date: 'yesterday'",
        ],
        id="36-date-ranges",
    ),
    pytest.param(
        H + PDT + f'#EXT-X-DATERANGE:ID="f",{START},CLASS="x"\n#EXTINF:6,\na.ts\n'
        '#EXT-X-DATERANGE:ID="f",CLASS="y",DURATION=3\n',
        ["SPEC_RULES 37: line 8 (after the last segment): 'f' changes CLASS"],
        id="37-same-id-other-value",
    ),
    pytest.param(
        H + PDT + f'#EXT-X-DATERANGE:ID="g",{START},CUE="PRE,POST"\n#EXTINF:6,\na.ts\n',
        ["SPEC_RULES 42: line 5 (segment 0 'a.ts'): CUE with both PRE and POST"],
        id="42-pre-and-post",
    ),
    pytest.param(
        H + PDT + f'#EXT-X-DATERANGE:ID="h",{START},CLASS="com.apple.hls.interstitial",'
        'X-ASSET-URI="https://a/x.m3u8",X-ASSET-LIST="l.json"\n#EXTINF:6,\na.ts\n'
        f'#EXT-X-DATERANGE:ID="i",{START},CLASS="com.apple.hls.interstitial"\n',
        [
            "SPEC_RULES 46: line 5 (segment 0 'a.ts'): an interstitial needs exactly one of "
            "X-ASSET-URI and X-ASSET-LIST",
            "SPEC_RULES 46: line 8 (after the last segment): an interstitial needs exactly one "
            "of X-ASSET-URI and X-ASSET-LIST",
        ],
        id="46-interstitial-assets",
    ),
    pytest.param(
        H + '#EXTINF:6,\na.ts\n#EXT-X-PART:DURATION=1,URI="p.ts"\n',
        ["SPEC_RULES 52: line 6 (after the last segment): EXT-X-PART without EXT-X-PART-INF"],
        id="52-part-without-part-inf",
    ),
    pytest.param(
        H + "#EXT-X-PART-INF:PART-TARGET=1\n#EXTINF:6,\na.ts\n",
        ["SPEC_RULES 52: line 4 (header): EXT-X-PART-INF without any EXT-X-PART"],
        id="52-part-inf-without-part",
    ),
    pytest.param(
        H + "#EXT-X-PART-INF:PART-TARGET=1\n#EXTINF:6,\na.ts\n"
        '#EXT-X-PART:DURATION=1,URI="p.ts"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="q.ts"\n'
        "#EXT-X-ENDLIST\n",
        [
            "SPEC_RULES 57: line 8 (after the last segment): EXT-X-PRELOAD-HINT in a playlist "
            "with EXT-X-ENDLIST"
        ],
        id="57-preload-hint-after-endlist",
    ),
]


@pytest.mark.parametrize(("text", "messages"), VIOLATIONS)
def test_violations_name_the_rule_and_the_line(text, messages):
    assert check(media(text)) == messages


def test_lines_are_counted_in_the_rendered_playlist():
    """An edited segment has no source line number: the message counts output lines."""
    playlist = media(H + "#EXTINF:6,\na.ts\n#EXTINF:6,\nb.ts\n")
    long = Segment.of((tag("EXT-X-BITRATE", "90"), "#EXTINF:9,", "b.ts"))
    edited = playlist.evolve(segments=(playlist.segments[0], long))
    assert check(edited) == [
        "SPEC_RULES 17: line 7 (segment 1 'b.ts'): EXTINF 9 rounds above EXT-X-TARGETDURATION 6"
    ]


def test_a_number_changed_without_its_line_is_caught():
    playlist = media(H + "#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:6,\na.ts\n")
    assert check(playlist.evolve(media_sequence=9, discontinuity_sequence=1)) == [
        "SPEC_RULES 8: line 4 (header): #EXT-X-MEDIA-SEQUENCE states 7 but the model's number is 9",
        "SPEC_RULES 8: playlist: #EXT-X-DISCONTINUITY-SEQUENCE states 0 but the model's number "
        "is 1",
    ]


# -- reloads -------------------------------------------------------------------------------


def window(
    first: int, uris: str, *, dsn: int | None = None, head: str = "", tail: str = ""
) -> MediaPlaylist:
    """A live window: ``uris`` like "a !b c:5" (! marks a discontinuity, :5 a duration)."""
    lines = [H + f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    if dsn is not None:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{dsn}")
    lines += [head] if head else []
    for word in uris.split():
        uri, _, duration = word.lstrip("!").partition(":")
        lines += ["#EXT-X-DISCONTINUITY"] if word.startswith("!") else []
        lines += [f"#EXTINF:{duration or 6},", uri]
    return media("\n".join(lines) + "\n" + tail)


EVENT = "#EXT-X-PLAYLIST-TYPE:EVENT"
RELOADS = [
    pytest.param(window(10, "a b c"), window(11, "b c d"), [], id="slide"),
    pytest.param(window(10, "a b c"), window(10, "a b c"), [], id="unchanged"),
    pytest.param(window(10, "a !b c", dsn=0), window(12, "c !d e", dsn=1), [], id="dsn-bumped"),
    pytest.param(
        window(10, "a b", head=EVENT), window(10, "a b c", head=EVENT), [], id="event-grows"
    ),
    pytest.param(window(10, "s s c"), window(11, "s c s"), [], id="repeated-slate-not-compared"),
    pytest.param(
        window(11, "b c d"),
        window(10, "a b c"),
        [
            "SPEC_RULES 9: playlist: MEDIA-SEQUENCE went back from 11",
            "SPEC_RULES 13: playlist: segments after MSN 12 were removed",
        ],
        id="media-sequence-back",
    ),
    pytest.param(
        window(10, "a b c"),
        window(12, "b c d"),
        [
            "SPEC_RULES 9: line 5 (segment 0 'b'): MSN 12, it was 11 (and 1 later segments)",
            "SPEC_RULES 13: line 5 (segment 0 'b'): MSN 12 was 'c' (6 s)",
        ],
        id="renumbered",
    ),
    pytest.param(
        window(10, "a !b c", dsn=0),
        window(12, "c d e", dsn=0),
        ["SPEC_RULES 10: line 6 (segment 0 'c'): discontinuity sequence number 0, it was 1"],
        id="dsn-not-bumped",
    ),
    pytest.param(
        window(10, "a b", dsn=3),
        window(11, "b c", dsn=2),
        [
            "SPEC_RULES 10: playlist: DISCONTINUITY-SEQUENCE went back from 3",
            "SPEC_RULES 10: line 6 (segment 0 'b'): discontinuity sequence number 2, it was 3",
        ],
        id="dsn-back",
    ),
    pytest.param(
        window(10, "a b c"),
        window(11, "b z d"),
        ["SPEC_RULES 13: line 7 (segment 1 'z'): MSN 12 was 'c' (6 s)"],
        id="segment-rewritten",
    ),
    pytest.param(
        window(10, "a b c"),
        window(11, "b c:5 d"),
        ["SPEC_RULES 13: line 7 (segment 1 'c'): MSN 12 was 'c' (6 s)"],
        id="duration-rewritten",
    ),
    pytest.param(
        window(10, "a b c"),
        window(11, "b"),
        ["SPEC_RULES 13: playlist: segments after MSN 11 were removed"],
        id="end-removed",
    ),
    pytest.param(
        window(10, "a b", tail="#EXT-X-ENDLIST\n"),
        window(10, "a b"),
        ["SPEC_RULES 13: playlist: EXT-X-ENDLIST was removed"],
        id="endlist-removed",
    ),
    pytest.param(
        window(10, "a b", head=EVENT),
        window(11, "b c", head=EVENT),
        ["SPEC_RULES 15: playlist: PLAYLIST-TYPE:EVENT playlist removed segments"],
        id="event-slides",
    ),
    pytest.param(
        window(10, "a b"),
        window(11, "b c").evolve(target_duration=7),
        ["SPEC_RULES 18: playlist: EXT-X-TARGETDURATION changed from 6"],
        id="target-duration-changed",
    ),
]


@pytest.mark.parametrize(("previous", "current", "messages"), RELOADS)
def test_reloads(previous, current, messages):
    assert check_reload(previous, current) == messages


def test_a_delta_update_is_compared_by_msn_only():
    full = window(10, "a !b c d", dsn=0)
    delta = media(
        H.replace("VERSION:6", "VERSION:9") + "#EXT-X-MEDIA-SEQUENCE:10\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n"
        "#EXTINF:6,\nc\n#EXTINF:6,\nd\n#EXTINF:6,\ne\n"
    )
    assert check(delta) == []
    assert check_reload(full, delta) == []


# -- the corpus ----------------------------------------------------------------------------

# Which corpus media playlists break which rules (many on purpose: they are fixtures of
# real-world quirks). Every other parseable media playlist of the corpus passes.
CORPUS_VIOLATIONS = {
    # Delta update (EXT-X-SKIP) declared as version 3.
    "exoplayer__llhls-delta-skipped-block-reload.m3u8": {5},
    # SCTE-35 DATERANGE in a VOD playlist without any PROGRAM-DATE-TIME.
    "hlssplice__vod-daterange-splice-insert-zero-duration.m3u8": {34},
    # Clear lead, then a DISCONTINUITY into encrypted segments without re-stating the MAP.
    "hlsvodtolive__shaka-packager-clear-lead-discontinuity-cenc-key.m3u8": {23},
    # TARGETDURATION 3 with 10 s segments (SPEC_RULES 17 cites it).
    "hlsvodtolive__usp-cmaf-interstitial-targetduration-violation.m3u8": {17},
    # RECENTLY-REMOVED-DATERANGES (a v2 skip) in a version 9 playlist.
    "m3u8parser__llhls-delta-skip-recently-removed-dateranges.m3u8": {5},
    # MEDIA-SEQUENCE 50116 and a DISCONTINUITY, but no DISCONTINUITY-SEQUENCE.
    "m3u8py__live-discontinuity-with-pdt-jump.m3u8": {11},
    # Date ranges without PDT (SPEC_RULES 34 cites it) and without START-DATE.
    "m3u8py__llhls-delta-update-skip-dateranges-v2.m3u8": {34, 36},
    # PLAYLIST-TYPE:VOD without EXT-X-ENDLIST.
    "m3u8py__vod-multiple-map-with-key.m3u8": {15},
    # SAMPLE-AES with KEYFORMAT and an EXT-X-MAP in a version 4 playlist.
    "mamba__linear-ad-insertion-content-live-window.m3u8": {5},
}


def corpus_media_playlists() -> dict[str, MediaPlaylist]:
    out = {}
    for path in sorted(CORPUS.glob("*.m3u8")):
        try:
            playlist = parse(path.read_bytes())
        except ManifestError:
            continue  # refused by the parser: see test_corpus.py
        if isinstance(playlist, MediaPlaylist):
            out[path.name] = playlist
    return out


def test_corpus_violations_are_the_documented_ones():
    playlists = corpus_media_playlists()
    assert len(playlists) >= 40, f"corpus not found at {CORPUS}"
    found = {}
    for name, playlist in playlists.items():
        rules = {
            int(message.split(":")[0].removeprefix("SPEC_RULES ")) for message in check(playlist)
        }
        if rules:
            found[name] = rules
    assert found == CORPUS_VIOLATIONS
