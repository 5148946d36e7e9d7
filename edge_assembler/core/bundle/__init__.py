"""Signed rule bundles, the pure half (BUNDLES §4): bytes in, a verified bundle or a reason out.

No file, network or clock access: callers pass the archive bytes, the trust store, the per-name
state, the node policy and one ``now``. ``rules_compiler`` (in ``.rules``) is the production
``compile``.
"""

from edge_assembler.core.bundle.archive import ENVELOPE, MANIFEST, build_archive, read_archive
from edge_assembler.core.bundle.diff import BundleDiff, DocumentDiff, diff
from edge_assembler.core.bundle.envelope import PAYLOAD_TYPE, key_id, pae
from edge_assembler.core.bundle.errors import REASON_CODES, BundleError
from edge_assembler.core.bundle.limits import Limits, NodePolicy
from edge_assembler.core.bundle.manifest import FileEntry, Manifest, make_manifest, parse_manifest
from edge_assembler.core.bundle.signing import (
    GeneratedKey,
    generate_key,
    load_private_key,
    private_key_pem,
    public_raw,
    sign_bundle,
)
from edge_assembler.core.bundle.state import (
    ActiveRecord,
    HistoryEntry,
    NameState,
    State,
    encode_state,
    parse_state,
    recompute_floor,
    record_activation,
)
from edge_assembler.core.bundle.trust import (
    TrustKey,
    TrustPolicy,
    TrustStore,
    parse_trust,
    trust_entry,
)
from edge_assembler.core.bundle.verified import Verified
from edge_assembler.core.bundle.verify import verify

__all__ = [
    "ENVELOPE",
    "MANIFEST",
    "PAYLOAD_TYPE",
    "REASON_CODES",
    "ActiveRecord",
    "BundleDiff",
    "BundleError",
    "DocumentDiff",
    "FileEntry",
    "GeneratedKey",
    "HistoryEntry",
    "Limits",
    "Manifest",
    "NameState",
    "NodePolicy",
    "State",
    "TrustKey",
    "TrustPolicy",
    "TrustStore",
    "Verified",
    "build_archive",
    "diff",
    "encode_state",
    "generate_key",
    "key_id",
    "load_private_key",
    "make_manifest",
    "pae",
    "parse_manifest",
    "parse_state",
    "parse_trust",
    "private_key_pem",
    "public_raw",
    "read_archive",
    "recompute_floor",
    "record_activation",
    "sign_bundle",
    "trust_entry",
    "verify",
]
