"""``manifest.json``: the signed list of every file, name, revision and validity (BUNDLES §4.2)."""

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Final

import msgspec

from edge_assembler.core.bundle._json import check_utc_z, convert, format_utc, load_strict
from edge_assembler.core.bundle.archive import ENVELOPE, MANIFEST, check_member_name
from edge_assembler.core.bundle.errors import BundleError

BUNDLE_TYPE: Final = "edge-rules-bundle"
FORMAT_VERSION: Final = 1
RULES_PREFIX: Final = "rules/"

Name = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]{0,127}$")]
Revision = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
Version = Annotated[str, msgspec.Meta(pattern=r"^[0-9]+(\.[0-9]+){0,3}$")]


class FileEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    sha256: Sha256
    size: Annotated[int, msgspec.Meta(ge=0)]


class Manifest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The parsed manifest; ``load_order`` always lists every ``rules/`` document once."""

    type_: str = msgspec.field(name="_type")
    format_version: int
    name: Name
    revision: Revision
    created: UtcTime
    expires: UtcTime
    rules_schema_version: Annotated[int, msgspec.Meta(ge=0)]
    files: dict[str, FileEntry]
    load_order: tuple[str, ...] = ()
    min_worker_version: Version | None = None
    scope: dict[str, tuple[str, ...]] = {}
    source: dict[str, str] = {}


def _bad(message: str) -> BundleError:
    return BundleError("bad_manifest", message)


def _check_header(doc: dict[str, Any]) -> None:
    """``_type`` first, then ``format_version``: a future format is reported as such."""
    if doc.get("_type") != BUNDLE_TYPE:
        raise _bad(f"_type must be {BUNDLE_TYPE!r}")
    version = doc.get("format_version")
    if type(version) is not int:
        raise _bad("format_version must be an integer")
    if version != FORMAT_VERSION:
        raise BundleError("unsupported_format", f"format_version {version} is not supported")


def _check_files(manifest: Manifest) -> Manifest:
    for name in manifest.files:
        if name in (MANIFEST, ENVELOPE):
            raise _bad(f"files must not list {name}")
        try:
            check_member_name(name)
        except BundleError:
            raise _bad(f"files: member name not allowed: {name!r}") from None
    rules = sorted(n for n in manifest.files if n.startswith(RULES_PREFIX))
    if not manifest.load_order:
        return msgspec.structs.replace(manifest, load_order=tuple(rules))
    if sorted(manifest.load_order) != rules:
        raise _bad("load_order must list every rules/ document exactly once")
    return manifest


def parse_manifest(data: bytes) -> Manifest:
    """Strict parse (BUNDLES §4.2); ``bad_manifest`` or ``unsupported_format`` on any problem."""
    doc = load_strict(data, "bad_manifest", "manifest.json")
    if not isinstance(doc, dict):
        raise _bad("manifest.json must be a JSON object")
    _check_header(doc)
    for key in ("created", "expires"):
        check_utc_z(doc.get(key), "bad_manifest", f"$.{key}")
    known = {k: v for k, v in doc.items() if not k.startswith("x-")}
    manifest = convert(known, Manifest, "bad_manifest", "manifest.json")
    if manifest.expires <= manifest.created:
        raise _bad("expires must be after created")
    return _check_files(manifest)


def make_manifest(
    files: Mapping[str, bytes],
    *,
    name: str,
    revision: int,
    created: datetime,
    expires: datetime,
    rules_schema_version: int,
    scope: Mapping[str, list[str]] | None = None,
    load_order: Sequence[str] | None = None,
    source: Mapping[str, str] | None = None,
    min_worker_version: str | None = None,
) -> bytes:
    """Manifest bytes listing every file with its sha256 and size; parsed back before returning."""
    doc: dict[str, object] = {
        "_type": BUNDLE_TYPE,
        "format_version": FORMAT_VERSION,
        "name": name,
        "revision": revision,
        "created": format_utc(created),
        "expires": format_utc(expires),
        "rules_schema_version": rules_schema_version,
        "files": {
            n: {"sha256": hashlib.sha256(files[n]).hexdigest(), "size": len(files[n])}
            for n in sorted(files)
        },
        "load_order": list(load_order or sorted(n for n in files if n.startswith(RULES_PREFIX))),
    }
    if min_worker_version is not None:
        doc["min_worker_version"] = min_worker_version
    if scope:
        doc["scope"] = {k: list(v) for k, v in sorted(scope.items())}
    if source:
        doc["source"] = dict(sorted(source.items()))
    data = msgspec.json.format(msgspec.json.encode(doc), indent=2) + b"\n"
    parse_manifest(data)
    return data
