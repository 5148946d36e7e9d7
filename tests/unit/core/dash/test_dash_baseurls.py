"""BaseURL rewriting: every Representation's media resolves to the same place (re-rooted on the
segment base for the origin's own URLs), whatever MPD URL it is read from afterwards; the
BaseURLs are written once, as high as they are shared."""

from collections import Counter
from pathlib import Path
from urllib.parse import urljoin

import pytest
from hypothesis import given, settings, strategies as st

from edge_assembler.core.dash import Mpd, parse, render
from edge_assembler.core.dash.edits import baseurls
from edge_assembler.core.dash.invariants import check
from edge_assembler.core.dash.timeline import representation_base_urls
from edge_assembler.core.edits.uris import Rebase, ResolveUris, SegmentBase
from tests.dash_support import assert_mpegdash_agrees, schema_errors

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "dash"
GOLDEN = Path(__file__).resolve().parents[3] / "golden" / "dash" / "tracks"
FFMPEG = (GOLDEN / "ffmpeg-prefer-fr" / "input.mpd").read_bytes()
NS = "urn:mpeg:dash:schema:mpd:2011"
ORIGIN = "https://origin.example.com/vod/show/manifest.mpd"
ELSEWHERE = "https://edge.example.net/other/place.mpd"


def document(
    mpd_level: str = "", period_level: str = "", rep_level: str = "", extra: str = ""
) -> Mpd:
    return parse(
        f'<MPD xmlns="{NS}" type="static" mediaPresentationDuration="PT4S" minBufferTime="PT2S">'
        f'{extra}{mpd_level}<Period duration="PT4S">{period_level}'
        '<AdaptationSet id="1" contentType="video" mimeType="video/mp4">'
        '<SegmentTemplate timescale="1" duration="2" media="$Number$.m4s" initialization="i.mp4"/>'
        f'<Representation id="v" bandwidth="1" codecs="avc1.4d401e">{rep_level}</Representation>'
        "</AdaptationSet></Period></MPD>".encode()
    )


def bases(mpd: Mpd, document_url: str) -> list[list[str]]:
    """Every Representation's resolved BaseURLs (timeline's urljoin reading, independent of
    the edit's RFC 3986 resolver)."""
    return [
        representation_base_urls(document_url, mpd, r)
        for period in mpd.periods
        for r in period.representations()
    ]


def levels(mpd: Mpd) -> Counter[str]:
    """Where the BaseURLs are: how many at each level."""
    found: Counter[str] = Counter({"MPD": len(mpd.base_urls)})
    for period in mpd.periods:
        found["Period"] += len(period.base_urls)
        for a in period.adaptation_sets:
            found["AdaptationSet"] += len(a.base_urls)
            found["Representation"] += sum(len(r.base_urls) for r in a.representations)
    return +found


def assert_sound(before: Mpd, after: Mpd) -> None:
    out = render(after)
    result = parse(out)
    rules = Counter(p.split(":", 1)[0] for p in check(result))
    assert not rules - Counter(p.split(":", 1)[0] for p in check(before))
    if not schema_errors(render(before)):
        assert schema_errors(out) == []
    assert_mpegdash_agrees(out)


SEGMENT_BASE = [
    # (mpd, base, resolved BaseURLs after (read from anywhere), BaseURLs per level)
    (document(), "https://cdn.example.com", [["https://cdn.example.com/vod/show/"]], {"MPD": 1}),
    (
        document(period_level="<BaseURL>../media/</BaseURL>", rep_level="<BaseURL>v/</BaseURL>"),
        "https://cdn.example.com/prefix/",
        [["https://cdn.example.com/prefix/vod/media/v/"]],
        {"MPD": 1},
    ),
    (  # another host stays where it is: nothing to do
        document(mpd_level="<BaseURL>https://ads.example.org/a/</BaseURL>",
                 period_level="<BaseURL>b/</BaseURL>"),
        "https://cdn.example.com",
        [["https://ads.example.org/a/b/"]],
        {"MPD": 1, "Period": 1},
    ),
    (  # alternatives keep their attributes
        document(mpd_level='<BaseURL serviceLocation="x">a/</BaseURL>'
                           '<BaseURL serviceLocation="y">https://other.example.org/b/</BaseURL>'),
        "https://cdn.example.com",
        [["https://cdn.example.com/vod/show/a/", "https://other.example.org/b/"]],
        {"MPD": 2},
    ),
    (  # the query of the MPD URL is not part of the media URLs (RFC 3986 §5.2.2)
        document(rep_level="<BaseURL>v.mp4?x=1</BaseURL>"),
        "https://cdn.example.com",
        [["https://cdn.example.com/vod/show/v.mp4?x=1"]],
        {"MPD": 1},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("mpd", "base", "expected", "where"), SEGMENT_BASE)
def test_segment_base(mpd, base, expected, where):
    out = parse(
        render(baseurls.apply_segment_base(mpd, SegmentBase(playlist_url=ORIGIN, base=base)))
    )
    assert bases(out, ELSEWHERE) == expected
    assert levels(out) == where
    assert_sound(mpd, out)


def test_segment_base_moves_absolute_templates_on_the_origin():
    mpd = parse(FFMPEG.replace(b'media="chunk', b'media="https://origin.example.com/x/chunk'))
    edit = SegmentBase(playlist_url=ORIGIN, base="https://cdn.example.com")
    out = baseurls.apply_segment_base(mpd, edit)
    media = out.periods[0].adaptation_sets[0].representations[0].segment_info.media
    assert media == "https://cdn.example.com/x/chunk-$RepresentationID$-$Number%05d$.m4s"


def test_periods_that_differ_get_their_own_baseurls():
    data = (CORPUS / "dashmpdrs__mediatailor-avod-multiperiod-scte35-xmlbin.mpd").read_bytes()
    mpd = parse(data)
    url = "https://demo.unified-streaming.com/k8s/avod/manifest.mpd"
    out = baseurls.apply_segment_base(
        mpd, SegmentBase(playlist_url=url, base="https://cdn.example.com")
    )
    assert levels(out) == {"Period": 16}
    rebase = Rebase(url, "https://cdn.example.com")
    assert bases(out, ELSEWHERE) == [[rebase(u) or u for u in b] for b in bases(mpd, url)]


def test_nothing_to_move_is_the_identity():
    mpd = document(mpd_level="<BaseURL>https://ads.example.org/a/</BaseURL>")
    edit = SegmentBase(playlist_url=ORIGIN, base="https://cdn.example.com")
    assert baseurls.apply_segment_base(mpd, edit) is mpd
    once = parse(render(baseurls.apply_segment_base(parse(FFMPEG), edit)))
    assert baseurls.apply_segment_base(once, edit) is once


def test_resolve_uris_makes_media_and_locations_absolute():
    mpd = document(extra="<Location>next.mpd</Location>", period_level="<BaseURL>p/</BaseURL>")
    out = baseurls.apply_resolve_uris(mpd, ResolveUris(playlist_url=ORIGIN))
    assert bases(out, ELSEWHERE) == [["https://origin.example.com/vod/show/p/"]]
    location = out.root.find(f"{{{NS}}}Location")
    assert location is not None
    assert location.text == "https://origin.example.com/vod/show/next.mpd"
    assert (
        baseurls.apply_resolve_uris(parse(render(out)), ResolveUris(playlist_url=ORIGIN)) is not out
    )


# -- properties ---------------------------------------------------------------------------

NAMES = sorted(
    p.name
    for p in CORPUS.glob("*.mpd")
    if p.name
    not in {  # no Representations, or an open live end the model cannot list
        "iso-dashschema__G11-xlink-remote-ad-period-assetidentifier.mpd",
    }
)
PLAYLISTS = st.sampled_from([
    ORIGIN,
    "http://video.com/live/manifest.mpd",
    "https://demo.unified-streaming.com/k8s/avod/manifest.mpd",
    "https://dash.edgesuite.net/dash264/TestCases/x.mpd?token=1",
])  # fmt: skip
BASES = st.sampled_from(["https://cdn.example.com", "https://cdn.example.com/p/q"])


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(["ffmpeg", *NAMES]), playlist=PLAYLISTS, base=BASES, resolve=st.booleans()
)
def test_rewrites_keep_every_media_url(name, playlist, base, resolve):
    data = FFMPEG if name == "ffmpeg" else (CORPUS / name).read_bytes()
    mpd = parse(data)
    if resolve:
        out = baseurls.apply_resolve_uris(mpd, ResolveUris(playlist_url=playlist))
        expected = bases(mpd, playlist)
    else:
        out = baseurls.apply_segment_base(mpd, SegmentBase(playlist_url=playlist, base=base))
        rebase = Rebase(playlist, base)
        expected = [[rebase(u) or u for u in b] for b in bases(mpd, playlist)]
    if out is mpd:
        return
    result = parse(render(out))
    assert_sound(mpd, result)
    assert targets(bases(result, ELSEWHERE)) == targets(expected)


def targets(found: list[list[str]]) -> list[list[str]]:
    """Where a relative media reference lands from each base (a base and its directory
    are the same base for it)."""
    return [sorted({urljoin(url, "seg.m4s") for url in alternatives}) for alternatives in found]
