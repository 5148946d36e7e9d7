"""URI rewriting: resolution (RFC 3986 §5.2), ProxyChildUris, SegmentBase, ResolveUris."""

from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import m3u8
import msgspec
import pytest
from hypothesis import given, strategies as st

from edge_assembler.core.edits.uris import (
    ProxyChildUris,
    Rebase,
    Resolver,
    ResolveUris,
    SegmentBase,
    apply_proxy_child_uris,
    apply_resolve_uris,
    apply_segment_base,
    proxy_template,
    resolve,
    root_of,
    under,
)
from edge_assembler.core.hls import MediaPlaylist, MultivariantPlaylist, parse, render
from edge_assembler.core.hls.attributes import parse_attributes
from edge_assembler.core.hls.lines import classify, is_uri
from tests.hls_support import assert_m3u8_agrees

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "hls"
BIPBOP = "m3u8parser__apple-bipbop-fmp4-multivariant-groups-iframes-cc.m3u8"
STEERING = "m3u8py__content-steering-pathways.m3u8"
KALTURA = "hlsvodtolive__usp-kaltura-multiaudio-subs-quirks.m3u8"
ORIGIN = "https://origin.example.com/live/ch1/master.m3u8"


def readable(path: Path) -> bool:
    try:
        parse(path.read_bytes())
    except Exception:
        return False
    return True


PLAYLISTS = {p.name: parse(p.read_bytes()) for p in sorted(CORPUS.glob("*.m3u8")) if readable(p)}
MEDIA = {name: p for name, p in PLAYLISTS.items() if isinstance(p, MediaPlaylist)}
MULTIVARIANTS = {n: p for n, p in PLAYLISTS.items() if isinstance(p, MultivariantPlaylist)}


def m3u8_reads_like_us(playlist: MediaPlaylist) -> bool:
    try:
        assert_m3u8_agrees(render(playlist))
    except AssertionError:
        return False
    return True


# Where the m3u8 library already disagrees on the corpus input (LL-HLS parts, a URI-less
# EXTINF), our own checks below still hold the output.
M3U8_READABLE = [name for name, p in MEDIA.items() if m3u8_reads_like_us(p)]


def multivariant(data: bytes) -> MultivariantPlaylist:
    playlist = parse(data)
    assert isinstance(playlist, MultivariantPlaylist)
    return playlist


URI_TAGS = {
    "EXT-X-KEY", "EXT-X-MAP", "EXT-X-PART", "EXT-X-PRELOAD-HINT", "EXT-X-RENDITION-REPORT",
    "EXT-X-DATERANGE", "EXT-X-MEDIA", "EXT-X-I-FRAME-STREAM-INF", "EXT-X-SESSION-DATA",
    "EXT-X-SESSION-KEY", "EXT-X-CONTENT-STEERING",
}  # fmt: skip


def all_uris(playlist: MediaPlaylist | MultivariantPlaylist) -> list[tuple[str, str]]:
    """(tag name or "" for a URI line, URI) of every URI in the playlist."""
    out = []
    for raw in playlist.raw_lines():
        line = classify(raw)
        if is_uri(raw):
            out.append(("", line.value))
        elif line.name in URI_TAGS:
            attrs = parse_attributes(line.value)
            for name in ("URI", "SERVER-URI", "X-ASSET-LIST", "X-ASSET-URI"):
                if name in attrs:
                    out.append((line.name, attrs[name]))
    return out


# -- resolution --------------------------------------------------------------------------


RFC_BASE = "http://a/b/c/d;p?q"
# RFC 3986 §5.4.1 (normal) and §5.4.2 (abnormal, strict parser) examples.
RFC_EXAMPLES = {
    "g:h": "g:h", "g": "http://a/b/c/g", "./g": "http://a/b/c/g", "g/": "http://a/b/c/g/",
    "/g": "http://a/g", "//g": "http://g", "?y": "http://a/b/c/d;p?y",
    "g?y": "http://a/b/c/g?y", "#s": "http://a/b/c/d;p?q#s", "g#s": "http://a/b/c/g#s",
    "g?y#s": "http://a/b/c/g?y#s", ";x": "http://a/b/c/;x", "g;x": "http://a/b/c/g;x",
    "g;x?y#s": "http://a/b/c/g;x?y#s", "": "http://a/b/c/d;p?q", ".": "http://a/b/c/",
    "./": "http://a/b/c/", "..": "http://a/b/", "../": "http://a/b/", "../g": "http://a/b/g",
    "../..": "http://a/", "../../": "http://a/", "../../g": "http://a/g",
    "../../../g": "http://a/g", "../../../../g": "http://a/g", "/./g": "http://a/g",
    "/../g": "http://a/g", "g.": "http://a/b/c/g.", ".g": "http://a/b/c/.g",
    "g..": "http://a/b/c/g..", "..g": "http://a/b/c/..g", "./../g": "http://a/b/g",
    "./g/.": "http://a/b/c/g/", "g/./h": "http://a/b/c/g/h", "g/../h": "http://a/b/c/h",
    "g;x=1/./y": "http://a/b/c/g;x=1/y", "g;x=1/../y": "http://a/b/c/y",
    "g?y/./x": "http://a/b/c/g?y/./x", "g?y/../x": "http://a/b/c/g?y/../x",
    "g#s/./x": "http://a/b/c/g#s/./x", "g#s/../x": "http://a/b/c/g#s/../x", "http:g": "http:g",
    # Beyond the RFC's list: empty segments and an empty query are kept (urljoin drops them).
    "g//h": "http://a/b/c/g//h", "g?": "http://a/b/c/g?", "a//b/../c": "http://a/b/c/a//c",
}  # fmt: skip


@pytest.mark.parametrize(("ref", "target"), RFC_EXAMPLES.items(), ids=repr)
def test_rfc_3986_examples(ref, target):
    assert resolve(RFC_BASE, ref) == target


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("a.ts", "https://o.example.com/x/y/a.ts"),
        ("a/b.ts?q=1#f", "https://o.example.com/x/y/a/b.ts?q=1#f"),
        ("../a.ts", "https://o.example.com/x/a.ts"),
        ("./a.ts", "https://o.example.com/x/y/a.ts"),
        ("/a.ts", "https://o.example.com/a.ts"),
        ("//cdn.example.com/a.ts", "https://cdn.example.com/a.ts"),
        ("?q=2", "https://o.example.com/x/y/p.m3u8?q=2"),
        ("HTTPS://other.example.com/a/../b.ts", "HTTPS://other.example.com/a/../b.ts"),
        ("data:text/plain;base64,AAAA", None),
        ("skd://key-1", None),
        ("{$host}/a.ts", None),
    ],
)
def test_resolver(ref, expected):
    assert Resolver("https://o.example.com/x/y/p.m3u8?token=1")(ref) == expected


BASES = st.sampled_from(
    [
        "https://o.example.com/a/b/master.m3u8",
        "https://o.example.com/a/b/master.m3u8?x=1#f",
        "https://o.example.com",
        "https://o.example.com/",
        "http://o.example.com:8080/a/",
        "https://o.example.com/a/./b/../c.m3u8",
        "https://o.example.com/a//b.m3u8",
    ]
)
REFS = st.text(alphabet="ab./?#=&;%-_~\\ é", min_size=1, max_size=12)


@given(base=BASES, ref=REFS)
def test_resolver_shortcut_agrees_with_rfc_resolution(base, ref):
    assert Resolver(base)(ref) == resolve(base, ref)


@given(base=BASES, ref=st.text(alphabet="ab./=&%-_~", min_size=1, max_size=12))
def test_resolution_agrees_with_urljoin_where_urljoin_follows_the_rfc(base, ref):
    if "//" not in base + ref:  # urljoin drops empty path segments
        assert resolve(base, ref) == urljoin(base, ref)


@given(base=BASES, ref=REFS)
def test_rebase_agrees_with_resolving_then_moving(base, ref):
    absolute = resolve(base, ref)
    rest = under(root_of(base, with_path=False), absolute)  # None: another host ("//x")
    moved = absolute if rest is None else "https://cdn.example.net/p" + rest
    assert Rebase(base, "https://cdn.example.net/p/")(ref) == moved


@pytest.mark.parametrize(
    ("base", "url", "rest"),
    [
        ("https://o.example.com/live", "https://o.example.com/live/a.m3u8?x=1", "/a.m3u8?x=1"),
        ("https://o.example.com/live", "https://o.example.com/live", "/"),
        ("https://o.example.com/live", "https://o.example.com/lively/a.m3u8", None),
        ("https://O.example.com:443/", "https://o.EXAMPLE.com/a#t=1", "/a#t=1"),
        ("https://o.example.com", "http://o.example.com/a", None),
        ("https://o.example.com", "https://o.example.com:8443/a", None),
        ("https://o.example.com", "https://o.example.com:99999/a", None),
        ("https://o.example.com", "https://[::1/a", None),
    ],
)
def test_under(base, url, rest):
    assert under(root_of(base, with_path=True), url) == rest


# -- ProxyChildUris ----------------------------------------------------------------------


def proxy(
    playlist: MultivariantPlaylist, token: str = "t0k", **fields: str
) -> MultivariantPlaylist:
    edit = ProxyChildUris(
        **{"playlist_url": ORIGIN, "edge_base": "/e", "token_param": "sid", "token": token} | fields
    )
    return apply_proxy_child_uris(playlist, edit)


def test_proxy_every_child_of_bipbop():
    out = proxy(MULTIVARIANTS[BIPBOP])
    children = [uri for name, uri in all_uris(out)]
    assert len(children) == 24 + 6 + 4  # variants, I-frame variants, audio and subtitles
    for uri in children:
        parts = urlsplit(uri)
        assert parts.path.startswith("/e/live/ch1/")
        assert parse_qs(parts.query) == {"sid": ["t0k"]}
    assert_m3u8_agrees(render(out))


def test_proxy_with_an_origin_base_path():
    # An edge route "/tv" -> "https://origin.example.com/live" that strips its prefix.
    out = proxy(
        MULTIVARIANTS[STEERING], edge_base="/tv", origin_base="https://origin.example.com/live"
    )
    assert [v.uri for v in out.variants] == [
        "/tv/ch1/low/video.m3u8?sid=t0k",
        "/tv/ch1/hi/video.m3u8?sid=t0k",
        "https://backup.example.com/content/videos/video12/low/video.m3u8",
        "https://backup.example.com/content/videos/video12/hi/video.m3u8",
    ]


def test_proxy_leaves_children_outside_the_origin_base():
    source = multivariant(b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n/vod/v.m3u8\n")
    out = proxy(source, origin_base="https://origin.example.com/live/")
    assert out.variants[0].uri == "https://origin.example.com/vod/v.m3u8"


@given(token=st.text(min_size=1, max_size=40))
def test_any_token_round_trips_through_the_query(token):
    out = proxy(MULTIVARIANTS[STEERING], token=token)
    for _, uri in all_uris(out):
        if uri.startswith("/e/"):
            assert parse_qs(urlsplit(uri).query) == {"sid": [token]}
    data = render(out)
    assert render(parse(data)) == data


def test_template_render_is_the_rendered_fill():
    playlist = MULTIVARIANTS[KALTURA]
    template = proxy_template(playlist, ORIGIN, "/e", "sid")
    assert template is proxy_template(playlist, ORIGIN, "/e", "sid")  # prepared once
    for token in ("a", "b c/d=", "é"):
        assert template.render(token) == render(template.fill(token))
        assert render(proxy(playlist, token=token)) == template.render(token)


def test_template_without_child_on_the_origin():
    playlist = multivariant(b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttps://x.example/v\n")
    template = proxy_template(playlist, ORIGIN, "/e", "sid")
    assert template.slots == ()
    assert template.fill("tok") is template.playlist
    assert template.render("tok") == render(playlist)


def test_proxy_keeps_crlf():
    playlist = multivariant(render(MULTIVARIANTS[STEERING]).replace(b"\n", b"\r\n"))
    data = render(proxy(playlist))
    assert data.count(b"\r\n") == data.count(b"\n")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("playlist_url", "/relative/master.m3u8"),
        ("playlist_url", "ftp://o.example.com/master.m3u8"),
        ("edge_base", "/e?x=1"),
        ("edge_base", "edge"),
        ("token_param", "s id"),
        ("token", ""),
        ("origin_base", "https://o.example.com/live?x=1"),
    ],
)
def test_proxy_fields_are_validated(field, value):
    document = {"kind": "proxy_child_uris", "playlist_url": ORIGIN, "edge_base": "/e"}
    document |= {"token_param": "sid", "token": "t", field: value}
    with pytest.raises(msgspec.ValidationError, match=rf"\$\.{field}"):
        msgspec.json.decode(msgspec.json.encode(document), type=ProxyChildUris)


# -- SegmentBase, ResolveUris ------------------------------------------------------------

CDN = "https://cdn.example.net/o1"
PLAYLIST_URL = "https://origin.example.com/a/b/index.m3u8?token=1"


@pytest.mark.parametrize("name", sorted(MEDIA))
def test_segment_base_on_the_corpus(name):
    source = MEDIA[name]
    out = apply_segment_base(source, SegmentBase(playlist_url=PLAYLIST_URL, base=CDN))
    data = render(out)
    assert render(parse(data)) == data
    assert [(s.duration, s.discontinuity) for s in out.segments] == [
        (s.duration, s.discontinuity) for s in source.segments
    ]
    for (tag, old), (_, new) in zip(all_uris(source), all_uris(out), strict=True):
        if tag in ("EXT-X-RENDITION-REPORT", "EXT-X-DATERANGE") or ":" in old.split("/")[0]:
            assert new == old  # BIS §4.4.5.4 relative; asset lists; absolute, data:, skd:
        else:
            assert new.startswith(CDN + "/"), (tag, old, new)
    again = apply_segment_base(out, SegmentBase(playlist_url=PLAYLIST_URL, base=CDN))
    assert again is out


@pytest.mark.parametrize("name", M3U8_READABLE)
def test_m3u8_library_agrees_after_segment_base(name):
    out = apply_segment_base(MEDIA[name], SegmentBase(playlist_url=PLAYLIST_URL, base=CDN))
    assert_m3u8_agrees(render(out))
    theirs = m3u8.loads(render(out).decode("utf-8").removeprefix("\ufeff"))
    assert [s.uri for s in theirs.segments] == [s.uri for s in out.segments]


@pytest.mark.parametrize("name", sorted(PLAYLISTS))
def test_resolve_uris_leaves_nothing_relative(name):
    source = PLAYLISTS[name]
    out = apply_resolve_uris(source, ResolveUris(playlist_url=PLAYLIST_URL))
    data = render(out)
    assert render(parse(data)) == data
    if isinstance(out, MediaPlaylist) and name in M3U8_READABLE:
        assert_m3u8_agrees(data)
    for tag, uri in all_uris(out):
        if tag != "EXT-X-RENDITION-REPORT" and "{$" not in uri:
            assert ":" in uri.split("/")[0], (tag, uri)
    assert apply_resolve_uris(out, ResolveUris(playlist_url=PLAYLIST_URL)) is out


def test_resolve_uris_on_absolute_playlists_is_the_identity():
    source = MEDIA["hlsvodtolive__usp-cmaf-interstitial-targetduration-violation.m3u8"]
    resolved = apply_resolve_uris(source, ResolveUris(playlist_url=PLAYLIST_URL))
    assert apply_resolve_uris(resolved, ResolveUris(playlist_url="https://x.example/y")) is resolved


def test_segment_base_keeps_crlf_and_lines_it_does_not_change():
    source = parse(
        b"#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n#EXT-X-KEY:METHOD=NONE\r\n"
        b"#EXTINF:6.0,\r\na.ts\r\n#EXTINF:6.0,\r\nhttps://ads.example.org/b.ts\r\n"
    )
    assert isinstance(source, MediaPlaylist)
    out = apply_segment_base(source, SegmentBase(playlist_url=PLAYLIST_URL, base=CDN))
    assert render(out) == (
        b"#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n#EXT-X-KEY:METHOD=NONE\r\n"
        b"#EXTINF:6.0,\r\nhttps://cdn.example.net/o1/a/b/a.ts\r\n"
        b"#EXTINF:6.0,\r\nhttps://ads.example.org/b.ts\r\n"
    )
    assert out.segments[0].uri == "https://cdn.example.net/o1/a/b/a.ts"
    assert out.segments[1] is source.segments[1]


@pytest.mark.parametrize(
    "document",
    [
        {"kind": "segment_base", "playlist_url": "https://o.example.com:99999/a", "base": CDN},
        {"kind": "segment_base", "playlist_url": PLAYLIST_URL, "base": "https://cdn:x"},
        {"kind": "resolve_uris", "playlist_url": "https://o.example.com:-1/a"},
    ],
)
def test_bad_ports_are_refused_when_decoded(document):
    with pytest.raises(msgspec.ValidationError, match=r"[Pp]ort"):
        msgspec.json.decode(msgspec.json.encode(document), type=SegmentBase | ResolveUris)
