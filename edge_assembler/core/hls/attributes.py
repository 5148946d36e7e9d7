"""Attribute lists (RFC 8216 §4.2): lenient reading, canonical writing.

Reading accepts spaces around names, values and commas, and lower-case hex. Writing
quotes exactly the attributes whose type is quoted-string and leaves enumerated strings,
numbers, resolutions and hexadecimal sequences bare (SPEC_RULES 3), whatever the input did.
"""

import re
from collections.abc import Iterable, Mapping

from edge_assembler.core.errors import ManifestError

# Attributes whose values are enumerated-strings, numbers, resolutions or hex: never quoted.
# (CLOSED-CAPTIONS is quoted except for its enumerated value NONE.)
_BARE = frozenset(
    {
        "AUTOSELECT", "AVERAGE-BANDWIDTH", "BANDWIDTH", "BYTERANGE-LENGTH", "BYTERANGE-START",
        "CAN-BLOCK-RELOAD", "CAN-SKIP-DATERANGES", "CAN-SKIP-UNTIL", "DEFAULT", "DURATION",
        "END-ON-NEXT", "FORCED", "FRAME-RATE", "GAP", "HDCP-LEVEL", "HOLD-BACK", "INDEPENDENT",
        "IV", "LAST-MSN", "LAST-PART", "METHOD", "PART-HOLD-BACK", "PART-TARGET",
        "PLANNED-DURATION", "PRECISE", "PROGRAM-ID", "RESOLUTION", "SCORE", "SCTE35-CMD",
        "SCTE35-IN", "SCTE35-OUT", "SKIPPED-SEGMENTS", "TIME-OFFSET", "TYPE", "VIDEO-RANGE",
        "X-PLAYOUT-LIMIT", "X-RESUME-OFFSET",
    }
)  # fmt: skip


class Attributes:
    """An ordered attribute list; values are kept as written (quotes removed)."""

    __slots__ = ("_items", "_quoted")

    def __init__(self, items: Iterable[tuple[str, str]], quoted: Iterable[str] = ()) -> None:
        self._items: dict[str, str] = dict(items)
        self._quoted = frozenset(quoted)

    def __getitem__(self, name: str) -> str:
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> "Iterable[str]":
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Attributes) and self._items == other._items

    def __repr__(self) -> str:
        return f"Attributes({self._items!r})"

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._items.get(name, default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items.items())

    def was_quoted(self, name: str) -> bool:
        return name in self._quoted

    def number(self, name: str) -> float | None:
        value = self._items.get(name)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            return None

    def replace(self, changes: Mapping[str, str | None]) -> "Attributes":
        """A copy with ``changes`` applied (None removes); new names go last."""
        items = dict(self._items)
        for name, value in changes.items():
            if value is None:
                items.pop(name, None)
            else:
                items[name] = value
        return Attributes(items.items(), self._quoted)

    def format(self) -> str:
        """The canonical attribute-list text."""
        return ",".join(
            f"{name}={_format_value(name, value)}" for name, value in self._items.items()
        )


def _format_value(name: str, value: str) -> str:
    if name in _BARE or (name == "CLOSED-CAPTIONS" and value == "NONE"):
        return value
    if name.startswith("X-") and _is_bare_client_value(value):
        return value
    return f'"{value}"'


def _is_bare_client_value(value: str) -> bool:
    """BIS §4.4.5.1: X- values are quoted-strings, hex sequences or signed floats."""
    if value[:2] in ("0x", "0X"):
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True


def parse_attributes(text: str, line: int = 0) -> Attributes:
    """Parse ``NAME=VALUE,NAME="quoted, value",...``; raise ManifestError when malformed."""
    items: list[tuple[str, str]] = []
    quoted: list[str] = []
    i, n = 0, len(text)
    while i < n:
        eq = text.find("=", i)
        if eq == -1:
            if text[i:].strip():
                raise ManifestError(line, f"attribute without a value: {text[i:].strip()!r}")
            break
        name = text[i:eq].strip()
        if not name or not _valid_name(name):
            raise ManifestError(line, f"bad attribute name {name!r}")
        j = eq + 1
        while j < n and text[j] == " ":
            j += 1
        if j < n and text[j] == '"':
            end = text.find('"', j + 1)
            if end == -1:
                raise ManifestError(line, f"unterminated quoted value for {name}")
            value = text[j + 1 : end]
            quoted.append(name)
            comma = text.find(",", end + 1)
            if text[end + 1 : comma if comma != -1 else n].strip():
                raise ManifestError(line, f"text after the quoted value of {name}")
        else:
            comma = text.find(",", j)
            value = text[j : comma if comma != -1 else n].strip()
        items.append((name, value))
        if comma == -1:
            break
        i = comma + 1
    return Attributes(items, quoted)


# RFC 8216 §4.2: [A-Z0-9-]; lower case is seen in the wild and accepted.
_NAME = re.compile(r"[A-Za-z0-9-]+")


def _valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None
