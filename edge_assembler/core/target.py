"""Validation of the request target before anything is sent to an origin.

The edge forwards only origin-form targets (RFC 9112 §3.2.1) whose path cannot climb out of
the configured origin prefix, however it is encoded. Anything else is a 400 with a reason.
"""

from dataclasses import dataclass
from urllib.parse import unquote

from edge_assembler.core.errors import BadRequest

# Percent-decoding repeats to catch double encoding (%252e%252e -> %2e%2e -> ..).
_MAX_DECODE_ROUNDS = 4
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class Target:
    """A validated origin-form request target; ``path`` and ``query`` stay percent-encoded."""

    path: str
    query: str

    @property
    def raw(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


def parse_target(raw: str) -> Target:
    """Validate a raw request target; raise BadRequest naming what is wrong."""
    if not raw.startswith("/"):
        raise BadRequest("absolute_target", "only origin-form request targets are accepted")
    if raw.startswith("//"):
        raise BadRequest("absolute_target", "scheme-relative request target")
    if "#" in raw:
        raise BadRequest("fragment", "request target contains a fragment")
    path, _, query = raw.partition("?")
    _check_encoding(raw)
    for variant in _decodings(path):
        _check_path(variant)
    for variant in _decodings(query):
        if _has_control(variant):
            raise BadRequest("control_char", "control character in query")
    return Target(path=path, query=query)


def _check_encoding(raw: str) -> None:
    i = raw.find("%")
    while i != -1:
        if i + 2 >= len(raw) or raw[i + 1] not in _HEX or raw[i + 2] not in _HEX:
            raise BadRequest("bad_encoding", "malformed percent-encoding in request target")
        i = raw.find("%", i + 3)


def _decodings(text: str) -> list[str]:
    """The text and every distinct result of decoding it again, up to a bound."""
    out = [text]
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = unquote(out[-1], errors="surrogateescape")
        if decoded == out[-1]:
            return out
        out.append(decoded)
    if unquote(out[-1], errors="surrogateescape") != out[-1]:
        raise BadRequest("bad_encoding", "percent-encoding nested too deeply")
    return out


def _check_path(path: str) -> None:
    if _has_control(path):
        raise BadRequest("control_char", "control character in path")
    if "\\" in path:
        raise BadRequest("backslash", "backslash in path")
    if any(segment == ".." for segment in path.split("/")):
        raise BadRequest("traversal", "path climbs with '..'")


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)
