"""Per-name verification state: revision floor, active record and history (BUNDLES §4.6)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Final

import msgspec

from edge_assembler.core.bundle._json import require_aware
from edge_assembler.core.bundle.errors import BundleError
from edge_assembler.core.bundle.trust import TrustStore
from edge_assembler.core.bundle.verified import Verified

MAX_HISTORY: Final = 32
UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
Revision = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]


class ActiveRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    revision: Revision
    sha256: Sha256
    signer_keyids: tuple[str, ...]
    etag: str | None = None
    activated_at: UtcTime


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    revision: Revision
    sha256: Sha256
    signer_keyids: tuple[str, ...]
    activated_at: UtcTime


class NameState(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    floor_revision: Revision = 0
    active: ActiveRecord | None = None
    history: Annotated[tuple[HistoryEntry, ...], msgspec.Meta(max_length=MAX_HISTORY)] = ()
    etag: str | None = None


class State(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    names: Mapping[str, NameState] = {}


def parse_state(data: bytes) -> State:
    """Decode ``state.json``; ``bad_state`` on any problem."""
    try:
        return msgspec.json.decode(data, type=State)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as err:
        raise BundleError("bad_state", f"state.json: {err}") from None


def encode_state(state: State) -> bytes:
    return msgspec.json.format(msgspec.json.encode(state), indent=2) + b"\n"


def recompute_floor(ns: NameState, trust: TrustStore, name: str, min_revision: int) -> int:
    """Fast-forward recovery (BUNDLES §4.6, TUF §5.3.11): the highest revision in history whose
    non-revoked signers still meet the threshold, and never below ``min_revision``."""
    threshold = trust.threshold(name)
    vouched = [min_revision]
    for entry in ns.history:
        keys = [k for k in map(trust.key, entry.signer_keyids) if k and k.status != "revoked"]
        if len(trust.count_signers(keys, name)) >= threshold:
            vouched.append(entry.revision)
    return max(vouched)


def record_activation(state: State, v: Verified[object], now: datetime, etag: str | None) -> State:
    """The state after ``v`` was activated (or confirmed unchanged): floor, active, history ≤ 32."""
    require_aware(now, "now")
    ns = state.names.get(v.name, NameState())
    active = ns.active
    if v.not_modified and active and (active.revision, active.sha256) == (v.revision, v.sha256):
        updated = msgspec.structs.replace(
            ns, active=msgspec.structs.replace(active, etag=etag), etag=etag
        )
    else:
        entry = HistoryEntry(
            revision=v.revision, sha256=v.sha256, signer_keyids=v.signer_keyids, activated_at=now
        )
        kept = [h for h in ns.history if (h.revision, h.sha256) != (v.revision, v.sha256)]
        updated = NameState(
            floor_revision=max(ns.floor_revision, v.revision),
            active=ActiveRecord(
                revision=v.revision,
                sha256=v.sha256,
                signer_keyids=v.signer_keyids,
                etag=etag,
                activated_at=now,
            ),
            history=(*kept, entry)[-MAX_HISTORY:],
            etag=etag,
        )
    return State(names={**state.names, v.name: updated})
