"""What cue tags signal, read the same way by both cue families (``cues``, ``dateranges``).

SCTE-35 payloads say whether a signal opens or closes an ad avail: a splice_insert out of
or back into the network, or a time_signal whose segmentation type is a break,
advertisement, placement opportunity, promo or ad block (SCTE 35 Table 23). Cue tags
predate RFC 8216 attribute rules, so their attribute lists are read leniently. Nothing here
raises: a cue that cannot be read means nothing.
"""

import re
from enum import Enum
from functools import lru_cache
from typing import Final

from edge_assembler.core.scte35 import (
    SPLICE_INSERT,
    TIME_SIGNAL,
    Scte35Error,
    SpliceInfo,
    decode,
)

# SCTE 35 Table 23: the segmentation types that open and close a replaceable avail.
AVAIL_STARTS: Final = frozenset({0x22, 0x30, 0x32, 0x34, 0x36, 0x3C, 0x3E, 0x44, 0x46})
AVAIL_ENDS: Final = frozenset(t + 1 for t in AVAIL_STARTS)


class Kind(Enum):
    """What a cue marks: the start of a break, a segment inside one, or its end."""

    OUT = "out"
    CONT = "cont"  # the segment is inside a break that started earlier
    IN = "in"


def avail_kinds(info: SpliceInfo | None) -> tuple[Kind, ...]:
    """What a cue says about an avail: an end comes before a start (back-to-back breaks)."""
    if info is None or info.cancel:
        return ()
    if info.command_type == SPLICE_INSERT:
        return (Kind.OUT,) if info.out_of_network else (Kind.IN,)
    if info.command_type != TIME_SIGNAL:
        return ()
    live = [d.type_id for d in info.descriptors if not d.cancel]
    ends = (Kind.IN,) if any(t in AVAIL_ENDS for t in live) else ()
    return ends + ((Kind.OUT,) if any(t in AVAIL_STARTS for t in live) else ())


def splice_info(text: str | None) -> SpliceInfo | None:
    """The base64 splice_info_section ``text`` decoded, None when absent or unreadable."""
    return _decoded(text) if text else None


@lru_cache(maxsize=1024)
def _decoded(text: str) -> SpliceInfo | None:
    """Encoders repeat one cue on every CUE-OUT-CONT of a break: decode it once (SpliceInfo
    is immutable, so sharing it is safe)."""
    try:
        return decode(text)
    except Scte35Error:
        return None


_NAME = re.compile(r"[A-Za-z0-9_-]+")


def lenient_attributes(text: str) -> tuple[list[str], dict[str, str]]:
    """Lenient attribute list: ``(positional items, {UPPER-NAME: unquoted value})``.

    Cue tags predate RFC 8216 attribute rules: spaces after commas, bare leading values,
    mixed-case names and unterminated quotes all occur, and none of them may raise."""
    positional: list[str] = []
    named: dict[str, str] = {}
    for item in _split(text):
        name, eq, value = item.partition("=")
        name = name.strip()
        if eq and _NAME.fullmatch(name):
            named.setdefault(name.upper(), value.strip().strip('"'))
        elif item.strip():
            positional.append(item.strip())
    return positional, named


def _split(text: str) -> list[str]:
    """Split on commas outside double quotes (an unterminated quote runs to the end)."""
    pieces = text.split('"')
    items = [""]
    for i, piece in enumerate(pieces):
        if i % 2:  # inside quotes
            closing = '"' if i + 1 < len(pieces) else ""
            items[-1] += f'"{piece}{closing}'
        else:
            first, *rest = piece.split(",")
            items[-1] += first
            items.extend(rest)
    return items
