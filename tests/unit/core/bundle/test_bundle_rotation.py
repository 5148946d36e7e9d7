"""Key rotation table: BUNDLES §6 row 28 (§4.4 rotation runbook), after python-tuf's
test_updater_key_rotations.py: each row is (signers, trust on the node, threshold, expected)."""

from typing import NamedTuple

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.bundle_support import (
    KEY_A,
    KEY_B,
    KEY_C,
    BundleFactory,
    TrustSpec,
    kid,
    refused,
    trust_store,
    verify_blob,
)

OLD, NEW, APPROVER = KEY_A, KEY_C, KEY_B


class Case(NamedTuple):
    signers: tuple[Ed25519PrivateKey, ...]
    trust: tuple[TrustSpec, ...]
    threshold: int
    expect: str | tuple[Ed25519PrivateKey, ...]  # a reason code, or the keys that counted


def active(key: Ed25519PrivateKey) -> TrustSpec:
    return TrustSpec(key)


def retired(key: Ed25519PrivateKey) -> TrustSpec:
    return TrustSpec(key, status="retired")


def revoked(key: Ed25519PrivateKey) -> TrustSpec:
    return TrustSpec(key, status="revoked")


CASES = {
    # Runbook step 2: sign with both keys; old-trust and new-trust nodes both accept.
    "dual-signed/old-trust": Case((OLD, NEW), (active(OLD),), 1, (OLD,)),
    "dual-signed/new-trust": Case((OLD, NEW), (active(NEW),), 1, (NEW,)),
    "dual-signed/both-trusted": Case((OLD, NEW), (active(OLD), active(NEW)), 1, (OLD, NEW)),
    # Step 3: the old key is retired, and still counts.
    "old-only/old-retired": Case((OLD,), (retired(OLD), active(NEW)), 1, (OLD,)),
    "dual-signed/old-retired": Case((OLD, NEW), (retired(OLD), active(NEW)), 1, (OLD, NEW)),
    # Compromise: a revoked key never counts.
    "old-only/old-revoked": Case((OLD,), (revoked(OLD), active(NEW)), 1, "signature_invalid"),
    "dual-signed/old-revoked": Case((OLD, NEW), (revoked(OLD), active(NEW)), 1, (NEW,)),
    "new-only/old-trust": Case((NEW,), (active(OLD),), 1, "signature_invalid"),
    # Threshold 2 (CI key plus a release approver), up and down.
    "2-of-2/met": Case((OLD, APPROVER), (active(OLD), active(APPROVER)), 2, (APPROVER, OLD)),
    "2-of-3/met": Case(
        (NEW, APPROVER), (active(OLD), active(NEW), active(APPROVER)), 2, (APPROVER, NEW)
    ),
    "2-of-2/one-revoked": Case(
        (OLD, APPROVER), (revoked(OLD), active(APPROVER)), 2, "threshold_not_met"
    ),
    "2-of-2/one-retired": Case(
        (OLD, APPROVER), (retired(OLD), active(APPROVER)), 2, (APPROVER, OLD)
    ),
    "threshold-up-3/two-sigs": Case(
        (OLD, APPROVER), (active(OLD), active(NEW), active(APPROVER)), 3, "threshold_not_met"
    ),
    "threshold-up-2/one-sig": Case((OLD,), (active(OLD), active(APPROVER)), 2, "threshold_not_met"),
    "threshold-down-1/one-sig": Case((OLD,), (active(OLD), active(APPROVER)), 1, (OLD,)),
    "3-of-3/all-rotated": Case(
        (OLD, NEW, APPROVER),
        (active(OLD), active(NEW), active(APPROVER)),
        3,
        (OLD, NEW, APPROVER),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_row28_key_rotation(case: Case) -> None:
    blob = BundleFactory(signers=case.signers).build()
    trust = trust_store(*case.trust, policies=[(("prod-*",), case.threshold)])
    if isinstance(case.expect, str):
        refused(case.expect, blob, trust=trust)
    else:
        v = verify_blob(blob, trust=trust)
        assert v.signer_keyids == tuple(sorted(kid(k) for k in case.expect))


def test_row28_strictest_matching_policy_wins() -> None:
    trust = trust_store(OLD, APPROVER, policies=[(("*",), 1), (("prod-*",), 2)])
    refused("threshold_not_met", BundleFactory(signers=(OLD,)).build(), trust=trust)
    staging = BundleFactory(name="staging-eu", signers=(OLD,)).build()
    assert verify_blob(staging, trust=trust).name == "staging-eu"
