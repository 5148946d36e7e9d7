"""Signed session tokens: format, size, determinism, key rotation, and each reason a token
is refused."""

import base64
import hashlib
import hmac

import msgspec
import pytest

from edge_assembler.core.session import MAC_BYTES, TokenError, issue_token, read_token
from edge_assembler.core.viewer import ContextInputs

KEY = b"k" * 32
OTHER = b"o" * 32
NOW = 1_788_000_000
EXP = NOW + 21_600
KEYS = {"k1": KEY}

TYPICAL = ContextInputs(
    sid="Zk3p9QvLr2T8xWm1",  # secrets.token_urlsafe(12)
    start=NOW,
    languages=("fr-FR", "en"),
    device="phone",
    country="FR",
    consent=("ads-personalised",),
    history=(("last_episode", "s01e03"),),
    master="/vod/bbb/master.m3u8",
)
FULL = ContextInputs(
    sid="viewer-42",
    start=NOW,
    languages=("es", "en"),
    device="tv",
    country="BE",
    consent=("ads-personalised", "analytics"),
    length=1800.0,
    history=(("last_episode", "s01e03"),),
    choices=(("branch", "north"),),
    interests=("goals", "saves"),
    master="/dash/bbb/manifest.mpd",
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _forge(payload: bytes, kid: str = "k1", key: bytes = KEY) -> str:
    """A correctly signed token around any payload bytes."""
    mac = hmac.new(key, kid.encode() + b"." + payload, hashlib.sha256).digest()[:MAC_BYTES]
    return f"{_b64(payload)}.{_b64(mac)}"


@pytest.mark.parametrize("inputs", [TYPICAL, FULL], ids=["typical", "full"])
def test_round_trip(inputs: ContextInputs) -> None:
    token = issue_token(inputs, key_id="k1", key=KEY, expires=EXP)
    assert read_token(token, KEYS, now=NOW) == inputs
    assert read_token(token, KEYS, now=EXP - 1) == inputs


def test_format_is_compact_and_url_safe() -> None:
    token = issue_token(TYPICAL, key_id="k1", key=KEY, expires=EXP)
    assert len(token) < 200
    assert len(issue_token(FULL, key_id="k1", key=KEY, expires=EXP)) < 250
    payload, mac = token.split(".")
    assert set(token) <= set(_ALPHABET + ".")
    assert len(_unb64(mac)) == 16
    kid, exp, inputs = msgspec.msgpack.decode(_unb64(payload))
    assert (kid, exp) == ("k1", EXP)
    assert msgspec.convert(inputs, ContextInputs) == TYPICAL
    assert _unb64(mac) == hmac.new(KEY, b"k1." + _unb64(payload), hashlib.sha256).digest()[:16]


def test_deterministic() -> None:
    """Any node issues the same token for the same session (so outputs are byte-identical)."""
    one = issue_token(TYPICAL, key_id="k1", key=KEY, expires=EXP)
    assert one == issue_token(TYPICAL, key_id="k1", key=KEY, expires=EXP)
    assert one != issue_token(TYPICAL, key_id="k1", key=KEY, expires=EXP + 1)
    assert one != issue_token(TYPICAL, key_id="k1", key=OTHER, expires=EXP)


def test_key_rotation() -> None:
    """Tokens from the old key stay valid while it is listed; new ones use the active key."""
    old = issue_token(TYPICAL, key_id="k1", key=KEY, expires=EXP)
    new = issue_token(TYPICAL, key_id="k2", key=OTHER, expires=EXP)
    both = {"k1": KEY, "k2": OTHER}
    assert read_token(old, both, now=NOW) == read_token(new, both, now=NOW) == TYPICAL
    with pytest.raises(TokenError) as info:
        read_token(old, {"k2": OTHER}, now=NOW)
    assert info.value.reason == "unknown_key"


def test_key_id_is_bound_into_the_mac() -> None:
    """Renaming the key id in the payload (to another key with the same secret) fails."""
    token = issue_token(TYPICAL, key_id="k1", key=KEY, expires=EXP)
    payload, mac = token.split(".")
    _, exp, inputs = msgspec.msgpack.decode(_unb64(payload))
    renamed = _b64(msgspec.msgpack.encode(["k2", exp, inputs]))
    with pytest.raises(TokenError) as info:
        read_token(f"{renamed}.{mac}", {"k1": KEY, "k2": KEY}, now=NOW)
    assert info.value.reason == "bad_signature"


def test_expiry() -> None:
    token = issue_token(TYPICAL, key_id="k1", key=KEY, expires=EXP)
    for now in (EXP, EXP + 1):
        with pytest.raises(TokenError) as info:
            read_token(token, KEYS, now=now)
        assert info.value.reason == "expired"


def _edited_inputs() -> str:
    token = issue_token(TYPICAL, key_id="k1", key=KEY, expires=EXP)
    payload, mac = token.split(".")
    kid, exp, inputs = msgspec.msgpack.decode(_unb64(payload))
    inputs[9] = ["ads-skipped"]  # interests
    return f"{_b64(msgspec.msgpack.encode([kid, exp, inputs]))}.{mac}"


def _later_expiry() -> str:
    token = issue_token(TYPICAL, key_id="k1", key=KEY, expires=EXP)
    payload, mac = token.split(".")
    kid, _, inputs = msgspec.msgpack.decode(_unb64(payload))
    return f"{_b64(msgspec.msgpack.encode([kid, EXP * 2, inputs]))}.{mac}"


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
TOKEN = issue_token(TYPICAL, key_id="k1", key=KEY, expires=EXP)
REFUSED = [
    pytest.param("", "malformed", id="empty"),
    pytest.param("abc", "malformed", id="one-part"),
    pytest.param(TOKEN + ".x", "malformed", id="three-parts"),
    pytest.param(TOKEN.replace(".", ".."), "malformed", id="empty-part"),
    pytest.param(TOKEN + "=", "malformed", id="padding"),
    pytest.param(TOKEN.replace("-", "+").replace("_", "/"), "malformed", id="standard-b64"),
    pytest.param(TOKEN[:-1] + _ALPHABET[_ALPHABET.index(TOKEN[-1]) ^ 1], "malformed",
                 id="non-canonical-b64"),  # the last character's low 4 bits are padding
    pytest.param(TOKEN[:-2], "malformed", id="short-mac"),
    pytest.param(TOKEN + "AAAA", "malformed", id="long-mac"),
    pytest.param("é" + TOKEN, "malformed", id="non-ascii"),
    pytest.param("A" * 5000 + "." + "A" * 22, "malformed", id="too-long"),
    pytest.param(_forge(b"\xc1"), "malformed", id="not-msgpack"),
    pytest.param(_forge(msgspec.msgpack.encode({"kid": "k1"})), "malformed", id="map"),
    pytest.param(_forge(msgspec.msgpack.encode(["k1", EXP])), "malformed", id="no-inputs"),
    pytest.param(
        _forge(msgspec.msgpack.encode(["k1", EXP, [], 1])), "malformed", id="trailing-field"
    ),
    pytest.param(
        _forge(msgspec.msgpack.encode(["k1", EXP, ["sid"]])), "malformed", id="short-inputs"
    ),
    pytest.param(
        _forge(msgspec.msgpack.encode(["k1", EXP, ["bad sid", NOW, [], "phone", None]])),
        "malformed",
        id="invalid-inputs",
    ),
    pytest.param(_forge(b"\x93\xa2k1\x05" + b"\x91" * 2500 + b"\xc0"), "malformed", id="nested"),
    pytest.param(_forge(b"\x93\xa2\xce\x01\x05\x90"), "malformed", id="bad-utf8-kid"),
    pytest.param(_forge(msgspec.msgpack.encode(["k9", EXP, []])), "unknown_key", id="unknown"),
    pytest.param(TOKEN[:-3] + ("AAA" if TOKEN[-3:] != "AAA" else "BAA"), "bad_signature",
                 id="mac-changed"),
    pytest.param(_edited_inputs(), "bad_signature", id="edited-inputs"),
    pytest.param(_later_expiry(), "bad_signature", id="extended-expiry"),
]  # fmt: skip


@pytest.mark.parametrize(("token", "reason"), REFUSED)
def test_refused(token: str, reason: str) -> None:
    with pytest.raises(TokenError) as info:
        read_token(token, KEYS, now=NOW)
    assert info.value.reason == reason
    assert str(info.value)


def test_signed_by_another_key_with_the_same_id() -> None:
    token = issue_token(TYPICAL, key_id="k1", key=OTHER, expires=EXP)
    with pytest.raises(TokenError) as info:
        read_token(token, KEYS, now=NOW)
    assert info.value.reason == "bad_signature"
