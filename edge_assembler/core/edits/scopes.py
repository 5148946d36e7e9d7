"""Key and map scopes: the KEY and MAP lines in effect at any point of a playlist.

A KEY applies until the next KEY of its KEYFORMAT or a METHOD of NONE, a MAP until the
next MAP (BIS §4.4.4.4-5). ``join`` restates them at every seam (SPEC_RULES 23-24), so it
must know them before any segment at the cost of one lookup. One pass over the tagged
segments also finds those with a PROGRAM-DATE-TIME (``has_dates``) or an EXT-X-DATERANGE
(``date_ranged``), which edits ask for as well.
"""

from bisect import bisect_left
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urljoin

from edge_assembler.core.hls.attributes import Attributes, parse_attributes
from edge_assembler.core.hls.lines import classify, tag_name
from edge_assembler.core.hls.model import MediaPlaylist, tagged_segments

# ---------------------------------------------------------------------------- lines


def with_ending(body: str, crlf: bool) -> str:
    """A line ``body`` ending like the output's lines (CRLF: a trailing CR)."""
    return body + "\r" if crlf else body


def line_body(raw: str) -> str:
    """A line without the CR of a CRLF ending."""
    return raw.removesuffix("\r")


@lru_cache(maxsize=1024)
def resolve_uri(body: str, base: str) -> str:
    """A KEY or MAP line with its URI made absolute (data: and other schemes stay)."""
    line = classify(body)
    attributes = parse_attributes(line.value, line.number)
    uri = attributes.get("URI")
    if uri is None:
        return body
    return f"#{line.name}:{attributes.replace({'URI': urljoin(base, uri)}).format()}"


class Scope:
    """The MAP and the keys (by KEYFORMAT) in effect at a point of a playlist."""

    __slots__ = ("keys", "map")

    def __init__(self) -> None:
        self.map: str | None = None
        self.keys: dict[str, str] = {}

    def apply(self, body: str) -> None:
        """Take the KEY or MAP line ``body`` into account."""
        if tag_name(body) == "EXT-X-MAP":
            self.map = body
            return
        attributes = key_attributes(body)
        if attributes.get("METHOD") == "NONE":
            # BIS §4.4.4.4: a key applies until the next one of its KEYFORMAT or a
            # METHOD of NONE.
            self.keys.clear()
        else:
            self.keys[attributes.get("KEYFORMAT") or "identity"] = body

    def lines(self) -> tuple[str, ...]:
        # Keys first: a key applies to the MAP declared after it (BIS §4.4.4.4).
        return (*self.keys.values(), *([self.map] if self.map else []))


@lru_cache(maxsize=512)
def key_attributes(body: str) -> Attributes:
    """The attributes of a KEY line (cached: one key is stated on many segments)."""
    line = classify(body)
    return parse_attributes(line.value, line.number)


def scope_of(lines: Iterable[str]) -> Scope:
    scope = Scope()
    for body in lines:
        scope.apply(body)
    return scope


def apply_lines(scope: Scope, lines: Iterable[str]) -> None:
    for raw in lines:
        if raw.startswith(_SCOPE_PREFIXES):
            scope.apply(line_body(raw))


_SCOPE_PREFIXES = ("#EXT-X-KEY:", "#EXT-X-MAP:")
SCOPE_TAGS = frozenset({"EXT-X-KEY", "EXT-X-MAP"})


class _ScopeIndex(NamedTuple):
    """Where a playlist states KEY and MAP lines, and the scope after each place, so the
    scope before any segment is one lookup, however long the playlist."""

    at: list[int]  # segments with KEY or MAP lines, in order
    after: list[tuple[str, ...]]  # the ``Scope.lines()`` after each of them
    keyed: list[int]  # segments with KEY lines, in order


def _scope_index(playlist: MediaPlaylist) -> _ScopeIndex:
    index = _ScopeIndex([], [], [])
    scope = Scope()
    for i in playlist.fact(_marks).scoped:
        raw = playlist.segments[i].raw
        apply_lines(scope, raw)
        index.at.append(i)
        index.after.append(scope.lines())
        if any(line.startswith("#EXT-X-KEY:") for line in raw):
            index.keyed.append(i)
    return index


def scope_before(playlist: MediaPlaylist, start: int) -> tuple[str, ...]:
    """The KEY and MAP lines in effect before ``segments[start]``."""
    index = playlist.fact(_scope_index)
    before = bisect_left(index.at, start)
    return index.after[before - 1] if before else ()


def keys_in(playlist: MediaPlaylist, start: int, end: int) -> bool:
    """Whether ``segments[start:end]`` state a KEY."""
    keyed = playlist.fact(_scope_index).keyed
    return bisect_left(keyed, start) < bisect_left(keyed, end)


# ---------------------------------------------------------------------------- marks


def has_dates(playlist: MediaPlaylist) -> bool:
    return bool(playlist.fact(_marks).dated)


def date_ranged(playlist: MediaPlaylist) -> list[int]:
    """The segments with an EXT-X-DATERANGE line."""
    return playlist.fact(_marks).ranged


class _Marks(NamedTuple):
    """The segments with lines the seams look for, found in one pass over the tagged ones:
    a new playlist (an edit's result edited again) pays little for them."""

    scoped: list[int]  # KEY or MAP
    dated: list[int]  # PROGRAM-DATE-TIME
    ranged: list[int]  # DATERANGE


_MARK_PREFIXES = ("#EXT-X-KEY:", "#EXT-X-MAP:", "#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-DATERANGE")


def _marks(playlist: MediaPlaylist) -> _Marks:
    marks = _Marks([], [], [])
    segments = playlist.segments
    for index in playlist.fact(tagged_segments):
        for raw in segments[index].raw:
            if raw.startswith(_MARK_PREFIXES):
                if raw.startswith(_SCOPE_PREFIXES):
                    found = marks.scoped
                elif raw.startswith("#EXT-X-PROGRAM-DATE-TIME"):
                    found = marks.dated
                else:
                    found = marks.ranged
                if not found or found[-1] != index:
                    found.append(index)
    return marks
