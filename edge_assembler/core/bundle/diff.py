"""Rule-level difference between two bundles' files (BUNDLES §5 ``diff``).

Files are compared by bytes. For TOML/JSON documents present on both sides, the top-level items
are compared too: entries of a list of tables with an ``id`` (``rules``, ``assets``) or of a table
of tables are named ``section:id``; any other top-level key is named by itself. A document that
does not parse is compared as bytes only.
"""

import json
import tomllib
from collections.abc import Mapping
from typing import Any

import msgspec

from edge_assembler.core.bundle.archive import ENVELOPE, MANIFEST


class DocumentDiff(msgspec.Struct, frozen=True, kw_only=True):
    file: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()


class BundleDiff(msgspec.Struct, frozen=True, kw_only=True):
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    documents: tuple[DocumentDiff, ...] = ()


def _parse(name: str, data: bytes) -> dict[str, Any] | None:
    try:
        if name.endswith(".toml"):
            return tomllib.loads(data.decode("utf-8"))
        if name.endswith(".json"):
            doc = json.loads(data.decode("utf-8"))
            return doc if isinstance(doc, dict) else None
    except (ValueError, RecursionError):
        return None
    return None


def _items(doc: Mapping[str, Any]) -> dict[str, Any]:
    items: dict[str, Any] = {}
    for section, value in doc.items():
        if isinstance(value, list) and all(
            isinstance(v, dict) and isinstance(v.get("id"), str) for v in value
        ):
            items.update({f"{section}:{v['id']}": v for v in value})
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            items.update({f"{section}:{k}": v for k, v in value.items()})
        else:
            items[section] = value
    return items


def _document_diff(name: str, old: bytes, new: bytes) -> DocumentDiff | None:
    before, after = _parse(name, old), _parse(name, new)
    if before is None or after is None:
        return None
    a, b = _items(before), _items(after)
    return DocumentDiff(
        file=name,
        added=tuple(sorted(b.keys() - a.keys())),
        removed=tuple(sorted(a.keys() - b.keys())),
        changed=tuple(sorted(k for k in a.keys() & b.keys() if a[k] != b[k])),
    )


def diff(old_files: Mapping[str, bytes], new_files: Mapping[str, bytes]) -> BundleDiff:
    """Which files were added, removed or changed, and which rule/asset ids changed inside them.

    ``manifest.json`` and ``manifest.sig`` are ignored: they describe the files, not the rules.
    """
    old = {n: d for n, d in old_files.items() if n not in (MANIFEST, ENVELOPE)}
    new = {n: d for n, d in new_files.items() if n not in (MANIFEST, ENVELOPE)}
    changed = sorted(n for n in old.keys() & new.keys() if old[n] != new[n])
    documents = (_document_diff(n, old[n], new[n]) for n in changed)
    return BundleDiff(
        added=tuple(sorted(new.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - new.keys())),
        changed=tuple(changed),
        documents=tuple(d for d in documents if d is not None),
    )
