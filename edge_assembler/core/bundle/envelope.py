"""The ``manifest.sig`` envelope: DSSE-style PAE over the raw manifest bytes (BUNDLES §4.3)."""

import base64
import binascii
import hashlib
import re
from typing import Final

import msgspec

from edge_assembler.core.bundle._json import convert, load_strict
from edge_assembler.core.bundle.errors import BundleError

PAYLOAD_TYPE: Final = "application/vnd.edge-rules.manifest+json;v=1"
_KEYID = re.compile(r"ed25519:[0-9a-f]{16}", re.ASCII)
_SIG_BYTES: Final = 64


class Signature(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    keyid: str
    sig: str


class Envelope(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    payloadType: str
    signatures: tuple[Signature, ...]


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding:
    ``"DSSEv1" SP len(type) SP type SP len(body) SP body``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def key_id(public_raw: bytes) -> str:
    """``"ed25519:" + sha256(raw public key)[:16 hex]``, computed locally (securesystemslib#51)."""
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


def signature_bytes(sig: Signature) -> bytes:
    """Strict base64 of exactly 64 bytes, else ``bad_signature_format``."""
    try:
        raw = base64.b64decode(sig.sig, validate=True)
    except (binascii.Error, ValueError):
        raise BundleError("bad_signature_format", f"{sig.keyid}: sig is not base64") from None
    if len(raw) != _SIG_BYTES or base64.b64encode(raw).decode("ascii") != sig.sig:
        raise BundleError("bad_signature_format", f"{sig.keyid}: sig is not 64 canonical bytes")
    return raw


def parse_envelope(data: bytes, max_signatures: int) -> Envelope:
    """Parse ``manifest.sig``: 1..max_signatures well-formed entries (BUNDLES §4.5 step 3)."""
    envelope = convert(
        load_strict(data, "bad_signature_format", "manifest.sig"),
        Envelope,
        "bad_signature_format",
        "manifest.sig",
    )
    if not envelope.signatures:
        raise BundleError("unsigned", "manifest.sig holds no signatures")
    if len(envelope.signatures) > max_signatures:
        raise BundleError(
            "bad_signature_format",
            f"{len(envelope.signatures)} signatures, limit {max_signatures}",
        )
    for sig in envelope.signatures:
        if not _KEYID.fullmatch(sig.keyid):
            raise BundleError("bad_signature_format", f"malformed keyid {sig.keyid!r}")
        signature_bytes(sig)
    return envelope


def encode_envelope(envelope: Envelope) -> bytes:
    return msgspec.json.encode(envelope) + b"\n"
