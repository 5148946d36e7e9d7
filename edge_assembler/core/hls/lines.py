"""Lines (RFC 8216 §4.1). A playlist is kept as its raw lines (without the LF; a CRLF
line keeps its CR), so an unedited playlist renders back byte for byte. ``classify``
turns a raw line into a typed ``Line`` when an edit needs to look inside it."""

import re
from enum import IntEnum
from typing import NamedTuple

from edge_assembler.core.errors import ManifestError

BOM = "\ufeff"
# RFC 8216 §4.1: no control characters but CR and LF; tabs are seen in real titles.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Kind(IntEnum):
    BLANK = 0
    COMMENT = 1
    TAG = 2
    URI = 3


class Line(NamedTuple):
    """A classified line. ``name`` is the tag name without ``#`` (``EXT-X-KEY``);
    ``value`` is what follows the first ``:`` of a tag, or the URI of a URI line."""

    raw: str
    kind: Kind
    name: str
    value: str
    number: int  # 1-based source line; 0 for a line an edit wrote

    @property
    def has_value(self) -> bool:
        return ":" in self.raw


def decode(data: bytes) -> tuple[str, str]:
    """The text without a byte-order mark, and the mark itself ("" if absent)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(data[: exc.start].count(b"\n") + 1, "not UTF-8") from None
    if bad := _CONTROL.search(text):
        raise ManifestError(text.count("\n", 0, bad.start()) + 1, "control character in line")
    if text.startswith(BOM):
        return text[1:], BOM
    return text, ""


def split(text: str) -> tuple[list[str], bool]:
    """Raw lines (LF removed) and whether the text ended with a line terminator."""
    raws = text.split("\n")
    if raws[-1] == "":
        raws.pop()
        return raws, True
    return raws, False


def classify(raw: str, number: int = 0) -> Line:
    body = raw[:-1] if raw.endswith("\r") else raw
    if body.startswith("#EXT"):
        name, _, value = body[1:].partition(":")
        return Line(raw, Kind.TAG, name.rstrip(), value, number)
    if body.startswith("#"):
        return Line(raw, Kind.COMMENT, "", "", number)
    stripped = body.strip()
    if not stripped:
        return Line(raw, Kind.BLANK, "", "", number)
    return Line(raw, Kind.URI, "", stripped, number)


def is_uri(raw: str) -> bool:
    return bool(raw) and raw[0] != "#" and not raw.isspace()


def tag_name(raw: str) -> str:
    """The tag name of a raw line, or "" for anything that is not a tag."""
    if not raw.startswith("#EXT"):
        return ""
    end = raw.find(":")
    return (raw[1:] if end == -1 else raw[1:end]).rstrip()  # a CR is whitespace too


def tag(name: str, value: str | None = None, *, crlf: bool = False) -> str:
    """A new raw tag line."""
    body = f"#{name}" if value is None else f"#{name}:{value}"
    return body + "\r" if crlf else body
