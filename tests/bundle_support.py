"""Shared bundle test harness (BUNDLES §6): valid bundles, raw malformed tars, signing any bytes.

* ``NOW`` / ``at(...)``: the fixed clock every verification in the tests uses.
* ``fixed_key(label)``: a deterministic Ed25519 key per label (same bytes on every run).
* ``BundleFactory``: builds valid signed bundles, with overrides for the manifest bytes, the
  envelope and the member set, so each §6 row is one small change from a good bundle.
* ``raw_member`` / ``raw_tar`` / ``gz``: hand-built ``TarInfo`` archives that the deterministic
  builder refuses to write (symlinks, devices, ``../`` names, duplicates, lying sizes).
* ``trust_store(...)``: a parsed ``TrustStore`` from ``TrustSpec`` rows.
* ``verify_blob(...)``: ``verify`` with the fixed clock and ``accept_files`` as ``compile``.
"""

import base64
import dataclasses
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_assembler.core.bundle import (
    ENVELOPE,
    MANIFEST,
    PAYLOAD_TYPE,
    BundleError,
    Limits,
    Manifest,
    NameState,
    NodePolicy,
    TrustStore,
    Verified,
    build_archive,
    key_id,
    make_manifest,
    pae,
    parse_trust,
    public_raw,
    trust_entry,
    verify,
)

NOW = datetime(2026, 9, 21, 12, 0, 0, tzinfo=UTC)


def at(**delta: float) -> datetime:
    """``NOW`` shifted by ``timedelta(**delta)``, e.g. ``at(days=-1)``."""
    return NOW + timedelta(**delta)


def fixed_key(label: str) -> Ed25519PrivateKey:
    """A deterministic key: the same label gives the same key in every test run."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


KEY_A = fixed_key("ci-2026")
KEY_B = fixed_key("release-approver")
KEY_C = fixed_key("ci-2027")
STRANGER = fixed_key("stranger")


def kid(key: Ed25519PrivateKey) -> str:
    return key_id(public_raw(key))


DEFAULT_FILES: Mapping[str, bytes] = {
    "rules/ads.json": b'{"rules": [{"id": "preroll", "layer": "default"}]}\n',
    "rules/lang.toml": b'[[rules]]\nid = "french-dub"\nlayer = "targeted"\n',
    "tests/returning.json": b'{"input_manifest": "vod", "expected_output": "same"}\n',
}


def accept_files(manifest: Manifest, files: Mapping[str, bytes]) -> dict[str, bytes]:
    """A ``compile`` for tests about everything but rules: the compiled form is the file dict."""
    return dict(files)


def sign_bytes(key: Ed25519PrivateKey, message: bytes) -> str:
    """Base64 Ed25519 signature over arbitrary bytes (no PAE applied)."""
    return base64.b64encode(key.sign(message)).decode("ascii")


def envelope(
    manifest_bytes: bytes,
    signers: Sequence[Ed25519PrivateKey],
    *,
    payload_type: str = PAYLOAD_TYPE,
    keyids: Sequence[str] | None = None,
) -> bytes:
    """``manifest.sig`` with one PAE signature per signer; ``keyids`` overrides the claimed ids."""
    message = pae(PAYLOAD_TYPE, manifest_bytes)
    ids = list(keyids) if keyids is not None else [kid(k) for k in signers]
    return envelope_of(
        [(i, sign_bytes(k, message)) for i, k in zip(ids, signers, strict=True)],
        payload_type=payload_type,
    )


def envelope_of(entries: Sequence[tuple[str, str]], *, payload_type: str = PAYLOAD_TYPE) -> bytes:
    """``manifest.sig`` from literal (keyid, base64 sig) pairs."""
    doc = {"payloadType": payload_type, "signatures": [{"keyid": k, "sig": s} for k, s in entries]}
    return json.dumps(doc).encode()


def raw_member(
    name: str,
    data: bytes = b"",
    *,
    type: bytes = tarfile.REGTYPE,
    linkname: str = "",
    size: int | None = None,
) -> tuple[tarfile.TarInfo, bytes]:
    """One hand-built member; ``size`` may lie about ``data``."""
    info = tarfile.TarInfo(name)
    info.type = type
    info.linkname = linkname
    info.size = len(data) if size is None else size
    info.mode = 0o644
    return info, data


def raw_tar(
    members: Sequence[tuple[tarfile.TarInfo, bytes]], *, fmt: Literal[0, 1, 2] = tarfile.PAX_FORMAT
) -> bytes:
    """An uncompressed tar written header by header (no name or type checks, duplicates kept)."""
    out = io.BytesIO()
    for info, data in members:
        out.write(info.tobuf(fmt, "utf-8", "surrogateescape"))
        out.write(data)
        out.write(b"\0" * (-len(data) % tarfile.BLOCKSIZE))
    out.write(b"\0" * (2 * tarfile.BLOCKSIZE))
    return out.getvalue()


def raw_archive(members: Mapping[str, bytes], *extra: tuple[tarfile.TarInfo, bytes]) -> bytes:
    """``members`` as plain regular files, then ``extra`` hand-built members, gzipped."""
    return gz(raw_tar([*(raw_member(n, d) for n, d in sorted(members.items())), *extra]))


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def read_tar(blob: bytes) -> dict[str, bytes]:
    """Members of a bundle, read with the plain stdlib (used to mutate valid bundles in tests)."""
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
        }


@dataclasses.dataclass(frozen=True)
class BundleFactory:
    """Valid signed bundles with one knob per §6 row; ``replace(...)`` derives a variant."""

    name: str = "prod-global"
    revision: int = 10
    created: datetime = dataclasses.field(default_factory=lambda: at(hours=-1))
    expires: datetime = dataclasses.field(default_factory=lambda: at(days=14))
    rules_schema_version: int = 1
    files: Mapping[str, bytes] = dataclasses.field(default_factory=lambda: dict(DEFAULT_FILES))
    signers: tuple[Ed25519PrivateKey, ...] = (KEY_A,)
    scope: Mapping[str, list[str]] | None = None
    min_worker_version: str | None = None

    def replace(self, **changes: object) -> "BundleFactory":
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def manifest(self) -> bytes:
        return make_manifest(
            self.files,
            name=self.name,
            revision=self.revision,
            created=self.created,
            expires=self.expires,
            rules_schema_version=self.rules_schema_version,
            scope=self.scope,
            source={"commit": "9f2c0de", "pipeline": "ci#5521"},
            min_worker_version=self.min_worker_version,
        )

    def members(
        self, *, manifest: bytes | None = None, sig: bytes | None = None
    ) -> dict[str, bytes]:
        """Every member of the bundle; ``manifest`` replaces the manifest bytes and is signed by
        ``signers`` unless ``sig`` replaces the envelope too."""
        body = self.manifest() if manifest is None else manifest
        signed = envelope(body, self.signers) if sig is None else sig
        return {**self.files, MANIFEST: body, ENVELOPE: signed}

    def build(self, *, manifest: bytes | None = None, sig: bytes | None = None) -> bytes:
        return build_archive(self.members(manifest=manifest, sig=sig))

    def manifest_doc(self) -> dict[str, object]:
        doc: dict[str, object] = json.loads(self.manifest())
        return doc


@dataclasses.dataclass(frozen=True)
class TrustSpec:
    key: Ed25519PrivateKey
    status: str = "active"
    names: tuple[str, ...] = ("*",)
    not_after: str | None = None


def trust_store(
    *specs: TrustSpec | Ed25519PrivateKey, policies: Sequence[tuple[Sequence[str], int]] = ()
) -> TrustStore:
    """``parse_trust`` over a ``trust.json`` of keys (active, any name) or ``TrustSpec`` rows."""
    keys = []
    for spec in specs:
        row = spec if isinstance(spec, TrustSpec) else TrustSpec(spec)
        entry = trust_entry(public_raw(row.key), names=row.names)
        entry["status"] = row.status
        if row.not_after is not None:
            entry["not_after"] = row.not_after
        keys.append(entry)
    doc = {
        "version": 1,
        "policies": [{"names": list(n), "threshold": t} for n, t in policies],
        "keys": keys,
    }
    return parse_trust(json.dumps(doc).encode())


DEFAULT_TRUST = trust_store(KEY_A)


def verify_blob(
    blob: bytes,
    *,
    trust: TrustStore = DEFAULT_TRUST,
    state: NameState | None = None,
    policy: NodePolicy = NodePolicy(),  # noqa: B008 - frozen
    now: datetime = NOW,
    compile: Callable[[Manifest, Mapping[str, bytes]], object] = accept_files,
    limits: Limits = Limits(),  # noqa: B008 - frozen
) -> Verified[object]:
    return verify(
        blob, trust=trust, state=state, policy=policy, now=now, compile=compile, limits=limits
    )


class _LastGood:
    """Stands in for whatever the caller was serving before the refused bundle arrived."""


def refused(code: str, blob: bytes, **kwargs: object) -> BundleError:
    """``verify`` refuses ``blob`` with ``code``, and the caller's last good result is untouched."""
    last_good = _LastGood()
    active: object = last_good
    with pytest.raises(BundleError) as info:
        active = verify_blob(blob, **kwargs)  # type: ignore[arg-type]
    assert info.value.code == code, str(info.value)
    assert active is last_good
    return info.value
