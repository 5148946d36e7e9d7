"""parse_target: origin-form only, and no way to climb out of the origin prefix."""

from urllib.parse import unquote

import pytest
from hypothesis import example, given, settings, strategies as st

from edge_assembler.core.errors import BadRequest
from edge_assembler.core.target import Target, parse_target

# (raw target, expected reason); every reason the module can give appears at least once.
REJECTED = [
    # RFC 9112 §3.2: only origin-form is forwarded.
    pytest.param("http://evil/x", "absolute_target", id="absolute-form"),
    pytest.param("https://evil/x?y=1", "absolute_target", id="absolute-form-https"),
    pytest.param("evil.example:443", "absolute_target", id="authority-form"),
    pytest.param("*", "absolute_target", id="asterisk-form"),
    pytest.param("", "absolute_target", id="empty"),
    pytest.param("a/b", "absolute_target", id="relative"),
    pytest.param("//evil/x", "absolute_target", id="scheme-relative"),
    pytest.param("///x", "absolute_target", id="triple-slash"),
    pytest.param("/a#f", "fragment", id="fragment"),
    pytest.param("/a?x=1#f", "fragment", id="fragment-after-query"),
    pytest.param("/a%zz", "bad_encoding", id="non-hex-escape"),
    pytest.param("/%25252525252e%25252525252e/x", "bad_encoding", id="dots-encoded-five-times"),
    pytest.param("/a%2", "bad_encoding", id="truncated-escape"),
    pytest.param("/a%", "bad_encoding", id="lone-percent"),
    pytest.param("/a%%41", "bad_encoding", id="percent-percent"),
    pytest.param("/a?x=%g0", "bad_encoding", id="bad-escape-in-query"),
    pytest.param("/a%00b", "control_char", id="encoded-nul"),
    pytest.param("/a\x00b", "control_char", id="raw-nul"),
    pytest.param("/a\tb", "control_char", id="raw-tab"),
    pytest.param("/a%0d%0aSet-Cookie:x", "control_char", id="encoded-crlf-in-path"),
    pytest.param("/a%7f", "control_char", id="encoded-del"),
    pytest.param("/a%2500", "control_char", id="double-encoded-nul"),
    pytest.param("/a?x=%0d%0a", "control_char", id="encoded-crlf-in-query"),
    pytest.param("/a?x=\n", "control_char", id="raw-lf-in-query"),
    pytest.param("/a?x=%7F", "control_char", id="encoded-del-in-query"),
    pytest.param("/a?x=%251f", "control_char", id="double-encoded-control-in-query"),
    pytest.param("/a\\b", "backslash", id="raw-backslash"),
    pytest.param("/a/..%5cb", "backslash", id="encoded-backslash-after-dots"),
    pytest.param("/a%5C..%5Cb", "backslash", id="upper-encoded-backslash"),
    pytest.param("/a%255cb", "backslash", id="double-encoded-backslash"),
    pytest.param("/..", "traversal", id="bare-dotdot"),
    pytest.param("/../x", "traversal", id="leading-dotdot"),
    pytest.param("/a/..", "traversal", id="trailing-dotdot"),
    pytest.param("/a/../", "traversal", id="trailing-dotdot-slash"),
    pytest.param("/a/../b?x=1", "traversal", id="dotdot-with-query"),
    pytest.param("/a/%2e%2e/b", "traversal", id="encoded-dotdot"),
    pytest.param("/a/%2E%2E/b", "traversal", id="upper-encoded-dotdot"),
    pytest.param("/a/.%2e/b", "traversal", id="half-encoded-dotdot"),
    pytest.param("/a/%2e./b", "traversal", id="other-half-encoded-dotdot"),
    pytest.param("/a/%252e%252e/b", "traversal", id="double-encoded-dotdot"),
    pytest.param("/a/%25252e%25252e/b", "traversal", id="triple-encoded-dotdot"),
    pytest.param("/a/%2525252e%2525252e/b", "traversal", id="quadruple-encoded-dotdot"),
    pytest.param("/a%2f..%2fb", "traversal", id="encoded-slashes-around-dotdot"),
    pytest.param("/a%252f..%252fb", "traversal", id="double-encoded-slashes"),
    pytest.param("/a%2F%2e%2e%2Fb", "traversal", id="everything-encoded"),
]

ACCEPTED = [
    # (raw, path, query): the target is kept percent-encoded, split at the first '?'.
    pytest.param("/", "/", "", id="root"),
    pytest.param(
        "/vod/master.m3u8?sid=1&x=%20", "/vod/master.m3u8", "sid=1&x=%20", id="manifest-query"
    ),
    pytest.param("/a/./b", "/a/./b", "", id="single-dot"),
    pytest.param("/a..b/c", "/a..b/c", "", id="dots-inside-segment"),
    pytest.param("/...", "/...", "", id="three-dots"),
    pytest.param("/a/..b/c..", "/a/..b/c..", "", id="dotdot-prefix-and-suffix"),
    pytest.param("/a/%2e/b", "/a/%2e/b", "", id="encoded-single-dot"),
    pytest.param("/a/%2e%2e%2e", "/a/%2e%2e%2e", "", id="encoded-three-dots"),
    pytest.param("/a%2fb", "/a%2fb", "", id="encoded-slash"),
    pytest.param("/a%20b", "/a%20b", "", id="encoded-space"),
    pytest.param("/a%23b", "/a%23b", "", id="encoded-hash-is-data"),
    pytest.param("/caf%C3%A9/x", "/caf%C3%A9/x", "", id="utf8-escape"),
    pytest.param("/a/%ff", "/a/%ff", "", id="invalid-utf8-escape"),
    pytest.param("/a?", "/a", "", id="empty-query"),
    pytest.param("/a?x=..&y=../z", "/a", "x=..&y=../z", id="dotdot-in-query-is-data"),
    pytest.param("/a?x=\\", "/a", "x=\\", id="backslash-in-query-is-data"),
    pytest.param("/a?b?c", "/a", "b?c", id="second-question-mark"),
    pytest.param("/a//b", "/a//b", "", id="empty-segment-not-first"),
]


@pytest.mark.parametrize(("raw", "reason"), REJECTED)
def test_rejected(raw: str, reason: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_target(raw)
    assert info.value.reason == reason
    assert info.value.status_hint == 400
    assert str(info.value)  # a human-readable message for the client and the log


@pytest.mark.parametrize(("raw", "path", "query"), ACCEPTED)
def test_accepted(raw: str, path: str, query: str) -> None:
    target = parse_target(raw)
    assert target == Target(path=path, query=query)
    assert target.raw == raw.removesuffix("?")


def test_raw_joins_path_and_query() -> None:
    assert Target(path="/a", query="x=1").raw == "/a?x=1"
    assert Target(path="/a", query="").raw == "/a"


def test_target_is_frozen() -> None:
    target = parse_target("/a")
    with pytest.raises(AttributeError):
        target.path = "/b"  # type: ignore[misc]


# ---------------------------------------------------------------------------------------
# Properties

REASONS = {"absolute_target", "fragment", "bad_encoding", "control_char", "backslash", "traversal"}

_MAX_ROUNDS = 4


def _decodings(text: str) -> list[str]:
    out = [text]
    for _ in range(_MAX_ROUNDS):
        out.append(unquote(out[-1]))
    return out


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


# Text built mostly from the characters that matter: dots, slashes, percent signs, the hex
# digits of the escapes for '.', '/', '\\', '%' and control characters.
_tricky_alphabet = st.sampled_from(list("./%25eEfF0123456789acdAC\\?#a;b")) | st.characters(
    codec="utf-8"
)
tricky_paths = st.text(_tricky_alphabet, max_size=40).map(lambda s: "/" + s)


@settings(max_examples=400, deadline=None)
@given(tricky_paths)
@example("/%2e%2e")
@example("/%252e%252e/x")
@example("/a%2f%2e%2e")
@example("/x%25%32%65%25%32%65")
@example("/%25252e%25252e%2525252f")
@example("/a%250d")
def test_accepted_target_never_decodes_to_traversal_or_control(raw: str) -> None:
    try:
        target = parse_target(raw)
    except BadRequest:
        return
    for decoded in _decodings(target.path):
        assert ".." not in decoded.split("/"), (raw, decoded)
        assert not _has_control(decoded), (raw, decoded)
    for decoded in _decodings(target.query):
        assert not _has_control(decoded), (raw, decoded)


_SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~"
safe_segments = st.lists(
    st.text(st.sampled_from(_SAFE + "."), min_size=1, max_size=8).filter(
        lambda s: s not in {".", ".."}
    ),
    max_size=6,
)
DOTDOT_ENCODINGS = ["..", "%2e%2e", "%2E.", ".%2E", "%252e%252e", "%25252E%25252e"]


@settings(max_examples=300, deadline=None)
@given(
    segments=safe_segments,
    position=st.integers(min_value=0),
    dotdot=st.sampled_from(DOTDOT_ENCODINGS),
    trailing_slash=st.booleans(),
    query=st.sampled_from(["", "?a=1", "?x=%20"]),
)
def test_inserted_dotdot_segment_is_traversal(
    segments: list[str], position: int, dotdot: str, trailing_slash: bool, query: str
) -> None:
    safe = "/" + "/".join(segments)
    assert parse_target(safe + query).path == safe  # the safe path alone is accepted
    position %= len(segments) + 1
    climbing = [*segments[:position], dotdot, *segments[position:]]
    raw = "/" + "/".join(climbing) + ("/" if trailing_slash else "") + query
    with pytest.raises(BadRequest) as info:
        parse_target(raw)
    assert info.value.reason == "traversal"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60).map(lambda s: "/" + s) | tricky_paths)
@example("/a%2")
@example("/\udcff%ff")
def test_only_bad_request_escapes(raw: str) -> None:
    # Anything but BadRequest propagates and fails the test.
    try:
        target: Target | None = parse_target(raw)
    except BadRequest as exc:
        target, reason = None, exc.reason
    if target is None:
        assert reason in REASONS
    else:
        # Accepted targets are passed on exactly as received, split at the first '?'.
        path, _, query = raw.partition("?")
        assert target == Target(path=path, query=query)
