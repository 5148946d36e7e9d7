"""The local trust store: keys with status, names and expiry; per-name thresholds (BUNDLES §4.4)."""

import base64
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge_assembler.core.bundle._json import check_utc_z, convert, load_strict
from edge_assembler.core.bundle.envelope import PAYLOAD_TYPE, Envelope, key_id, pae, signature_bytes
from edge_assembler.core.bundle.errors import BundleError

KeyStatus = Literal["active", "retired", "revoked"]
_PUBLIC_BYTES = 32


class TrustKey(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    keyid: str
    public: bytes
    status: KeyStatus
    names: tuple[str, ...] = ()
    not_after: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    revoked_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    comment: str = ""

    def may_sign(self, name: str) -> bool:
        return any(fnmatchcase(name, pattern) for pattern in self.names)

    def usable(self, now: datetime) -> bool:
        """Revoked keys never count, nor keys past ``not_after`` (BUNDLES §4.4)."""
        return self.status != "revoked" and (self.not_after is None or now < self.not_after)


class TrustPolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    names: tuple[str, ...]
    threshold: Annotated[int, msgspec.Meta(ge=1)] = 1


class TrustStore(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    version: Annotated[int, msgspec.Meta(ge=0)] = 0
    policies: tuple[TrustPolicy, ...] = ()
    keys: tuple[TrustKey, ...] = ()

    def key(self, keyid: str) -> TrustKey | None:
        return next((k for k in self.keys if k.keyid == keyid), None)

    def threshold(self, name: str) -> int:
        """The strictest threshold of the policies that match ``name``; 1 when none does."""
        matching = [
            p.threshold for p in self.policies if any(fnmatchcase(name, g) for g in p.names)
        ]
        return max(matching, default=1)

    def count_signers(self, keys: Iterable[TrustKey], name: str) -> tuple[TrustKey, ...]:
        """Distinct public keys among ``keys`` that may sign ``name`` (GHSA-pwqf-9h7j-7mv8)."""
        seen: dict[bytes, TrustKey] = {}
        for k in keys:
            if k.may_sign(name):
                seen.setdefault(k.public, k)
        return tuple(sorted(seen.values(), key=lambda k: k.keyid))


def valid_signers(
    trust: TrustStore, envelope: Envelope, manifest_bytes: bytes, now: datetime
) -> tuple[tuple[TrustKey, ...], tuple[str, ...]]:
    """Trusted, usable keys whose signature over PAE(manifest) verifies, and notes on the rest.

    The keyid only selects a key; the signature is checked with that key alone. Unknown keyids are
    skipped so that a bundle can be signed by old and new keys at once (BUNDLES §4.4).
    """
    message = pae(PAYLOAD_TYPE, manifest_bytes)
    good: list[TrustKey] = []
    notes: list[str] = []
    for sig in envelope.signatures:
        trusted = trust.key(sig.keyid)
        if trusted is None:
            notes.append(f"{sig.keyid}: unknown key")
        elif not trusted.usable(now):
            state = "revoked" if trusted.status == "revoked" else "past not_after"
            notes.append(f"{sig.keyid}: key is {state}")
        else:
            try:
                Ed25519PublicKey.from_public_bytes(trusted.public).verify(
                    signature_bytes(sig), message
                )
            except InvalidSignature:
                notes.append(f"{sig.keyid}: signature does not verify")
            else:
                good.append(trusted)
    return tuple(good), tuple(notes)


def _check_key_times(doc: Mapping[str, Any]) -> None:
    keys = doc.get("keys")
    for i, entry in enumerate(keys if isinstance(keys, list) else ()):
        if isinstance(entry, dict):
            for field in ("not_after", "revoked_at"):
                check_utc_z(entry.get(field), "bad_trust", f"$.keys[{i}].{field}")


def parse_trust(data: bytes) -> TrustStore:
    """Parse ``trust.json``; ``bad_trust`` on bad JSON, unknown fields, a public key that is not 32
    bytes, a keyid that does not match its key, or a duplicate keyid (BUNDLES §4.4, §6 row 32)."""
    doc = load_strict(data, "bad_trust", "trust.json")
    if not isinstance(doc, dict):
        raise BundleError("bad_trust", "trust.json must be a JSON object")
    _check_key_times(doc)
    store = convert(doc, TrustStore, "bad_trust", "trust.json")
    seen: set[str] = set()
    for k in store.keys:
        if len(k.public) != _PUBLIC_BYTES:
            raise BundleError("bad_trust", f"{k.keyid}: public key must be 32 bytes")
        if key_id(k.public) != k.keyid:
            raise BundleError("bad_trust", f"{k.keyid}: keyid does not match the public key")
        if k.keyid in seen:
            raise BundleError("bad_trust", f"{k.keyid}: duplicate keyid")
        seen.add(k.keyid)
    return store


def trust_entry(
    public_raw: bytes, *, names: Sequence[str] = ("*",), comment: str = ""
) -> dict[str, object]:
    """A ready ``keys[]`` entry for ``trust.json`` (status ``active``)."""
    entry: dict[str, object] = {
        "keyid": key_id(public_raw),
        "public": base64.b64encode(public_raw).decode("ascii"),
        "status": "active",
        "names": list(names),
    }
    if comment:
        entry["comment"] = comment
    return entry
