"""Deterministic build, signing, keys: BUNDLES §6 row 37 (§4.1 builder, §4.3, §5 keygen/sign)."""

import gzip
import hashlib
import io
import json
import tarfile

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edge_assembler.core.bundle import (
    BundleError,
    Limits,
    build_archive,
    generate_key,
    load_private_key,
    parse_manifest,
    parse_trust,
    private_key_pem,
    read_archive,
    sign_bundle,
)
from tests.bundle_support import (
    DEFAULT_FILES,
    KEY_A,
    KEY_B,
    STRANGER,
    BundleFactory,
    kid,
    raw_archive,
    raw_member,
    trust_store,
    verify_blob,
)

UNSIGNED = BundleFactory()


def _unsigned_blob() -> bytes:
    return build_archive({**UNSIGNED.files, "manifest.json": UNSIGNED.manifest()})


def _keyids(blob: bytes) -> list[str]:
    sig = json.loads(read_archive(blob, Limits())["manifest.sig"])
    return [s["keyid"] for s in sig["signatures"]]


def test_row37_build_twice_is_byte_identical() -> None:
    assert _unsigned_blob() == _unsigned_blob()
    assert build_archive(dict(reversed(list(DEFAULT_FILES.items())))) == build_archive(
        DEFAULT_FILES
    )


def test_row37_archive_headers_are_normalised() -> None:
    blob = build_archive(DEFAULT_FILES)
    assert blob[4:8] == b"\0\0\0\0"  # gzip MTIME
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob)), mode="r:") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(DEFAULT_FILES)
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.mode, m.uname, m.gname) == (0, 0, 0, 0o644, "", "")
        assert m.isreg()


def test_row37_resign_keeps_digests_and_files() -> None:
    once = sign_bundle(_unsigned_blob(), KEY_A)
    twice = sign_bundle(once, KEY_B)
    a, b = read_archive(once, Limits()), read_archive(twice, Limits())
    assert a["manifest.json"] == b["manifest.json"]
    for name in DEFAULT_FILES:
        assert hashlib.sha256(a[name]).digest() == hashlib.sha256(b[name]).digest()
    assert _keyids(twice) == [kid(KEY_A), kid(KEY_B)]
    assert sign_bundle(_unsigned_blob(), KEY_A) == once  # Ed25519 is deterministic


def test_sign_replaces_its_own_signature_and_keeps_others() -> None:
    blob = sign_bundle(sign_bundle(sign_bundle(_unsigned_blob(), KEY_A), KEY_B), KEY_A)
    assert _keyids(blob) == [kid(KEY_B), kid(KEY_A)]
    v = verify_blob(blob, trust=trust_store(KEY_A, KEY_B, policies=[(("*",), 2)]))
    assert v.signer_keyids == tuple(sorted([kid(KEY_A), kid(KEY_B)]))


def test_signed_bundle_equals_factory_bundle() -> None:
    assert (
        verify_blob(sign_bundle(_unsigned_blob(), KEY_A)).sha256
        == verify_blob(UNSIGNED.build()).sha256
    )


REFUSED = [
    pytest.param(raw_archive(DEFAULT_FILES, raw_member("../x")), "unsafe_member", id="unsafe"),
    pytest.param(build_archive(DEFAULT_FILES), "bad_manifest", id="no-manifest"),
    pytest.param(
        build_archive({**DEFAULT_FILES, "manifest.json": b"{}"}), "bad_manifest", id="bad-manifest"
    ),
    pytest.param(
        build_archive(
            {**DEFAULT_FILES, "rules/x.json": b"{}", "manifest.json": UNSIGNED.manifest()}
        ),
        "file_added",
        id="file-set",
    ),
    pytest.param(
        build_archive(
            {**DEFAULT_FILES, "manifest.json": UNSIGNED.manifest(), "manifest.sig": b"junk"}
        ),
        "bad_signature_format",
        id="bad-envelope",
    ),
    pytest.param(b"not gzip", "bad_archive", id="not-gzip"),
]


@pytest.mark.parametrize(("blob", "code"), REFUSED)
def test_sign_refuses_structurally_bad_archives(blob: bytes, code: str) -> None:
    with pytest.raises(BundleError) as info:
        sign_bundle(blob, KEY_A)
    assert info.value.code == code


def test_sign_refuses_more_than_max_signatures() -> None:
    blob = sign_bundle(sign_bundle(_unsigned_blob(), KEY_A), KEY_B)
    with pytest.raises(BundleError) as info:
        sign_bundle(blob, STRANGER, Limits(max_signatures=2))
    assert info.value.code == "bad_signature_format"


def test_generated_key_signs_bundles_its_trust_entry_accepts() -> None:
    generated = generate_key(names=["prod-*"], comment="ci-2027")
    key = load_private_key(generated.private_pem)
    trust = parse_trust(json.dumps({"keys": [generated.trust_entry]}).encode())
    v = verify_blob(sign_bundle(_unsigned_blob(), key), trust=trust)
    assert v.signer_keyids == (generated.keyid,)
    assert generated.private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")


def test_passphrase_protected_key() -> None:
    pem = private_key_pem(KEY_A, b"s3cret")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert kid(load_private_key(pem, b"s3cret")) == kid(KEY_A)
    with pytest.raises(ValueError):  # noqa: PT011 - cryptography's message varies by version
        load_private_key(pem, b"wrong")
    with pytest.raises(ValueError, match="encrypted"):
        load_private_key(pem)


def test_load_private_key_refuses_other_key_types() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="not an Ed25519"):
        load_private_key(pem)


def test_manifest_lists_every_file_with_digest_and_size() -> None:
    m = parse_manifest(UNSIGNED.manifest())
    assert set(m.files) == set(DEFAULT_FILES)
    for name, data in DEFAULT_FILES.items():
        assert m.files[name].sha256 == hashlib.sha256(data).hexdigest()
        assert m.files[name].size == len(data)
