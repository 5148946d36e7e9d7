"""Time and revision rules: BUNDLES §6 rows 19-24 (§4.5 steps 5-6, §4.6)."""

from datetime import datetime, timedelta

import pytest

from edge_assembler.core.bundle import (
    NameState,
    NodePolicy,
    State,
    Verified,
    encode_state,
    parse_state,
    recompute_floor,
    record_activation,
    verify,
)
from tests.bundle_support import (
    KEY_A,
    KEY_C,
    NOW,
    BundleFactory,
    TrustSpec,
    accept_files,
    at,
    kid,
    refused,
    trust_store,
    verify_blob,
)

GOOD = BundleFactory()


def _active(*bundles: BundleFactory, trust=None) -> NameState:  # type: ignore[no-untyped-def]
    """State after activating ``bundles`` in order (each verified at its own ``created``)."""
    state = State()
    for b in bundles:
        kwargs = {"trust": trust} if trust is not None else {}
        v = verify_blob(b.build(), state=state.names.get(b.name), **kwargs)
        state = record_activation(state, v, NOW, etag=f'"{b.revision}"')
    return state.names[GOOD.name]


TIMES = [
    # Row 19: expiry, validity cap.
    pytest.param({"expires": at(minutes=-10)}, NOW, "expired", id="expired"),
    pytest.param({"expires": at(minutes=-5)}, NOW, "expired", id="expired-at-skew-edge"),
    pytest.param({"expires": at(minutes=-4)}, NOW, None, id="expired-within-skew"),
    pytest.param(
        {"expires": at(days=30, minutes=-59)}, NOW, "validity_too_long", id="validity>30d"
    ),
    pytest.param({"created": at(days=-15), "expires": at(days=15)}, NOW, None, id="validity=30d"),
    # Row 20: node clock behind (bundle created "in the future") or ahead.
    pytest.param({"created": at(minutes=30)}, NOW, None, id="created-ahead-within-1h"),
    pytest.param({"created": at(minutes=60)}, NOW, None, id="created-ahead-exactly-1h"),
    pytest.param({"created": at(minutes=61)}, NOW, "not_yet_valid", id="created-ahead-over-1h"),
    pytest.param({}, at(days=15), "expired", id="node-clock-ahead"),
]


@pytest.mark.parametrize(("fields", "now", "code"), TIMES)
def test_rows_19_20_time(fields: dict[str, datetime], now: datetime, code: str | None) -> None:
    blob = GOOD.replace(**fields).build()
    if code is None:
        assert verify_blob(blob, now=now).revision == 10
    else:
        refused(code, blob, now=now)


def test_naive_now_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_blob(GOOD.build(), now=NOW.replace(tzinfo=None))


def test_row21_replayed_older_revision() -> None:
    ns = _active(GOOD)
    refused("rollback", GOOD.replace(revision=9).build(), state=ns)


def test_row21_rollback_after_restart() -> None:
    ns = _active(GOOD)
    restored = parse_state(encode_state(State(names={GOOD.name: ns})))
    refused("rollback", GOOD.replace(revision=9).build(), state=restored.names[GOOD.name])


def test_row21_rollback_after_the_stored_bundle_expired() -> None:
    """python-tuf test_expired_timestamp_version_rollback: an expired record sets the floor."""
    ns = _active(GOOD)
    later = at(days=20)
    older = GOOD.replace(
        revision=9, created=later - timedelta(hours=1), expires=later + timedelta(days=1)
    ).build()
    refused("rollback", older, state=ns, now=later)


def test_row21_min_revision_backstop_after_state_loss() -> None:
    refused("rollback", GOOD.build(), state=None, policy=NodePolicy(min_revision=11))
    v = verify_blob(GOOD.build(), state=None, policy=NodePolicy(min_revision=10))
    assert not v.not_modified


def test_higher_revision_is_accepted() -> None:
    v = verify_blob(GOOD.replace(revision=11).build(), state=_active(GOOD))
    assert (v.revision, v.not_modified) == (11, False)


def test_revision_zero_on_fresh_state_is_new() -> None:
    v = verify_blob(GOOD.replace(revision=0).build(), state=NameState())
    assert (v.revision, v.not_modified) == (0, False)


def test_row22_same_revision_different_content() -> None:
    ns = _active(GOOD)
    variant = GOOD.replace(files={**GOOD.files, "rules/ads.json": b'{"rules": []}'})
    refused("equivocation", variant.build(), state=ns)


def test_row22_floor_without_a_record_is_equivocation() -> None:
    refused("equivocation", GOOD.build(), state=NameState(floor_revision=10))


def test_row23_same_revision_same_content_is_not_modified() -> None:
    ns = _active(GOOD)
    previous = ns.active
    v = verify_blob(GOOD.build(), state=ns)
    assert v.not_modified
    assert v.rules == dict(GOOD.files)  # compiled all the same: a restart can activate it
    after = record_activation(State(names={GOOD.name: ns}), v, at(hours=1), etag='"new"')
    kept = after.names[GOOD.name]
    assert kept.floor_revision == 10
    assert kept.history == ns.history
    assert kept.active is not None
    assert previous is not None
    assert kept.active.activated_at == previous.activated_at
    assert (kept.active.etag, kept.etag) == ('"new"', '"new"')


def test_row23_added_signature_is_the_same_content() -> None:
    """The digest is over the signed manifest, so a second signature is not new content."""
    ns = _active(GOOD)
    dual = GOOD.replace(signers=(KEY_A, KEY_C)).build()
    v = verify_blob(dual, state=ns, trust=trust_store(KEY_A, KEY_C))
    assert v.not_modified


def test_row24_fast_forward_recovery() -> None:
    """A leaked key signs revision 10^9; after it is revoked the floor is recomputed from the
    history, ignoring revoked signers, and a good revision is accepted again."""
    trust = trust_store(KEY_A, KEY_C)
    ns = _active(GOOD, BundleFactory(revision=10**9, signers=(KEY_C,)), trust=trust)
    assert ns.floor_revision == 10**9
    after_reload = trust_store(KEY_A, TrustSpec(KEY_C, status="revoked"))
    good = GOOD.replace(revision=11).build()
    refused("rollback", good, state=ns, trust=after_reload)
    floor = recompute_floor(ns, after_reload, GOOD.name, min_revision=0)
    assert floor == 10
    recovered = NameState(floor_revision=floor, active=ns.active, history=ns.history)
    v = verify(
        good,
        trust=after_reload,
        state=recovered,
        policy=NodePolicy(),
        now=NOW,
        compile=accept_files,
    )
    assert v.revision == 11
    # The leaked key's bundle itself stays refused: its signer is revoked.
    refused(
        "signature_invalid",
        BundleFactory(revision=10**9, signers=(KEY_C,)).build(),
        state=recovered,
        trust=after_reload,
    )


@pytest.mark.parametrize(
    ("reload", "min_revision", "floor"),
    [
        (trust_store(KEY_A, KEY_C), 0, 10**9),  # nothing revoked: the floor stays
        (trust_store(KEY_A, TrustSpec(KEY_C, status="retired")), 0, 10**9),
        (trust_store(KEY_A, TrustSpec(KEY_C, status="revoked")), 0, 10),
        (trust_store(KEY_A, TrustSpec(KEY_C, status="revoked")), 50, 50),
        (trust_store(KEY_A), 0, 10),  # removed from trust counts as unknown
        (trust_store(TrustSpec(KEY_A, status="revoked"), TrustSpec(KEY_C, status="revoked")), 0, 0),
        (trust_store(KEY_A, KEY_C, policies=[(("prod-*",), 2)]), 0, 0),
    ],
    ids=[
        "unchanged",
        "retired",
        "revoked",
        "min_revision",
        "removed",
        "all-revoked",
        "threshold-raised",
    ],
)
def test_row24_recompute_floor_table(reload, min_revision: int, floor: int) -> None:  # type: ignore[no-untyped-def]
    trust = trust_store(KEY_A, KEY_C)
    ns = _active(GOOD, BundleFactory(revision=10**9, signers=(KEY_C,)), trust=trust)
    assert recompute_floor(ns, reload, GOOD.name, min_revision) == floor


def test_signer_keyids_are_recorded_in_history() -> None:
    ns = _active(GOOD)
    assert ns.history[-1].signer_keyids == (kid(KEY_A),)
    assert isinstance(verify_blob(GOOD.build()), Verified)
