"""Attribute values of an MPD (ISO/IEC 23009-1 Table 3 ff., XML Schema datatypes).

Each reader takes the element and the attribute name, returns ``None`` when the attribute
is absent and raises ``ManifestError`` naming the element's line when the value cannot be
understood.
"""

import math
import re
from datetime import UTC, datetime

from lxml.etree import _Element

from edge_assembler.core.errors import ManifestError

# xs:duration (XML Schema Part 2 §3.2.6). Players (dash.js, Shaka) also accept fractions in
# every field, so this does too; Y and M (months) count 365 and 30 days as dash.js does.
_DURATION = re.compile(
    r"P(?!$)(?:(\d+(?:\.\d*)?)Y)?(?:(\d+(?:\.\d*)?)M)?(?:(\d+(?:\.\d*)?)W)?(?:(\d+(?:\.\d*)?)D)?"
    r"(?:T(?=[\d.])(?:(\d+(?:\.\d*)?)H)?(?:(\d+(?:\.\d*)?)M)?(?:(\d*(?:\.\d*)?)S)?)?"
)
_DURATION_UNITS = (365 * 86400.0, 30 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0)
# xs:dateTime (XML Schema Part 2 §3.2.7), the form MPD@availabilityStartTime uses.
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?")
_UNSIGNED = re.compile(r"\+?\d+")
_SIGNED = re.compile(r"[+-]?\d+")


def line_of(element: _Element) -> int:
    """The 1-based source line of ``element``, 0 when it was built rather than parsed."""
    line = getattr(element, "sourceline", None)  # the lxml stubs do not type it
    return line if isinstance(line, int) else 0


def _bad(element: _Element, name: str, value: str, expected: str) -> ManifestError:
    tag = element.tag.rpartition("}")[2]
    return ManifestError(line_of(element), f"{tag}@{name}={value[:40]!r} is not {expected}")


def parse_duration(text: str) -> float | None:
    """Seconds of a non-negative xs:duration, ``None`` when ``text`` is not one."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or match.group(7) in {"", "."}:
        return None
    seconds = sum(
        float(part) * unit
        for part, unit in zip(match.groups(), _DURATION_UNITS, strict=True)
        if part
    )
    return seconds if math.isfinite(seconds) else None


def duration_attr(element: _Element, name: str) -> float | None:
    """An xs:duration attribute in seconds (negative durations are refused)."""
    value = element.get(name)
    if value is None:
        return None
    seconds = parse_duration(value)
    if seconds is None:
        raise _bad(element, name, value, "a non-negative xs:duration")
    return seconds


def datetime_attr(element: _Element, name: str) -> datetime | None:
    """An xs:dateTime attribute; without a zone it is taken as UTC, as dash.js and Shaka do."""
    value = element.get(name)
    if value is None:
        return None
    text = value.strip()
    if _DATETIME.fullmatch(text) is None:
        raise _bad(element, name, value, "an xs:dateTime")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _bad(element, name, value, "an xs:dateTime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def int_attr(element: _Element, name: str, *, signed: bool = False) -> int | None:
    """An xs:unsignedInt/unsignedLong attribute (xs:integer when ``signed``)."""
    value = element.get(name)
    if value is None:
        return None
    text = value.strip()
    if (_SIGNED if signed else _UNSIGNED).fullmatch(text) is None or len(text) > 30:
        raise _bad(element, name, value, "an integer" if signed else "an unsigned integer")
    return int(text)


def positive_int_attr(element: _Element, name: str, default: int) -> int:
    """An unsigned attribute that must not be 0 (a timescale, a segment duration)."""
    number = int_attr(element, name)
    if number is None:
        return default
    if number == 0:
        raise _bad(element, name, "0", "a positive integer")
    return number
