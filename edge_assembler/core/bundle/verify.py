"""The verification pipeline, BUNDLES §4.5 steps 1-8 in order, with the time rules of §4.6.

Pure: bytes, trust, state, policy and one ``now`` in; a ``Verified`` or a ``BundleError`` out.
"""

import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import TypeVar

from edge_assembler.core.bundle._json import require_aware
from edge_assembler.core.bundle.archive import ENVELOPE, MANIFEST, read_archive
from edge_assembler.core.bundle.envelope import PAYLOAD_TYPE, parse_envelope
from edge_assembler.core.bundle.errors import BundleError
from edge_assembler.core.bundle.limits import Limits, NodePolicy
from edge_assembler.core.bundle.manifest import Manifest, parse_manifest
from edge_assembler.core.bundle.state import NameState
from edge_assembler.core.bundle.trust import TrustKey, TrustStore, valid_signers
from edge_assembler.core.bundle.verified import Verified

T = TypeVar("T")
_VERSION_PREFIX = re.compile(r"[0-9]+(\.[0-9]+)*", re.ASCII)


def _version(text: str) -> tuple[int, ...]:
    match = _VERSION_PREFIX.match(text)
    parts = [int(p) for p in match.group().split(".")] if match else [0]
    return tuple(parts + [0] * (4 - len(parts)))


def _signed_parts(members: Mapping[str, bytes]) -> tuple[bytes, bytes]:
    """Step 3 preconditions: both ``manifest.json`` and ``manifest.sig`` are present."""
    if MANIFEST not in members:
        raise BundleError("bad_manifest", "the archive has no manifest.json")
    if ENVELOPE not in members:
        raise BundleError("unsigned", "the archive has no manifest.sig")
    return members[MANIFEST], members[ENVELOPE]


def _signers(
    members: Mapping[str, bytes], trust: TrustStore, now: datetime, limits: Limits
) -> tuple[bytes, tuple[TrustKey, ...]]:
    """Step 3: at least one trusted, usable key signed PAE(payloadType, manifest bytes)."""
    manifest_bytes, envelope_bytes = _signed_parts(members)
    envelope = parse_envelope(envelope_bytes, limits.max_signatures)
    if envelope.payloadType != PAYLOAD_TYPE:
        # CVE-2022-35929: a signature for one payload type must not pass as another.
        raise BundleError("signature_invalid", f"payloadType {envelope.payloadType!r}")
    good, notes = valid_signers(trust, envelope, manifest_bytes, now)
    if not good:
        raise BundleError("signature_invalid", "no valid trusted signature: " + "; ".join(notes))
    return manifest_bytes, good


def _check_authority(
    manifest: Manifest, good: tuple[TrustKey, ...], trust: TrustStore, policy: NodePolicy
) -> tuple[str, ...]:
    """Step 4: name pinned by the node, signers authorized, threshold, scope, worker version."""
    name = manifest.name
    if not any(fnmatchcase(name, pattern) for pattern in policy.names):
        raise BundleError("wrong_name", f"{name!r} is not accepted by this node")
    signers = trust.count_signers(good, name)
    if not signers:
        raise BundleError("key_not_authorized", f"no valid signer may sign {name!r}")
    threshold = trust.threshold(name)
    if len(signers) < threshold:
        raise BundleError(
            "threshold_not_met", f"{len(signers)} distinct signer(s), {name!r} needs {threshold}"
        )
    for fact, patterns in sorted(manifest.scope.items()):
        value = policy.scope.get(fact, "")
        if not any(fnmatchcase(value, pattern) for pattern in patterns):
            raise BundleError("wrong_scope", f"scope {fact}={value!r} not in {list(patterns)}")
    wanted = manifest.min_worker_version
    if wanted is not None and _version(policy.worker_version) < _version(wanted):
        raise BundleError(
            "unsupported_format", f"needs worker >= {wanted}, this is {policy.worker_version}"
        )
    return tuple(k.keyid for k in signers)


def _check_time(manifest: Manifest, now: datetime, limits: Limits) -> None:
    """Step 5, one ``now`` for every comparison (TUF §5.1)."""
    if manifest.created > now + limits.max_future_skew:
        raise BundleError("not_yet_valid", f"created {manifest.created.isoformat()} is ahead")
    if manifest.expires <= now - limits.skew:
        raise BundleError("expired", f"expired at {manifest.expires.isoformat()}")
    if manifest.expires - manifest.created > limits.max_validity:
        raise BundleError("validity_too_long", f"valid for more than {limits.max_validity}")


def _check_revision(
    manifest: Manifest, sha256: str, state: NameState | None, policy: NodePolicy
) -> bool:
    """Step 6 (BUNDLES §4.6); True when this is the content already accepted at the floor.

    The floor holds even when the stored bundle has expired (python-tuf
    test_expired_timestamp_version_rollback); ``min_revision`` is a backstop after state loss.
    """
    ns = state or NameState()
    revision, floor = manifest.revision, ns.floor_revision
    lowest = max(floor, policy.min_revision)
    if revision < lowest:
        raise BundleError("rollback", f"revision {revision} is below the floor {lowest}")
    if revision > floor:
        return False
    known = {h.sha256 for h in ns.history if h.revision == revision}
    if ns.active and ns.active.revision == revision:
        known.add(ns.active.sha256)
    if sha256 in known:
        return True
    if known or floor > 0:
        raise BundleError("equivocation", f"revision {revision} was accepted with other content")
    return False


def check_files(manifest: Manifest, members: Mapping[str, bytes]) -> dict[str, bytes]:
    """Step 7: the archive's files are exactly ``manifest.files``; then size, then sha256."""
    files = {n: data for n, data in members.items() if n not in (MANIFEST, ENVELOPE)}
    added = sorted(files.keys() - manifest.files.keys())
    if added:
        raise BundleError("file_added", f"not in the manifest: {', '.join(added)}")
    missing = sorted(manifest.files.keys() - files.keys())
    if missing:
        raise BundleError("file_missing", f"listed but absent: {', '.join(missing)}")
    for name, entry in sorted(manifest.files.items()):
        data = files[name]
        if len(data) != entry.size:
            raise BundleError("file_modified", f"{name}: {len(data)} bytes, manifest {entry.size}")
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise BundleError("file_modified", f"{name}: sha256 differs from the manifest")
    return files


def verify(
    blob: bytes,
    *,
    trust: TrustStore,
    state: NameState | None,
    policy: NodePolicy,
    now: datetime,
    compile: Callable[[Manifest, Mapping[str, bytes]], T],
    limits: Limits = Limits(),  # noqa: B008 - frozen Struct, safe as a default
) -> Verified[T]:
    """Run BUNDLES §4.5 steps 1-8; only ``BundleError`` escapes (``compile`` raises it for step 8).

    ``not_modified`` is set, not raised, when the revision equals the floor with the same content:
    the caller decides (e.g. a restart re-activates its persisted bundle).
    """
    require_aware(now, "now")
    members = read_archive(blob, limits)  # steps 1-2
    manifest_bytes, good = _signers(members, trust, now, limits)  # step 3
    manifest = parse_manifest(manifest_bytes)  # step 4
    signer_keyids = _check_authority(manifest, good, trust, policy)
    _check_time(manifest, now, limits)  # step 5
    sha256 = hashlib.sha256(manifest_bytes).hexdigest()
    not_modified = _check_revision(manifest, sha256, state, policy)  # step 6
    files = check_files(manifest, members)  # step 7
    view = MappingProxyType(files)
    rules = compile(manifest, view)  # step 8
    return Verified(
        name=manifest.name,
        revision=manifest.revision,
        sha256=sha256,
        manifest=manifest,
        manifest_bytes=manifest_bytes,
        signer_keyids=signer_keyids,
        files=view,
        rules=rules,
        not_modified=not_modified,
    )
