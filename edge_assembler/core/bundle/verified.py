"""The result of a successful verification (BUNDLES §4.5)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from edge_assembler.core.bundle.manifest import Manifest

T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verified(Generic[T_co]):
    """A bundle that passed every step; ``sha256`` is the digest of the signed manifest bytes, which
    pin every file, so adding a signature to the same content is not a new revision's content."""

    name: str
    revision: int
    sha256: str
    manifest: Manifest
    manifest_bytes: bytes
    signer_keyids: tuple[str, ...]
    files: Mapping[str, bytes]
    rules: T_co
    not_modified: bool
