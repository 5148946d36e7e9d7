"""Properties of session tokens: any valid inputs round-trip; any string, and any
mutation of a real token, is refused with a TokenError (never another exception, never
accepted)."""

import base64
import hashlib
import hmac

from hypothesis import example, given, settings, strategies as st

from edge_assembler.core.session import TokenError, issue_token, read_token
from edge_assembler.core.viewer import ContextInputs

KEYS = {"k1": b"k" * 32, "k2": b"o" * 32}
NOW = 1_788_000_000
EXP = NOW + 3600

_token = st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True)
_pairs = st.lists(st.tuples(_token, _token), max_size=3).map(tuple)
inputs = st.builds(
    ContextInputs,
    sid=st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
    start=st.integers(0, 2**40),
    languages=st.lists(st.from_regex(r"[a-z]{2,3}(-[A-Z]{2})?", fullmatch=True), max_size=8).map(
        tuple
    ),
    device=st.sampled_from(["phone", "tablet", "desktop", "tv", "unknown"]),
    country=st.none() | st.from_regex(r"[A-Z]{2}", fullmatch=True),
    consent=st.lists(_token, max_size=4).map(tuple),
    length=st.none() | st.floats(min_value=0.001, max_value=1e6),
    history=_pairs,
    choices=_pairs,
    interests=st.lists(_token, max_size=4).map(tuple),
    master=st.text(max_size=80),
)
VALID = issue_token(
    ContextInputs(sid="s1", start=NOW, languages=("fr",), master="/vod/a/master.m3u8"),
    key_id="k1",
    key=KEYS["k1"],
    expires=EXP,
)


def _refused(token: str) -> str:
    try:
        read_token(token, KEYS, now=NOW)
    except TokenError as exc:
        return exc.reason
    raise AssertionError(f"accepted {token!r}")


@given(inputs, st.sampled_from(sorted(KEYS)), st.integers(NOW + 1, 2**40))
def test_round_trip(value: ContextInputs, kid: str, expires: int) -> None:
    token = issue_token(value, key_id=kid, key=KEYS[kid], expires=expires)
    assert read_token(token, KEYS, now=NOW) == value
    assert token == issue_token(value, key_id=kid, key=KEYS[kid], expires=expires)


@given(st.text(max_size=300) | st.from_regex(r"[A-Za-z0-9_-]{0,200}\.[A-Za-z0-9_-]{0,30}"))
@example("")
@example(".")
def test_any_string_is_refused(token: str) -> None:
    _refused(token)


@settings(max_examples=500)
@given(st.data())
def test_any_mutation_is_refused(data: st.DataObject) -> None:
    """Flip, delete, insert or replace characters of a valid token: never accepted."""
    chars = list(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "delete", "insert", "replace"]))
        at = data.draw(st.integers(0, max(len(chars) - 1, 0)))
        if kind == "insert":
            chars.insert(at, data.draw(st.characters()))
        elif not chars:
            continue
        elif kind == "delete":
            del chars[at]
        elif kind == "flip":
            chars[at] = chr(ord(chars[at]) ^ (1 << data.draw(st.integers(0, 6))))
        else:
            chars[at] = data.draw(st.characters())
    mutated = "".join(chars)
    if mutated != VALID:
        _refused(mutated)


@given(st.binary(max_size=400), st.sampled_from(sorted(KEYS)))
def test_correctly_signed_junk_is_refused(payload: bytes, kid: str) -> None:
    """Bytes signed with a real key but not a session envelope: still only a TokenError
    (decoding is the second line of defence, after the MAC)."""
    mac = hmac.new(KEYS[kid], kid.encode() + b"." + payload, hashlib.sha256).digest()[:16]
    forged = f"{_b64(payload)}.{_b64(mac)}"
    try:
        value = read_token(forged, KEYS, now=NOW)
    except TokenError:
        return
    assert isinstance(value, ContextInputs)  # junk that is a valid envelope (vanishingly rare)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
