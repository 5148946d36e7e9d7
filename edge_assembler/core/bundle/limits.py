"""Caps and node policy applied while verifying a bundle (BUNDLES §4.5, §4.6)."""

from collections.abc import Mapping
from datetime import timedelta

import msgspec

from edge_assembler import __version__

MiB = 1024 * 1024


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """Byte, count and time caps; defaults are BUNDLES §4.5."""

    max_compressed: int = 16 * MiB
    max_uncompressed: int = 64 * MiB
    max_members: int = 1000
    max_file: int = 16 * MiB
    max_manifest: int = 1 * MiB
    max_envelope: int = 64 * 1024
    max_signatures: int = 16
    skew: timedelta = timedelta(minutes=5)
    max_future_skew: timedelta = timedelta(hours=1)
    max_validity: timedelta = timedelta(days=30)


class NodePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """What this node accepts: bundle names (fnmatch globs), its scope facts, a revision floor."""

    names: tuple[str, ...] = ("*",)
    scope: Mapping[str, str] = {}
    min_revision: int = 0
    worker_version: str = __version__
