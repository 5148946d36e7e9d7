"""Proxy header rules (RFC 9110 §7.6), conditional requests (§13.2.2) and Accept-Encoding."""

import pytest
from hypothesis import given, settings, strategies as st

from edge_assembler.core.headers import (
    HOP_BY_HOP,
    Headers,
    accepts_gzip,
    downstream_response_headers,
    end_to_end,
    not_modified,
    upstream_request_headers,
)

VIA = "1.1 edge"

END_TO_END_CASES = [
    pytest.param([], [], id="empty"),
    pytest.param(
        [("Accept", "*/*"), ("X-A", "1"), ("x-a", "2")],
        [("Accept", "*/*"), ("X-A", "1"), ("x-a", "2")],
        id="order-case-and-duplicates-kept",
    ),
    pytest.param(
        [
            ("Connection", "keep-alive"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Connection", "keep-alive"),
            ("Proxy-Authenticate", "Basic"),
            ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
            ("TE", "trailers"),
            ("Trailer", "Expires"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"),
            ("Content-Type", "text/plain"),
        ],
        [("Content-Type", "text/plain")],
        id="every-hop-by-hop-field",
    ),
    pytest.param(
        [("TRANSFER-ENCODING", "chunked"), ("upgrade", "websocket"), ("ETag", '"a"')],
        [("ETag", '"a"')],
        id="names-case-insensitive",
    ),
    # §7.6.1: fields named by Connection are connection-specific too.
    pytest.param(
        [("Connection", "close, X-Trace"), ("X-Trace", "1"), ("Accept", "*/*")],
        [("Accept", "*/*")],
        id="connection-named-field",
    ),
    pytest.param(
        [("connection", " x-one ,X-TWO"), ("X-One", "1"), ("x-two", "2"), ("X-Three", "3")],
        [("X-Three", "3")],
        id="connection-tokens-trimmed-and-case-insensitive",
    ),
    pytest.param(
        [("Connection", "X-One"), ("Connection", "X-Two"), ("X-One", "1"), ("X-Two", "2")],
        [],
        id="several-connection-lines",
    ),
    pytest.param(
        [("X-Two", "2"), ("Connection", "x-two"), ("Cache-Control", "no-cache")],
        [("Cache-Control", "no-cache")],
        id="named-field-before-connection",
    ),
]


@pytest.mark.parametrize(("headers", "expected"), END_TO_END_CASES)
def test_end_to_end(headers: Headers, expected: Headers) -> None:
    assert end_to_end(headers) == expected


def test_end_to_end_accepts_any_iterable() -> None:
    pairs = iter([("Connection", "X-A"), ("X-A", "1"), ("X-B", "2")])
    assert end_to_end(pairs) == [("X-B", "2")]


UPSTREAM_CASES = [
    pytest.param(
        [("Host", "edge.example"), ("Accept", "*/*")],
        "203.0.113.7",
        [
            ("Accept", "*/*"),
            ("Via", VIA),
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Host", "edge.example"),
            ("X-Forwarded-Proto", "https"),
            ("Host", "origin:8000"),
        ],
        id="first-hop",
    ),
    pytest.param(
        [
            ("Host", "edge.example"),
            ("Via", "1.1 cdn-a"),
            ("X-Forwarded-For", "198.51.100.1, 198.51.100.2"),
            ("X-Forwarded-Host", "www.example"),
            ("X-Forwarded-Proto", "http"),
            ("Range", "bytes=0-99"),
        ],
        "203.0.113.7",
        [
            ("Range", "bytes=0-99"),
            ("Via", f"1.1 cdn-a, {VIA}"),
            ("X-Forwarded-For", "198.51.100.1, 198.51.100.2, 203.0.113.7"),
            ("X-Forwarded-Host", "www.example"),
            ("X-Forwarded-Proto", "http"),
            ("Host", "origin:8000"),
        ],
        id="behind-another-proxy",
    ),
    pytest.param(
        [
            ("via", "1.0 a"),
            ("VIA", "1.1 b"),
            ("x-forwarded-for", "10.0.0.1"),
            ("X-Forwarded-For", "10.0.0.2"),
            ("host", "edge.example"),
        ],
        "::1",
        [
            ("Via", f"1.0 a, 1.1 b, {VIA}"),
            ("X-Forwarded-For", "10.0.0.1, 10.0.0.2, ::1"),
            ("X-Forwarded-Host", "edge.example"),
            ("X-Forwarded-Proto", "https"),
            ("Host", "origin:8000"),
        ],
        id="repeated-lines-combined",
    ),
    pytest.param(
        [("Host", "edge.example"), ("X-Forwarded-For", "10.0.0.1")],
        None,
        [
            ("Via", VIA),
            ("X-Forwarded-For", "10.0.0.1"),
            ("X-Forwarded-Host", "edge.example"),
            ("X-Forwarded-Proto", "https"),
            ("Host", "origin:8000"),
        ],
        id="unknown-client-keeps-prior-xff",
    ),
    pytest.param(
        [("Accept", "*/*")],
        None,
        [("Accept", "*/*"), ("Via", VIA), ("X-Forwarded-Proto", "https"), ("Host", "origin:8000")],
        id="no-client-ip-no-host",
    ),
    pytest.param(
        [("Host", "edge.example")],
        "",
        [
            ("Via", VIA),
            ("X-Forwarded-Host", "edge.example"),
            ("X-Forwarded-Proto", "https"),
            ("Host", "origin:8000"),
        ],
        id="empty-client-ip",
    ),
    pytest.param(
        [
            ("Host", "edge.example"),
            ("Connection", "keep-alive, X-Forwarded-For, X-Secret"),
            ("Keep-Alive", "timeout=5"),
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Secret", "s"),
            ("Proxy-Authorization", "Basic x"),
            ("TE", "trailers"),
            ("If-None-Match", '"v1"'),
        ],
        "203.0.113.7",
        [
            ("If-None-Match", '"v1"'),
            ("Via", VIA),
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Host", "edge.example"),
            ("X-Forwarded-Proto", "https"),
            ("Host", "origin:8000"),
        ],
        id="hop-by-hop-dropped-before-forwarding",
    ),
]


@pytest.mark.parametrize(("headers", "client_ip", "expected"), UPSTREAM_CASES)
def test_upstream_request_headers(
    headers: Headers, client_ip: str | None, expected: Headers
) -> None:
    out = upstream_request_headers(
        headers, client_ip=client_ip, host="origin:8000", proto="https", via=VIA
    )
    assert out == expected


DOWNSTREAM_CASES = [
    pytest.param(
        [("Content-Type", "application/vnd.apple.mpegurl"), ("ETag", '"1"')],
        [("Content-Type", "application/vnd.apple.mpegurl"), ("ETag", '"1"'), ("Via", VIA)],
        id="plain",
    ),
    pytest.param(
        [("Via", "1.1 origin-shield"), ("Cache-Control", "max-age=2")],
        [("Cache-Control", "max-age=2"), ("Via", f"1.1 origin-shield, {VIA}")],
        id="prior-via-extended",
    ),
    pytest.param(
        [("via", "1.0 a"), ("Via", "1.1 b")],
        [("Via", f"1.0 a, 1.1 b, {VIA}")],
        id="several-via-lines",
    ),
    pytest.param(
        [
            ("Connection", "close, X-Upstream-Debug"),
            ("X-Upstream-Debug", "1"),
            ("Transfer-Encoding", "chunked"),
            ("Keep-Alive", "timeout=5"),
            ("Content-Length", "10"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
        ],
        [("Content-Length", "10"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Via", VIA)],
        id="hop-by-hop-dropped",
    ),
]


@pytest.mark.parametrize(("headers", "expected"), DOWNSTREAM_CASES)
def test_downstream_response_headers(headers: Headers, expected: Headers) -> None:
    assert downstream_response_headers(headers, via=VIA) == expected


_names = st.sampled_from(
    [*HOP_BY_HOP, "Connection", "Via", "Host", "X-Forwarded-For", "X-A", "x-b", "Accept"]
)
header_lists = st.lists(
    st.tuples(_names | st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,10}", fullmatch=True), st.text()),
    max_size=8,
)


# Fields the edge itself adds after stripping, whatever the Connection header named.
_ADDED = {"via", "host", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"}


def _names_of(headers: Headers) -> list[str]:
    return [name.lower() for name, _ in headers]


@settings(max_examples=200, deadline=None)
@given(headers=header_lists)
def test_no_hop_by_hop_field_survives(headers: Headers) -> None:
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    kept = end_to_end(headers)
    assert not set(_names_of(kept)) & (HOP_BY_HOP | named)
    assert [pair for pair in headers if pair in kept] == kept  # a sub-sequence, in order

    upstream = upstream_request_headers(
        headers, client_ip="192.0.2.1", host="origin", proto="http", via=VIA
    )
    downstream = downstream_response_headers(headers, via=VIA)
    for out in (upstream, downstream):
        names = _names_of(out)
        assert not set(names) & (HOP_BY_HOP | (named - _ADDED))
        assert names.count("via") == 1
        assert dict(out)["Via"].endswith(VIA)
    assert _names_of(upstream).count("host") == 1
    assert upstream[-1] == ("Host", "origin")
    assert dict(upstream)["X-Forwarded-For"].endswith("192.0.2.1")


# (If-None-Match, If-Modified-Since, ETag, Last-Modified, 304?)
LM = "Tue, 15 Nov 1994 08:12:31 GMT"
EARLIER = "Tue, 15 Nov 1994 08:12:30 GMT"
LATER = "Wed, 16 Nov 1994 08:12:31 GMT"

NOT_MODIFIED_CASES = [
    pytest.param('"a"', None, '"a"', None, True, id="strong-match"),
    pytest.param('"b"', None, '"a"', None, False, id="strong-mismatch"),
    pytest.param('W/"a"', None, '"a"', None, True, id="weak-request-strong-etag"),
    pytest.param('"a"', None, 'W/"a"', None, True, id="strong-request-weak-etag"),
    pytest.param('W/"a"', None, 'W/"a"', None, True, id="weak-both"),
    pytest.param('W/"a"', None, 'W/"b"', None, False, id="weak-mismatch"),
    pytest.param('"x", "y" ,W/"a"', None, '"a"', None, True, id="list-member"),
    pytest.param('"x", "y"', None, '"a"', None, False, id="list-no-member"),
    pytest.param("*", None, '"a"', None, True, id="star"),
    pytest.param('"x", *', None, '"a"', None, True, id="star-in-list"),
    pytest.param('"a"', None, '"A"', None, False, id="opaque-tags-case-sensitive"),
    pytest.param("a", None, '"a"', None, False, id="unquoted-does-not-match-quoted"),
    # If-None-Match decides alone when present, even against a satisfied If-Modified-Since.
    pytest.param('"b"', LATER, '"a"', LM, False, id="inm-mismatch-overrides-ims"),
    pytest.param('"a"', EARLIER, '"a"', LM, True, id="inm-match-overrides-ims"),
    # If-Modified-Since against Last-Modified.
    pytest.param(None, LM, '"a"', LM, True, id="ims-equal"),
    pytest.param(None, LATER, '"a"', LM, True, id="ims-later"),
    pytest.param(None, EARLIER, '"a"', LM, False, id="ims-earlier"),
    pytest.param(None, "Tue, 15 Nov 1994 09:12:31 +0100", '"a"', LM, True, id="ims-other-zone"),
    pytest.param(None, "yesterday", '"a"', LM, False, id="ims-invalid"),
    pytest.param(None, LATER, '"a"', "garbage", False, id="last-modified-invalid"),
    pytest.param(None, LATER, '"a"', None, False, id="no-last-modified"),
    pytest.param(None, "", '"a"', LM, False, id="empty-ims"),
    pytest.param(None, None, '"a"', LM, False, id="unconditional"),
]


@pytest.mark.parametrize(
    ("if_none_match", "if_modified_since", "etag", "last_modified", "expected"),
    NOT_MODIFIED_CASES,
)
def test_not_modified(
    if_none_match: str | None,
    if_modified_since: str | None,
    etag: str,
    last_modified: str | None,
    expected: bool,
) -> None:
    result = not_modified(
        if_none_match=if_none_match,
        if_modified_since=if_modified_since,
        etag=etag,
        last_modified=last_modified,
    )
    assert result is expected


ACCEPTS_GZIP_CASES = [
    pytest.param(None, False, id="absent"),
    pytest.param("", False, id="empty"),
    pytest.param("gzip", True, id="gzip"),
    pytest.param("GZip", True, id="case-insensitive"),
    pytest.param("x-gzip", True, id="x-gzip"),
    pytest.param("*", True, id="star"),
    pytest.param("identity", False, id="identity-only"),
    pytest.param("br, deflate", False, id="others-only"),
    pytest.param("br;q=1.0, gzip;q=0.8, *;q=0.1", True, id="browser"),
    pytest.param("gzip;q=0", False, id="gzip-refused"),
    pytest.param("gzip;q=0.000", False, id="gzip-refused-three-decimals"),
    pytest.param("gzip;q=0.001", True, id="tiny-quality"),
    pytest.param("gzip ; Q = 0.5", True, id="spaced-parameter"),
    pytest.param("gzip;level=9", True, id="other-parameter"),
    pytest.param("gzip;q=high", False, id="malformed-quality-is-zero"),
    pytest.param("*;q=0", False, id="star-refused"),
    # An explicit gzip entry overrides the wildcard in both directions.
    pytest.param("gzip;q=0, *", False, id="gzip-refused-star-allowed"),
    pytest.param("*;q=0, gzip", True, id="star-refused-gzip-allowed"),
    pytest.param("br, *;q=0.5", True, id="star-allows"),
    # The first listing of a coding counts.
    pytest.param("gzip;q=0, gzip", False, id="duplicate-first-wins"),
    pytest.param("gzip, gzip;q=0", True, id="duplicate-first-wins-2"),
]


@pytest.mark.parametrize(("value", "expected"), ACCEPTS_GZIP_CASES)
def test_accepts_gzip(value: str | None, expected: bool) -> None:
    assert accepts_gzip(value) is expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_accepts_gzip_follows_explicit_gzip(value: str) -> None:
    result = accepts_gzip(value)  # never raises, whatever the client sends
    if "gzip" in value.lower() or "*" in value:
        return
    # Neither gzip nor the wildcard listed: refused, and decided by an added listing.
    assert result is False
    assert accepts_gzip(f"{value}, gzip") is True
    assert accepts_gzip(f"{value}, gzip;q=0") is False
