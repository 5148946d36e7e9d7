"""State and trust files: parse, encode, refuse (BUNDLES §4.4, §4.6; pure part of rows 31-32)."""

import base64
import json

import pytest

from edge_assembler.core.bundle import (
    BundleError,
    NameState,
    State,
    encode_state,
    key_id,
    parse_state,
    parse_trust,
    public_raw,
    record_activation,
    trust_entry,
)
from edge_assembler.core.bundle.state import MAX_HISTORY
from tests.bundle_support import KEY_A, KEY_B, NOW, BundleFactory, at, kid, verify_blob


def _entry(**changes: object) -> dict[str, object]:
    entry = trust_entry(public_raw(KEY_A), names=["prod-*"], comment="ci-2026")
    entry.update(changes)
    return entry


def _trust(*keys: dict[str, object], **top: object) -> bytes:
    return json.dumps({"version": 7, "policies": [], "keys": list(keys), **top}).encode()


def test_trust_entry_parses_back() -> None:
    store = parse_trust(_trust(_entry(not_after="2027-06-01T00:00:00Z")))
    key = store.key(kid(KEY_A))
    assert key is not None
    assert key.public == public_raw(KEY_A)
    assert (key.status, key.names, key.comment) == ("active", ("prod-*",), "ci-2026")
    assert store.threshold("prod-global") == 1


BAD_TRUST = [
    pytest.param(b"{", id="invalid-json"),
    pytest.param(b"[]", id="not-an-object"),
    pytest.param(_trust("not-a-key"), id="key-not-an-object"),
    pytest.param(_trust(_entry(), _entry()), id="duplicate-keyid"),
    pytest.param(_trust(_entry(keyid=key_id(public_raw(KEY_B)))), id="keyid-not-of-this-key"),
    pytest.param(_trust(_entry(public="%%%")), id="bad-base64"),
    pytest.param(_trust(_entry(public=base64.b64encode(b"\1" * 31).decode())), id="31-byte-public"),
    pytest.param(_trust(_entry(status="trusted")), id="unknown-status"),
    pytest.param(_trust(_entry(extra=1)), id="unknown-key-field"),
    pytest.param(_trust(_entry(not_after="2027-06-01T00:00:00")), id="naive-not_after"),
    pytest.param(_trust(_entry(), surprise=True), id="unknown-top-field"),
    pytest.param(_trust(policies=[{"names": ["*"], "threshold": 0}]), id="threshold-0"),
    pytest.param(b'{"version": 1, "version": 2}', id="duplicate-json-key"),
]


@pytest.mark.parametrize("data", BAD_TRUST)
def test_row32_bad_trust(data: bytes) -> None:
    with pytest.raises(BundleError) as info:
        parse_trust(data)
    assert info.value.code == "bad_trust", info.value


def _activate(state: State, revision: int) -> State:
    v = verify_blob(BundleFactory(revision=revision).build(), state=state.names.get("prod-global"))
    return record_activation(state, v, at(minutes=revision), etag=None)


def test_state_round_trips() -> None:
    state = _activate(State(), 1)
    assert parse_state(encode_state(state)) == state
    ns = state.names["prod-global"]
    assert ns.floor_revision == 1
    assert ns.active is not None
    assert ns.active.activated_at == at(minutes=1)


def test_history_keeps_the_last_32() -> None:
    state = State()
    for revision in range(1, MAX_HISTORY + 6):
        state = _activate(state, revision)
    ns = state.names["prod-global"]
    assert len(ns.history) == MAX_HISTORY
    assert [h.revision for h in ns.history] == list(range(6, MAX_HISTORY + 6))
    assert ns.floor_revision == MAX_HISTORY + 5
    assert parse_state(encode_state(state)) == state


BAD_STATE = [
    pytest.param(b"", id="empty"),
    pytest.param(b"{", id="truncated"),
    pytest.param(b'{"names": {"p": {"floor_revision": -1}}}', id="negative-floor"),
    pytest.param(b'{"names": {"p": {"floor_revision": 1.5}}}', id="float-floor"),
    pytest.param(b'{"names": {"p": {"extra": 1}}}', id="unknown-field"),
    pytest.param(
        b'{"names": {"p": {"active": {"revision": 1, "sha256": "00", "signer_keyids": [],'
        b' "activated_at": "2026-01-01T00:00:00Z"}}}}',
        id="bad-sha256",
    ),
    pytest.param(
        json.dumps(
            {
                "names": {
                    "p": {
                        "history": [
                            {
                                "revision": 1,
                                "sha256": "0" * 64,
                                "signer_keyids": [],
                                "activated_at": "2026-01-01T00:00:00",
                            }
                        ]
                    }
                }
            }
        ).encode(),
        id="naive-time",
    ),
    pytest.param(
        json.dumps(
            {
                "names": {
                    "p": {
                        "history": [
                            {
                                "revision": i,
                                "sha256": "0" * 64,
                                "signer_keyids": [],
                                "activated_at": "2026-01-01T00:00:00Z",
                            }
                            for i in range(33)
                        ]
                    }
                }
            }
        ).encode(),
        id="history-33",
    ),
]


@pytest.mark.parametrize("data", BAD_STATE)
def test_bad_state(data: bytes) -> None:
    with pytest.raises(BundleError) as info:
        parse_state(data)
    assert info.value.code == "bad_state", info.value


def test_record_activation_keeps_other_names() -> None:
    other = NameState(floor_revision=4)
    state = _activate(State(names={"canary-eu": other}), 2)
    assert state.names["canary-eu"] is other
    assert state.names["prod-global"].floor_revision == 2


def test_record_activation_requires_an_aware_now() -> None:
    v = verify_blob(BundleFactory().build())
    with pytest.raises(ValueError, match="timezone-aware"):
        record_activation(State(), v, NOW.replace(tzinfo=None), etag=None)


def test_unknown_reason_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown bundle reason code"):
        BundleError("no_such_code", "x")


def test_bundle_error_text() -> None:
    err = BundleError("rollback", "revision 9 is below the floor 10")
    assert (err.code, err.reason, err.message) == ("rollback", "rollback", err.message)
    assert str(err) == "rollback: revision 9 is below the floor 10"
