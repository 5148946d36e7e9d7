"""Strict JSON and timestamps shared by the manifest, envelope, trust and state parsers.

BUNDLES §4.2: duplicate keys, NaN/Infinity and non-UTF-8 input are refused; timestamps are
RFC 3339 UTC written with ``Z`` only (the TUF date-time rule).
"""

import json
import re
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec

from edge_assembler.core.bundle.errors import BundleError

T = TypeVar("T")

_UTC_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z", re.ASCII)


class _Refused(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"duplicate key {key!r}")
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


def load_strict(data: bytes, code: str, what: str) -> Any:
    """Decode UTF-8 JSON, refusing duplicate keys and NaN/Infinity with ``BundleError(code)``."""
    try:
        text = data.decode("utf-8")
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except (ValueError, RecursionError) as err:
        raise BundleError(code, f"{what}: {err}") from None


def convert(obj: object, type_: type[T], code: str, what: str) -> T:
    """Check an already-decoded JSON value against a Struct type, mapping errors to ``code``."""
    try:
        return msgspec.convert(obj, type_)
    except msgspec.ValidationError as err:
        raise BundleError(code, f"{what}: {err}") from None


def check_utc_z(value: object, code: str, where: str) -> None:
    """Refuse a timestamp string that is not RFC 3339 UTC with a ``Z`` suffix."""
    if isinstance(value, str) and not _UTC_Z.fullmatch(value):
        raise BundleError(code, f"{where}: expected an RFC 3339 UTC timestamp ending in Z")


def format_utc(moment: datetime) -> str:
    """Render an aware datetime as RFC 3339 UTC with ``Z`` (whole seconds unless it has micros)."""
    utc = moment.astimezone(UTC)
    spec = "%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return utc.strftime(spec)


def require_aware(moment: datetime, what: str) -> None:
    """Timestamps handed to the core must be timezone-aware (BUNDLES §4.6)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")
