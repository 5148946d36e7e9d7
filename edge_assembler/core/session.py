"""Signed session tokens (DESIGN §2: Session propagation).

The master rewrite puts a token in every child URI so that any node rebuilds the
session's context from the child request alone, and a viewer cannot edit it::

    base64url(payload) "." base64url(HMAC-SHA256(key, kid "." payload)[:16])

``payload`` is the msgpack array ``[kid, exp, inputs]`` (``exp`` in unix seconds,
``inputs`` a ``ContextInputs`` as an array); base64url is unpadded. The key id is in
the payload and bound into the MAC, so keys rotate by adding a key, making it the active
one, and retiring the old one after a token lifetime. Tokens are deterministic: the same
inputs, key and expiry give the same token.
"""

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Literal

import msgspec

from edge_assembler.core.viewer import ContextInputs

MAC_BYTES = 16  # HMAC-SHA256 truncated to 128 bits (RFC 2104 §5)
MAX_TOKEN = 4096  # longer strings are not looked at
_PART = re.compile(r"[A-Za-z0-9_-]+")

Reason = Literal["malformed", "bad_signature", "unknown_key", "expired"]


class TokenError(Exception):
    """A session token that cannot be used; ``reason`` is a closed code (a metric label)."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


class _Envelope(msgspec.Struct, frozen=True, array_like=True):
    kid: str
    exp: int
    inputs: msgspec.Raw


def issue_token(inputs: ContextInputs, *, key_id: str, key: bytes, expires: int) -> str:
    """A token for ``inputs``, signed with ``key`` (named ``key_id``), valid until
    ``expires`` (unix seconds, exclusive)."""
    payload = msgspec.msgpack.encode(
        _Envelope(kid=key_id, exp=expires, inputs=msgspec.Raw(msgspec.msgpack.encode(inputs)))
    )
    return f"{_b64(payload)}.{_b64(_mac(key, key_id, payload))}"


def read_token(token: str, keys: Mapping[str, bytes], *, now: int) -> ContextInputs:
    """The inputs a token carries, once its key, MAC and expiry check out (in that
    order). Raises only ``TokenError``."""
    payload, mac = _split(token)
    # Decoding raises msgspec.DecodeError, or UnicodeDecodeError for a bad string (both
    # ValueErrors), or RecursionError for deep nesting.
    try:
        envelope = msgspec.msgpack.decode(payload, type=_Envelope)
    except (ValueError, RecursionError):
        raise TokenError("malformed", "token payload is not a session envelope") from None
    key = keys.get(envelope.kid)
    if key is None:
        raise TokenError("unknown_key", f"token signed with unknown key {envelope.kid[:32]!r}")
    if not hmac.compare_digest(mac, _mac(key, envelope.kid, payload)):
        raise TokenError("bad_signature", "token signature does not match")
    if now >= envelope.exp:
        raise TokenError("expired", "session token expired")
    try:
        return msgspec.msgpack.decode(envelope.inputs, type=ContextInputs)
    except (ValueError, RecursionError):
        raise TokenError("malformed", "token inputs do not decode") from None


def _mac(key: bytes, key_id: str, payload: bytes) -> bytes:
    message = key_id.encode() + b"." + payload
    return hmac.new(key, message, hashlib.sha256).digest()[:MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _split(token: str) -> tuple[bytes, bytes]:
    """The payload and MAC bytes, from canonical unpadded base64url only (so no two
    strings carry the same token)."""
    if len(token) > MAX_TOKEN:
        raise TokenError("malformed", "token too long")
    payload_text, sep, mac_text = token.partition(".")
    if not (sep and _PART.fullmatch(payload_text) and _PART.fullmatch(mac_text)):
        raise TokenError("malformed", "token is not two base64url parts")
    try:
        payload, mac = (
            base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
            for part in (payload_text, mac_text)
        )
    except binascii.Error:
        raise TokenError("malformed", "token is not base64url") from None
    if len(mac) != MAC_BYTES or _b64(payload) != payload_text or _b64(mac) != mac_text:
        raise TokenError("malformed", "token is not canonical base64url")
    return payload, mac
