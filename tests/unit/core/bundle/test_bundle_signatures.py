"""Signatures, envelope and file set: BUNDLES §6 rows 1-5, 12-18 (§4.3, §4.4, §4.5 steps 3, 7)."""

import base64
import json

import pytest

from edge_assembler.core.bundle import PAYLOAD_TYPE, build_archive, key_id, pae, public_raw
from tests.bundle_support import (
    KEY_A,
    KEY_B,
    STRANGER,
    BundleFactory,
    TrustSpec,
    at,
    envelope,
    envelope_of,
    kid,
    raw_archive,
    raw_member,
    refused,
    sign_bytes,
    trust_store,
    verify_blob,
)

GOOD = BundleFactory()


def test_pae_matches_the_dsse_vector() -> None:
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_is_unambiguous_where_concatenation_is_not() -> None:
    assert pae("a b", b"c") != pae("a", b"b c")


def test_key_id_is_computed_from_the_public_key() -> None:
    raw = public_raw(KEY_A)
    assert key_id(raw).startswith("ed25519:")
    assert len(key_id(raw)) == len("ed25519:") + 16
    assert key_id(raw) != key_id(public_raw(KEY_B))


def test_row1_rule_file_flipped_after_signing() -> None:
    members = GOOD.members()
    data = bytearray(members["rules/ads.json"])
    data[3] ^= 0x01
    members["rules/ads.json"] = bytes(data)
    refused("file_modified", build_archive(members))


@pytest.mark.parametrize(
    ("old", "new"),
    [(b'"revision": 10', b'"revision": 99'), (b"2026-10-05", b"2026-10-06")],
    ids=["revision", "expires"],
)
def test_row2_manifest_edited_signature_kept(old: bytes, new: bytes) -> None:
    members = GOOD.members()
    assert old in members["manifest.json"]
    members["manifest.json"] = members["manifest.json"].replace(old, new)
    refused("signature_invalid", build_archive(members))


@pytest.mark.parametrize("extra", ["rules/extra.json", "notes.txt", "tests/new.json"])
def test_row3_extra_file(extra: str) -> None:
    refused("file_added", build_archive({**GOOD.members(), extra: b"{}"}))


@pytest.mark.parametrize("stray", ["._x", ".DS_Store", "rules/._ads.json"])
def test_row3_apple_stray_files_are_refused_by_the_name_grammar_first(stray: str) -> None:
    """Names starting with a dot are outside the §4.1 grammar, so step 2 refuses them before the
    file-set check of step 7 could call them ``file_added``."""
    refused("unsafe_member", raw_archive(GOOD.members(), raw_member(stray, b"\0")))


def test_row4_missing_file() -> None:
    members = GOOD.members()
    del members["rules/lang.toml"]
    refused("file_missing", build_archive(members))


def test_row5_size_field_disagrees_manifest_resigned() -> None:
    doc = GOOD.manifest_doc()
    doc["files"]["rules/ads.json"]["size"] += 1  # type: ignore[index]
    refused("file_modified", GOOD.build(manifest=json.dumps(doc).encode()))


def test_row5_digest_disagrees_manifest_resigned() -> None:
    doc = GOOD.manifest_doc()
    doc["files"]["rules/ads.json"]["sha256"] = "0" * 64  # type: ignore[index]
    refused("file_modified", GOOD.build(manifest=json.dumps(doc).encode()))


def _sig_for(key=KEY_A) -> str:  # type: ignore[no-untyped-def]
    return sign_bytes(key, pae(PAYLOAD_TYPE, GOOD.manifest()))


ROW12 = [
    pytest.param(None, "unsigned", id="no-manifest.sig"),
    pytest.param(envelope_of([]), "unsigned", id="empty-signatures"),
    pytest.param(b"not json", "bad_signature_format", id="not-json"),
    pytest.param(b"[]", "bad_signature_format", id="not-an-object"),
    pytest.param(b'{"payloadType": "x"}', "bad_signature_format", id="no-signatures-field"),
    pytest.param(
        envelope_of([(kid(KEY_A), "!!not base64!!")]), "bad_signature_format", id="bad-base64"
    ),
    pytest.param(
        envelope_of([(kid(KEY_A), base64.b64encode(b"\1" * 63).decode())]),
        "bad_signature_format",
        id="63-byte-sig",
    ),
    pytest.param(
        envelope_of([(kid(KEY_A), base64.b64encode(b"\1" * 65).decode())]),
        "bad_signature_format",
        id="65-byte-sig",
    ),
    pytest.param(
        envelope_of([("rsa:0011223344556677", "A" * 86 + "==")]),
        "bad_signature_format",
        id="malformed-keyid",
    ),
    pytest.param(
        envelope_of([(kid(KEY_A), "A" * 86 + "==")] * 17), "bad_signature_format", id="17-sigs"
    ),
    pytest.param(
        b'{"payloadType": "a", "payloadType": "b", "signatures": []}',
        "bad_signature_format",
        id="duplicate-json-key",
    ),
    pytest.param(
        json.dumps(
            {
                "payloadType": PAYLOAD_TYPE,
                "signatures": [{"keyid": kid(KEY_A), "sig": "x"}],
                "extra": 1,
            }
        ).encode(),
        "bad_signature_format",
        id="unknown-field",
    ),
]


@pytest.mark.parametrize(("sig", "code"), ROW12)
def test_row12_unsigned_or_malformed_envelope(sig: bytes | None, code: str) -> None:
    members = GOOD.members()
    if sig is None:
        del members["manifest.sig"]
    else:
        members["manifest.sig"] = sig
    refused(code, build_archive(members))


def test_no_manifest_json_is_bad_manifest() -> None:
    members = GOOD.members()
    del members["manifest.json"]
    refused("bad_manifest", build_archive(members))


def test_row13_signed_by_a_stranger() -> None:
    refused("signature_invalid", GOOD.replace(signers=(STRANGER,)).build())


def test_row14_key_not_authorized_for_the_name() -> None:
    trust = trust_store(TrustSpec(KEY_A, names=("staging-*",)))
    refused("key_not_authorized", GOOD.build(), trust=trust)
    staging = GOOD.replace(name="staging-eu").build()
    assert verify_blob(staging, trust=trust).name == "staging-eu"


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        (TrustSpec(KEY_A, status="revoked"), "signature_invalid"),
        (TrustSpec(KEY_A, not_after="2026-09-21T11:59:59Z"), "signature_invalid"),
        (TrustSpec(KEY_A, not_after="2026-09-21T12:00:00Z"), "signature_invalid"),
        (TrustSpec(KEY_A, not_after="2026-09-21T12:00:01Z"), None),
        (TrustSpec(KEY_A, status="retired"), None),
    ],
    ids=["revoked", "past-not_after", "at-not_after", "before-not_after", "retired"],
)
def test_row15_revoked_or_expired_key(spec: TrustSpec, code: str | None) -> None:
    trust = trust_store(spec)
    if code is None:
        assert verify_blob(GOOD.build(), trust=trust).signer_keyids == (kid(KEY_A),)
    else:
        err = refused(code, GOOD.build(), trust=trust)
        assert kid(KEY_A) in err.message


THRESHOLD_2 = trust_store(KEY_A, KEY_B, policies=[(("prod-*",), 2)])


def test_row16_threshold_two_met_by_two_distinct_keys() -> None:
    v = verify_blob(GOOD.replace(signers=(KEY_A, KEY_B)).build(), trust=THRESHOLD_2)
    assert v.signer_keyids == tuple(sorted([kid(KEY_A), kid(KEY_B)]))


def test_row16_same_signature_twice() -> None:
    entry = (kid(KEY_A), _sig_for(KEY_A))
    refused("threshold_not_met", GOOD.build(sig=envelope_of([entry, entry])), trust=THRESHOLD_2)


def test_row16_same_key_under_two_keyids() -> None:
    sig = envelope(GOOD.manifest(), [KEY_A, KEY_A], keyids=[kid(KEY_A), kid(KEY_B)])
    refused("threshold_not_met", GOOD.build(sig=sig), trust=THRESHOLD_2)


def test_row16_one_good_one_bad() -> None:
    bad = base64.b64encode(b"\7" * 64).decode()
    sig = envelope_of([(kid(KEY_A), _sig_for(KEY_A)), (kid(KEY_B), bad)])
    refused("threshold_not_met", GOOD.build(sig=sig), trust=THRESHOLD_2)


def test_row16_unknown_keyids_are_ignored_not_fatal() -> None:
    sig = envelope(GOOD.manifest(), [STRANGER, KEY_A])
    assert verify_blob(GOOD.build(sig=sig)).signer_keyids == (kid(KEY_A),)


def test_row17_keyid_claims_k2_but_k1_signed() -> None:
    sig = envelope(GOOD.manifest(), [KEY_A], keyids=[kid(KEY_B)])
    refused("signature_invalid", GOOD.build(sig=sig), trust=trust_store(KEY_B))
    refused("signature_invalid", GOOD.build(sig=sig), trust=trust_store(KEY_A, KEY_B))


def test_row18_payload_type_changed() -> None:
    sig = envelope(GOOD.manifest(), [KEY_A], payload_type="application/json")
    refused("signature_invalid", GOOD.build(sig=sig))


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(PAYLOAD_TYPE.encode() + GOOD.manifest(), id="plain-concatenation"),
        pytest.param(GOOD.manifest(), id="raw-manifest-no-pae"),
        pytest.param(pae(PAYLOAD_TYPE + " 1", GOOD.manifest()), id="pae-length-shift"),
        pytest.param(pae("application/json", GOOD.manifest()), id="pae-other-type"),
    ],
)
def test_row18_signature_over_other_framing(message: bytes) -> None:
    sig = envelope_of([(kid(KEY_A), sign_bytes(KEY_A, message))])
    refused("signature_invalid", GOOD.build(sig=sig))


def test_signature_checks_use_the_single_now() -> None:
    trust = trust_store(TrustSpec(KEY_A, not_after="2026-09-22T00:00:00Z"))
    assert verify_blob(GOOD.build(), trust=trust, now=at(hours=11)).revision == 10
    refused("signature_invalid", GOOD.build(), trust=trust, now=at(hours=12))
