"""Signing side: keys, and adding a signature to a built bundle (BUNDLES §4.3, §5 keygen/sign)."""

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_assembler.core.bundle.archive import ENVELOPE, MANIFEST, build_archive, read_archive
from edge_assembler.core.bundle.envelope import (
    PAYLOAD_TYPE,
    Envelope,
    Signature,
    encode_envelope,
    key_id,
    pae,
    parse_envelope,
)
from edge_assembler.core.bundle.errors import BundleError
from edge_assembler.core.bundle.limits import Limits
from edge_assembler.core.bundle.manifest import parse_manifest
from edge_assembler.core.bundle.trust import trust_entry
from edge_assembler.core.bundle.verify import check_files


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratedKey:
    """A new signing key: PKCS8 PEM for the signer, and its ``trust.json`` entry for the nodes."""

    keyid: str
    private_pem: bytes
    trust_entry: dict[str, object]


def public_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def private_key_pem(key: Ed25519PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS8 PEM, encrypted with the best available scheme when a passphrase is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def generate_key(
    *, passphrase: bytes | None = None, names: Sequence[str] = ("*",), comment: str = ""
) -> GeneratedKey:
    key = Ed25519PrivateKey.generate()
    raw = public_raw(key)
    return GeneratedKey(
        keyid=key_id(raw),
        private_pem=private_key_pem(key, passphrase),
        trust_entry=trust_entry(raw, names=names, comment=comment),
    )


def load_private_key(pem: bytes, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """Load a PEM private key; ``ValueError`` unless it is Ed25519 and the passphrase fits."""
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except TypeError as err:  # cryptography: passphrase given for a clear key, or missing
        raise ValueError(str(err)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def sign_bundle(
    blob: bytes,
    key: Ed25519PrivateKey,
    limits: Limits = Limits(),  # noqa: B008 - frozen Struct, safe as a default
) -> bytes:
    """Add or replace ``key``'s signature in ``manifest.sig``, keeping the others.

    The archive must pass the structural checks first (caps, member policy, a parseable manifest
    that lists exactly the files present); the result is rebuilt deterministically.
    """
    members = read_archive(blob, limits)
    if MANIFEST not in members:
        raise BundleError("bad_manifest", "the archive has no manifest.json")
    manifest_bytes = members[MANIFEST]
    check_files(parse_manifest(manifest_bytes), members)
    keyid = key_id(public_raw(key))
    others: tuple[Signature, ...] = ()
    if ENVELOPE in members:
        previous = parse_envelope(members[ENVELOPE], limits.max_signatures)
        others = tuple(s for s in previous.signatures if s.keyid != keyid)
    if len(others) + 1 > limits.max_signatures:
        raise BundleError("bad_signature_format", f"already {len(others)} signatures")
    sig = Signature(
        keyid=keyid,
        sig=base64.b64encode(key.sign(pae(PAYLOAD_TYPE, manifest_bytes))).decode("ascii"),
    )
    envelope = Envelope(payloadType=PAYLOAD_TYPE, signatures=(*others, sig))
    return build_archive({**members, ENVELOPE: encode_envelope(envelope)})
