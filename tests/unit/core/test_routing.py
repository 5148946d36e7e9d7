"""Longest-prefix origin routing and manifest classification."""

import pytest
from hypothesis import given, settings, strategies as st

from edge_assembler.core.routing import (
    OriginRoute,
    Router,
    Upstream,
    is_manifest_path,
    is_manifest_type,
)
from edge_assembler.core.target import Target, parse_target

ROUTES = [
    OriginRoute(index=0, prefix="/", base="http://default:8000", strip_prefix=False),
    OriginRoute(index=1, prefix="/live", base="http://live:9000/packager/", strip_prefix=True),
    OriginRoute(index=2, prefix="/live/sports/", base="https://sports", strip_prefix=False),
    OriginRoute(index=3, prefix="/vod", base="http://vod/base", strip_prefix=False),
]

# (target, index of the chosen route, upstream URL)
RESOLVE_CASES = [
    pytest.param("/", 0, "http://default:8000/", id="root"),
    pytest.param("/other/a.m3u8", 0, "http://default:8000/other/a.m3u8", id="default-route"),
    pytest.param("/lively/x", 0, "http://default:8000/lively/x", id="prefix-is-segment-bound"),
    pytest.param("/live", 1, "http://live:9000/packager/", id="exact-prefix-stripped"),
    pytest.param("/live/", 1, "http://live:9000/packager/", id="prefix-slash-stripped"),
    pytest.param("/live/ch1/index.m3u8", 1, "http://live:9000/packager/ch1/index.m3u8", id="strip"),
    pytest.param("/live//ch1", 1, "http://live:9000/packager/ch1", id="strip-extra-slashes"),
    pytest.param(
        "/live/ch1.m3u8?token=a%20b&x=1",
        1,
        "http://live:9000/packager/ch1.m3u8?token=a%20b&x=1",
        id="query-kept-encoded",
    ),
    pytest.param("/live/sportsx/a", 1, "http://live:9000/packager/sportsx/a", id="near-miss"),
    pytest.param(
        "/live/sports/f.mpd", 2, "https://sports/live/sports/f.mpd", id="longest-prefix-wins"
    ),
    pytest.param("/live/sports", 2, "https://sports/live/sports", id="slash-prefix-bare-path"),
    pytest.param("/vod", 3, "http://vod/base/vod", id="no-strip-exact"),
    pytest.param("/vod/a/b.m3u8?s=1", 3, "http://vod/base/vod/a/b.m3u8?s=1", id="no-strip"),
    pytest.param("/VOD/a", 0, "http://default:8000/VOD/a", id="case-sensitive"),
    pytest.param("/vod%2fa", 0, "http://default:8000/vod%2fa", id="encoded-slash-not-a-boundary"),
]


@pytest.mark.parametrize(("raw", "index", "url"), RESOLVE_CASES)
@pytest.mark.parametrize("order", [1, -1], ids=["config-order", "reversed"])
def test_resolve(raw: str, index: int, url: str, order: int) -> None:
    upstream = Router(ROUTES[::order]).resolve(parse_target(raw))
    assert upstream == Upstream(route=ROUTES[index], url=url)


@pytest.mark.parametrize("raw", ["/", "/a", "/livestream/x", "/vod2", "/xlive/a"])
def test_no_route(raw: str) -> None:
    router = Router(
        [
            OriginRoute(index=0, prefix="/live", base="http://o", strip_prefix=False),
            OriginRoute(index=1, prefix="/vod/", base="http://o", strip_prefix=False),
        ]
    )
    assert router.resolve(parse_target(raw)) is None


def test_no_routes_at_all() -> None:
    assert Router([]).resolve(Target(path="/a", query="")) is None


def test_equal_prefixes_first_configured_wins() -> None:
    first = OriginRoute(index=0, prefix="/a", base="http://one", strip_prefix=False)
    second = OriginRoute(index=1, prefix="/a", base="http://two", strip_prefix=False)
    resolved = Router([first, second]).resolve(Target(path="/a/x", query=""))
    assert resolved == Upstream(route=first, url="http://one/a/x")


def test_router_does_not_mutate_its_input() -> None:
    routes = list(ROUTES)
    Router(routes)
    assert routes == ROUTES


@pytest.mark.parametrize(
    ("prefix", "base", "path", "url"),
    [
        ("/", "http://o", "/a/b", "http://o/a/b"),
        ("/", "http://o/", "/a/b", "http://o/a/b"),
        ("/", "http://o/root", "/", "http://o/root/"),
        ("/p", "http://o/x/", "/p/a", "http://o/x/a"),
        ("/p/", "http://o/x", "/p/a", "http://o/x/a"),
        ("/p/", "http://o/x", "/p", "http://o/x/"),
        ("/p/q", "http://o", "/p/q/r/s", "http://o/r/s"),
    ],
)
def test_strip_prefix(prefix: str, base: str, path: str, url: str) -> None:
    router = Router([OriginRoute(index=0, prefix=prefix, base=base, strip_prefix=True)])
    resolved = router.resolve(Target(path=path, query=""))
    assert resolved is not None
    assert resolved.url == url


_segment = st.sampled_from(["a", "b", "live", "vod", "x.m3u8"])
_paths = st.lists(_segment, max_size=4).map(lambda s: "/" + "/".join(s))
_prefixes = st.builds(
    lambda path, slash: path + "/" if slash and path != "/" else path, _paths, st.booleans()
)


@settings(max_examples=200, deadline=None)
@given(
    prefixes=st.lists(_prefixes, min_size=1, max_size=5, unique=True),
    strip=st.lists(st.booleans(), min_size=5, max_size=5),
    path=_paths,
    query=st.sampled_from(["", "a=1"]),
)
def test_longest_matching_prefix_wins(
    prefixes: list[str], strip: list[bool], path: str, query: str
) -> None:
    routes = [
        OriginRoute(index=i, prefix=p, base=f"http://origin{i}/base", strip_prefix=strip[i])
        for i, p in enumerate(prefixes)
    ]
    resolved = Router(routes).resolve(Target(path=path, query=query))
    segments = path.split("/")

    def matches(prefix: str) -> bool:
        wanted = prefix.rstrip("/").split("/")
        return segments[: len(wanted)] == wanted

    matching = [r for r in routes if matches(r.prefix)]
    if not matching:
        assert resolved is None
        return
    assert resolved is not None
    assert len(resolved.route.prefix) == max(len(r.prefix) for r in matching)
    assert resolved.route in matching
    base = f"http://origin{resolved.route.index}/base"
    assert resolved.url.startswith(base + "/")
    assert resolved.url.endswith(f"?{query}" if query else "")
    if not resolved.route.strip_prefix:
        assert resolved.url == base + path + (f"?{query}" if query else "")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a/master.m3u8", True),
        ("/a/MASTER.M3U8", True),
        ("/a/manifest.mpd", True),
        ("/a/Manifest.MPD", True),
        ("/a/seg_00001.ts", False),
        ("/a/init.mp4", False),
        ("/a/m3u8", False),
        ("/a.m3u8/seg.ts", False),
        ("/a/master.m3u8.bak", False),
        ("/", False),
        ("", False),
    ],
)
def test_is_manifest_path(path: str, expected: bool) -> None:
    assert is_manifest_path(path) is expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/vnd.apple.mpegurl", True),
        ("application/x-mpegURL", True),
        ("audio/mpegurl", True),
        ("audio/x-mpegurl", True),
        ("application/dash+xml", True),
        ("Application/Dash+XML; charset=utf-8", True),
        ("  application/vnd.apple.mpegurl ;charset=UTF-8", True),
        ("video/mp2t", False),
        ("video/mp4", False),
        ("text/plain", False),
        ("application/vnd.apple.mpegurl-extra", False),
        ("", False),
        (None, False),
    ],
)
def test_is_manifest_type(content_type: str | None, expected: bool) -> None:
    assert is_manifest_type(content_type) is expected


@pytest.mark.parametrize(
    ("url", "index"),
    [
        ("http://default:8000/ads/a/master.m3u8", 0),
        ("http://live:9000/packager/ch1.m3u8", 1),  # the longest base that holds it
        ("http://vod/base/ad/720p/index.m3u8", 3),
        ("http://vod/base?x=1", 3),
        ("http://vod/basement/a.m3u8", None),  # a base ends at a path segment
        ("http://default:8001/a.m3u8", None),  # another port is another host
        ("https://default:8000/a.m3u8", None),  # and another scheme
        ("http://ads.example/a.m3u8", None),
    ],
)
def test_an_absolute_url_belongs_to_the_origin_whose_base_holds_it(
    url: str, index: int | None
) -> None:
    found = Router(ROUTES).for_url(url)
    assert (found.route.index if found else None) == index
    if found is not None:
        assert found.url == url
