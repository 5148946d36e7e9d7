"""The playlist model: the source lines grouped into what edits work on.

A media playlist is ``head`` (playlist tags before the first segment), ``segments``
(each with every line that precedes its URI, in order: EXTINF, KEY, MAP, cue tags,
unknown tags, comments) and ``tail`` (lines after the last URI: ENDLIST, trailing
DATERANGEs, parts of the segment being produced, preload hints, rendition reports).
Nothing is dropped, so rendering the lines back gives the source byte for byte.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from operator import attrgetter
from typing import NamedTuple, Self, TypeVar

from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls.attributes import Attributes, parse_attributes
from edge_assembler.core.hls.lines import Kind, Line, classify, is_uri, tag_name


class Segment(NamedTuple):
    """A media segment: its raw lines (the URI line last) and the facts edits use."""

    raw: tuple[str, ...]
    uri: str
    duration: float
    title: str
    discontinuity: bool
    number: int  # source line of the first raw line; 0 when an edit wrote it

    @classmethod
    def of(cls, raw: Sequence[str], number: int = 0) -> "Segment":
        """Build a segment from raw lines, reading its facts from them."""
        if not raw or not is_uri(raw[-1]):
            raise ManifestError(number, "segment without a URI line")
        extinf = None
        discontinuity = False
        for i, line in enumerate(raw):
            if line.startswith("#EXTINF:"):
                extinf = i
            elif (
                # The prefix first: it settles most lines without tag_name.
                line.startswith("#EXT-X-DISCONTINUITY") and tag_name(line) == "EXT-X-DISCONTINUITY"
            ):
                discontinuity = True
        last = number + len(raw) - 1 if number else 0
        if extinf is None:
            raise ManifestError(last, "segment URI without #EXTINF")
        duration, title = parse_extinf(raw[extinf], number + extinf if number else 0)
        return cls(tuple(raw), raw[-1].strip(), duration, title, discontinuity, number)

    @property
    def lines(self) -> tuple[Line, ...]:
        start = self.number
        return tuple(classify(raw, start + i if start else 0) for i, raw in enumerate(self.raw))

    def tags(self, name: str) -> list[Line]:
        return [line for line in self.lines if line.name == name]

    def tag(self, name: str) -> Line | None:
        for i, raw in enumerate(self.raw):
            if tag_name(raw) == name:
                return classify(raw, self.number + i if self.number else 0)
        return None

    def has(self, name: str) -> bool:
        return any(tag_name(raw) == name for raw in self.raw)

    @property
    def program_date_time(self) -> str | None:
        pdt = self.tag("EXT-X-PROGRAM-DATE-TIME")
        return pdt.value.strip() if pdt else None


def parse_extinf(raw: str, number: int) -> tuple[float, str]:
    duration, _, title = raw[8:].rstrip("\r").partition(",")
    return parse_float(duration, number, "EXTINF duration"), title


def parse_float(text: str, number: int, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ManifestError(number, f"{what} is not a number: {text.strip()!r}") from None
    if not 0 <= value < float("inf"):
        raise ManifestError(number, f"{what} out of range: {text.strip()!r}")
    return value


T = TypeVar("T")


class Facts:
    """What is derived from an immutable playlist, computed once and kept with it: a parsed
    playlist serves many requests (DESIGN §4). The playlist dataclass declares ``_facts``."""

    __slots__ = ()
    _facts: dict[Callable[..., object], object]

    def fact(self, derive: Callable[[Self], T]) -> T:
        """``derive(self)``, computed on first use. ``derive`` must read nothing but the
        playlist, and callers must not mutate what it returns."""
        facts = self._facts
        if derive in facts:
            return facts[derive]  # type: ignore[return-value]  # stored by ``derive`` itself
        value = facts[derive] = derive(self)
        return value

    def remember(self, derive: Callable[[Self], T], value: T) -> None:
        """Record ``value`` as ``derive(self)``, for a builder that knew it on the way (the
        caller guarantees they are equal)."""
        self._facts[derive] = value


@dataclass(frozen=True, slots=True)
class MediaPlaylist(Facts):
    """A media playlist. It is immutable, so what is derived from it (start times, breaks,
    dates) is computed once, with ``fact``, and kept with it: a parsed playlist serves many
    requests (DESIGN §4). ``evolve`` gives a new playlist with no facts."""

    head: tuple[str, ...]
    segments: tuple[Segment, ...]
    tail: tuple[str, ...]
    target_duration: int
    version: int | None = None
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    playlist_type: str | None = None
    endlist: bool = False
    i_frames_only: bool = False
    part_target: float | None = None
    skipped: int = 0  # EXT-X-SKIP:SKIPPED-SEGMENTS of a delta update
    prefix: str = ""  # a byte-order mark the source had (kept only by the identity render)
    crlf: bool = False  # lines the edits write end in CRLF, like the source's first line
    final_newline: bool = True
    # Facts derived from the fields above, by the function that derives them. Not a field
    # of the value: it takes no part in comparison, and ``evolve`` starts a new one.
    _facts: dict[Callable[..., object], object] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )

    @property
    def live(self) -> bool:
        return not self.endlist

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)

    def raw_lines(self) -> Iterator[str]:
        yield from self.head
        for segment in self.segments:
            yield from segment.raw
        yield from self.tail

    def msn(self, index: int) -> int:
        """The media sequence number of ``segments[index]`` (RFC 8216 §6.2.2)."""
        return self.media_sequence + self.skipped + index

    def dsn(self) -> list[int]:
        """The discontinuity sequence number of every segment."""
        out, current = [], self.discontinuity_sequence
        for segment in self.segments:
            current += segment.discontinuity
            out.append(current)
        return out

    def starts(self) -> list[float]:
        """The start time of every segment, from the start of the playlist."""
        out, t = [], 0.0
        for segment in self.segments:
            out.append(t)
            t += segment.duration
        return out

    def evolve(self, **changes: object) -> "MediaPlaylist":
        """A copy with ``changes``. Every edit calls this on the per-request path, so it
        fills the slots directly: the frozen dataclass ``__init__`` with its sixteen keyword
        arguments costs more than the rest of a small live edit's bookkeeping."""
        new = object.__new__(MediaPlaylist)
        for name, value in zip(_MEDIA_FIELDS, _media_values(self), strict=True):
            _set(new, name, value)
        for name, value in changes.items():
            if name not in _MEDIA_FIELD_SET:
                raise TypeError(f"MediaPlaylist has no field {name!r}")
            _set(new, name, value)
        _set(new, "_facts", {})
        return new


_MEDIA_FIELDS = tuple(f.name for f in fields(MediaPlaylist) if f.init)
_MEDIA_FIELD_SET = frozenset(_MEDIA_FIELDS)
_media_values = attrgetter(*_MEDIA_FIELDS)
_set = object.__setattr__


def tagged_segments(playlist: MediaPlaylist) -> tuple[int, ...]:
    """Indices of the segments with more lines than EXTINF and URI. Every segment tag but
    EXTINF (KEY, MAP, DISCONTINUITY, dates, cues) is on one of them, and in most playlists
    they are few: code that looks for tags visits them, not every segment. Use it as
    ``playlist.fact(tagged_segments)``."""
    return tuple(i for i, segment in enumerate(playlist.segments) if len(segment.raw) > 2)


class Variant(NamedTuple):
    """An EXT-X-STREAM-INF tag, any lines between it and its URI, and the URI line."""

    tag: Line
    between: tuple[Line, ...]
    uri_line: Line

    @property
    def uri(self) -> str:
        return self.uri_line.value

    @property
    def lines(self) -> tuple[Line, ...]:
        return (self.tag, *self.between, self.uri_line)

    def attributes(self) -> Attributes:
        return parse_attributes(self.tag.value, self.tag.number)


Item = Line | Variant


@dataclass(frozen=True, slots=True)
class MultivariantPlaylist(Facts):
    """Lines in order; variants grouped with their URI so edits can move or drop them."""

    items: tuple[Item, ...]
    version: int | None = None
    prefix: str = ""
    crlf: bool = False
    final_newline: bool = True
    _facts: dict[Callable[..., object], object] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )

    def raw_lines(self) -> Iterator[str]:
        for item in self.items:
            if isinstance(item, Variant):
                yield from (line.raw for line in item.lines)
            else:
                yield item.raw

    @property
    def variants(self) -> list[Variant]:
        return [item for item in self.items if isinstance(item, Variant)]

    def tags(self, name: str) -> list[Line]:
        return [i for i in self.items if isinstance(i, Line) and i.name == name]

    @property
    def renditions(self) -> list[Line]:
        return self.tags("EXT-X-MEDIA")

    @property
    def i_frame_variants(self) -> list[Line]:
        return self.tags("EXT-X-I-FRAME-STREAM-INF")

    def evolve(self, **changes: object) -> "MultivariantPlaylist":
        return replace(self, **changes)  # type: ignore[arg-type]


Playlist = MediaPlaylist | MultivariantPlaylist

__all__ = [
    "Facts",
    "Item",
    "Kind",
    "MediaPlaylist",
    "MultivariantPlaylist",
    "Playlist",
    "Segment",
    "Variant",
    "tagged_segments",
]
