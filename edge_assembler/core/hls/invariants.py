"""Invariants a media playlist keeps before it is served (DESIGN §4), and across reloads.

``check`` looks at one playlist and ``check_reload`` at two successive versions of a live
one. Both return messages, empty when all is well, each naming the rule and the place::

    SPEC_RULES 17: line 9 (segment 2 'b.ts'): EXTINF 10.6 rounds above EXT-X-TARGETDURATION 10

Line numbers are those of the rendered playlist. ``check`` reads only the head, the tail and
the segments that have more than an EXTINF and a URI, so it stays cheap enough to run on
every rewritten playlist. A caller that fails open should compare with ``check(origin)``:
many origins are non-conformant already, and only what an edit added is its fault.

Decisions:

* SPEC_RULES 15: a single playlist cannot show that a window slides, so ``check`` flags
  only ``PLAYLIST-TYPE:VOD`` without ``EXT-X-ENDLIST`` (a VOD playlist never changes, so it
  is complete). An EVENT playlist may start at any MEDIA-SEQUENCE; ``check_reload`` flags an
  EVENT or VOD playlist whose head moved.
* SPEC_RULES 23: once a playlist uses EXT-X-MAP, the first segment after every
  EXT-X-DISCONTINUITY states its MAP again, and segments before the first MAP may only
  precede it across a discontinuity (otherwise they share its content but not its MAP).
* SPEC_RULES 9/10/13: segments are matched by URI and BYTERANGE; a key that occurs twice
  in one window (a repeated slate) is ambiguous and is not compared, and neither are the
  discontinuity sequence numbers of a delta update (they depend on what it skipped).
"""

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import NamedTuple

from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls.attributes import Attributes, parse_attributes
from edge_assembler.core.hls.dates import parse_date
from edge_assembler.core.hls.model import MediaPlaylist, Segment, tagged_segments

HEAD = -1  # ``at`` of a line in the head; ``len(segments)`` is the tail
_EPSILON = 1e-6
_DATE_TOLERANCE = timedelta(milliseconds=1)


class _Tag(NamedTuple):
    name: str
    value: str  # what follows the first ":", without a CR
    at: int  # segment index, HEAD, or len(segments) for the tail
    offset: int  # index of the line in the head, the segment's lines or the tail


class _Problem(NamedTuple):
    rule: int
    at: int | None  # None: the playlist as a whole
    offset: int
    text: str


_Tags = dict[str, list[_Tag]]
_Rule = Callable[[MediaPlaylist, _Tags], Iterator[_Problem]]

_WATCHED = frozenset(
    {
        "EXT-X-BYTERANGE", "EXT-X-DATERANGE", "EXT-X-DEFINE", "EXT-X-DISCONTINUITY",
        "EXT-X-DISCONTINUITY-SEQUENCE", "EXT-X-ENDLIST", "EXT-X-I-FRAMES-ONLY", "EXT-X-KEY",
        "EXT-X-MAP", "EXT-X-MEDIA-SEQUENCE", "EXT-X-PART", "EXT-X-PART-INF",
        "EXT-X-PRELOAD-HINT", "EXT-X-PROGRAM-DATE-TIME", "EXT-X-SKIP",
    }
)  # fmt: skip


def check(playlist: MediaPlaylist) -> list[str]:
    """Violations of the single-playlist rules (empty when the playlist is fine)."""
    tags = _collect(playlist)
    return [_format(playlist, p) for rule in _RULES for p in rule(playlist, tags)]


def check_reload(previous: MediaPlaylist, current: MediaPlaylist) -> list[str]:
    """Violations of the reload rules between two successive versions of one playlist."""
    problems = [
        *_reload_header(previous, current),
        *_first_of_each(_reload_segments(previous, current)),
    ]
    return [_format(current, p) for p in problems]


# -- collecting ----------------------------------------------------------------------------


def _collect(playlist: MediaPlaylist) -> _Tags:
    tags: _Tags = {}
    _note(tags, playlist.head, HEAD)
    for i in playlist.fact(tagged_segments):
        _note(tags, playlist.segments[i].raw, i)
    _note(tags, playlist.tail, len(playlist.segments))
    return tags


def _note(tags: _Tags, raws: tuple[str, ...], at: int) -> None:
    for offset, raw in enumerate(raws):
        # Every watched tag starts with "#EXT-X-": EXTINF lines and URIs fail fast.
        if raw.startswith("#EXT-X-"):
            name, _, value = raw.partition(":")
            name = name[1:].rstrip()  # as lines.tag_name, without a second scan
            if name in _WATCHED:
                tags.setdefault(name, []).append(_Tag(name, value.removesuffix("\r"), at, offset))


def _attributes(tag: _Tag) -> Attributes | None:
    try:
        return parse_attributes(tag.value)
    except ManifestError:
        return None


def _problem(rule: int, tag: _Tag, text: str) -> _Problem:
    return _Problem(rule, tag.at, tag.offset, text)


# -- SPEC_RULES 1, 8, 11: header ----------------------------------------------------------


def _extm3u(playlist: MediaPlaylist, tags: _Tags) -> Iterator[_Problem]:
    """SPEC_RULES 1 (RFC 8216 §4.3.1.1): #EXTM3U is the first line, without a BOM."""
    if playlist.prefix:
        yield _Problem(1, HEAD, 0, "byte-order mark before #EXTM3U")
    if not playlist.head or playlist.head[0].removesuffix("\r") != "#EXTM3U":
        yield _Problem(1, HEAD, 0, "the first line is not #EXTM3U")


def _sequence_tags(playlist: MediaPlaylist, tags: _Tags) -> Iterator[_Problem]:
    """SPEC_RULES 8 (BIS §4.4.3.2-3): both sequence tags precede the first segment, the
    DISCONTINUITY-SEQUENCE precedes every DISCONTINUITY, and they state the numbering."""
    numbering = (
        ("EXT-X-MEDIA-SEQUENCE", playlist.media_sequence),
        ("EXT-X-DISCONTINUITY-SEQUENCE", playlist.discontinuity_sequence),
    )
    for name, number in numbering:
        found = tags.get(name, [])
        for tag in found:
            if tag.at > 0:
                yield _problem(8, tag, f"#{name} after the first segment")
        stated = _integer(found[0].value) if found else 0
        if stated != number:
            text = f"#{name} states {stated} but the model's number is {number}"
            yield _problem(8, found[0], text) if found else _Problem(8, None, 0, text)
    sequence = tags.get("EXT-X-DISCONTINUITY-SEQUENCE")
    discontinuity = tags.get("EXT-X-DISCONTINUITY")
    if sequence and discontinuity and _before(discontinuity[0], sequence[0]):
        yield _problem(8, sequence[0], "#EXT-X-DISCONTINUITY-SEQUENCE after a DISCONTINUITY")


def _before(one: _Tag, other: _Tag) -> bool:
    return (one.at, one.offset) < (other.at, other.offset)


def _integer(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _discontinuity_sequence_needed(playlist: MediaPlaylist, tags: _Tags) -> Iterator[_Problem]:
    """SPEC_RULES 11 (BIS §6.2.2): a live playlist that removed segments (MEDIA-SEQUENCE
    above 0) and has a DISCONTINUITY carries EXT-X-DISCONTINUITY-SEQUENCE."""
    if (
        playlist.live
        and playlist.media_sequence > 0
        and "EXT-X-DISCONTINUITY" in tags
        and "EXT-X-DISCONTINUITY-SEQUENCE" not in tags
    ):
        yield _problem(11, tags["EXT-X-DISCONTINUITY"][0], "no #EXT-X-DISCONTINUITY-SEQUENCE")


def _playlist_type(playlist: MediaPlaylist, tags: _Tags) -> Iterator[_Problem]:
    """SPEC_RULES 15 (BIS §4.4.3.5): a VOD playlist never changes, so it is complete."""
    if playlist.playlist_type == "VOD" and not playlist.endlist:
        yield _Problem(15, None, 0, "PLAYLIST-TYPE:VOD without EXT-X-ENDLIST")


# -- SPEC_RULES 5: version ----------------------------------------------------------------


def _key_version(value: str, i_frames: bool) -> int:
    attributes = parse_attributes(value)
    if "KEYFORMAT" in attributes or "KEYFORMATVERSIONS" in attributes:
        return 5
    if attributes.get("METHOD") == "SAMPLE-AES":
        return 5
    return 2 if "IV" in attributes else 1


def _skip_version(value: str, i_frames: bool) -> int:
    return 10 if "RECENTLY-REMOVED-DATERANGES" in value else 9


def _define_version(value: str, i_frames: bool) -> int:
    return 11 if "QUERYPARAM" in value else 8


# BIS §8: the lowest version that allows each tag (a function of its value).
_TAG_VERSIONS: dict[str, Callable[[str, bool], int]] = {
    "EXT-X-KEY": _key_version,
    "EXT-X-BYTERANGE": lambda value, i_frames: 4,
    "EXT-X-I-FRAMES-ONLY": lambda value, i_frames: 4,
    "EXT-X-MAP": lambda value, i_frames: 5 if i_frames else 6,
    "EXT-X-DEFINE": _define_version,
    "EXT-X-SKIP": _skip_version,
}


def _version(playlist: MediaPlaylist, tags: _Tags) -> Iterator[_Problem]:
    """SPEC_RULES 5 (BIS §8): EXT-X-VERSION allows every feature used (1 when absent)."""
    declared = playlist.version or 1
    for name, required in _TAG_VERSIONS.items():
        for tag in tags.get(name, ()):
            try:
                needed = required(tag.value, playlist.i_frames_only)
            except ManifestError:
                continue
            if needed > declared:
                yield _problem(5, tag, f"#{name} needs EXT-X-VERSION {needed}, not {declared}")
                break
    if declared < 3 and (found := _first_float_extinf(playlist)) is not None:
        offset = _extinf_offset(playlist.segments[found])
        yield _Problem(5, found, offset, f"decimal EXTINF needs EXT-X-VERSION 3, not {declared}")


def _first_float_extinf(playlist: MediaPlaylist) -> int | None:
    """BIS §4.4.4.1: below version 3, durations are integers."""
    for i, segment in enumerate(playlist.segments):
        extinf = segment.raw[_extinf_offset(segment)]
        if "." in extinf[8:].partition(",")[0]:
            return i
    return None


def _extinf_offset(segment: Segment) -> int:
    if len(segment.raw) == 2:
        return 0
    return next((i for i, raw in enumerate(segment.raw) if raw.startswith("#EXTINF:")), 0)


# -- SPEC_RULES 17: durations -------------------------------------------------------------


def _durations(playlist: MediaPlaylist, tags: _Tags) -> Iterator[_Problem]:
    """SPEC_RULES 17 (BIS §4.4.3.1, §8): from version 6, round(EXTINF) <= TARGETDURATION;
    before it, EXTINF <= TARGETDURATION."""
    target = playlist.target_duration
    if target < 1:
        yield _Problem(17, None, 0, f"EXT-X-TARGETDURATION {target} is below 1")
    rounded = (playlist.version or 1) >= 6
    # Rounding half up: round(d) <= T exactly when d < T + 0.5.
    limit = target + 0.5 if rounded else target + _EPSILON
    too_long = [i for i, s in enumerate(playlist.segments) if s.duration >= limit]
    if too_long:
        first = playlist.segments[too_long[0]]
        verb = "rounds above" if rounded else "exceeds"
        text = f"EXTINF {first.duration:g} {verb} EXT-X-TARGETDURATION {target}"
        if len(too_long) > 1:
            text += f" (and {len(too_long) - 1} later segments)"
        yield _Problem(17, too_long[0], _extinf_offset(first), text)


# -- SPEC_RULES 23, 25: MAP and KEY --------------------------------------------------------


def _map_scope(playlist: MediaPlaylist, tags: _Tags) -> Iterator[_Problem]:
    """SPEC_RULES 23 (BIS §4.4.4.5): a MAP applies until the next MAP, so after a
    discontinuity the MAP of the new content must be stated again."""
    maps = tags.get("EXT-X-MAP")
    if not maps:
        return
    with_map = {tag.at for tag in maps}
    discontinuities = tags.get("EXT-X-DISCONTINUITY", [])
    first = maps[0].at
    if first > 0 and all(tag.at != first for tag in discontinuities):
        text = f"the {first} segment(s) before the first EXT-X-MAP are in no MAP's scope"
        yield _problem(23, maps[0], text + " and no DISCONTINUITY separates them")
    for tag in discontinuities:
        if tag.at > first and tag.at not in with_map:
            yield _problem(23, tag, "no EXT-X-MAP stated after this DISCONTINUITY")


def _keys(playlist: MediaPlaylist, tags: _Tags) -> Iterator[_Problem]:
    """SPEC_RULES 25 (BIS §4.4.4.4): METHOD=NONE stands alone; other methods have a URI;
    SAMPLE-AES-CTR and AES-256-GCM have no IV."""
    for tag in tags.get("EXT-X-KEY", ()):
        attributes = _attributes(tag)
        method = attributes.get("METHOD") if attributes is not None else None
        if attributes is None or method is None:
            yield _problem(25, tag, "EXT-X-KEY without a readable METHOD")
        elif method == "NONE":
            if others := [name for name, _ in attributes.items() if name != "METHOD"]:
                yield _problem(25, tag, f"METHOD=NONE with {', '.join(others)}")
        elif "URI" not in attributes:
            yield _problem(25, tag, f"METHOD={method} without URI")
        elif method in ("SAMPLE-AES-CTR", "AES-256-GCM") and "IV" in attributes:
            yield _problem(25, tag, f"METHOD={method} with IV")


# -- SPEC_RULES 34, 36, 37, 42, 46: DATERANGE ----------------------------------------------


def _date_ranges(playlist: MediaPlaylist, tags: _Tags) -> Iterator[_Problem]:
    """SPEC_RULES 34, 36, 37 (BIS §4.4.5.1): every Date Range has an ID and a START-DATE
    on its first tag, sane dates and durations, and tags sharing an ID agree."""
    ranges = tags.get("EXT-X-DATERANGE", ())
    if ranges and "EXT-X-PROGRAM-DATE-TIME" not in tags:
        yield _problem(34, ranges[0], "EXT-X-DATERANGE in a playlist without PROGRAM-DATE-TIME")
    seen: dict[str, Attributes] = {}
    for tag in ranges:
        attributes = _attributes(tag)
        if attributes is None or "ID" not in attributes:
            yield _problem(36, tag, "EXT-X-DATERANGE without a readable ID")
            continue
        identifier = attributes["ID"]
        first = seen.setdefault(identifier, attributes)
        if first is attributes and "START-DATE" not in attributes:
            yield _problem(36, tag, f"first EXT-X-DATERANGE {identifier!r} without START-DATE")
        for name, value in attributes.items():
            if first.get(name, value) != value:
                yield _problem(37, tag, f"{identifier!r} changes {name}")
        yield from (_problem(36, tag, text) for text in _range_dates(attributes))
        yield from (_problem(rule, tag, text) for rule, text in _interstitial(attributes))


def _range_dates(attributes: Attributes) -> Iterator[str]:
    for name in ("DURATION", "PLANNED-DURATION"):
        value, number = attributes.get(name), attributes.number(name)
        if value is not None and (number is None or number < 0):
            yield f"{name}={value} is negative or not a number"
    start, end = attributes.get("START-DATE"), attributes.get("END-DATE")
    if start is None or end is None:
        return
    try:
        begins, ends = parse_date(start), parse_date(end)
    except ManifestError as exc:
        yield exc.detail
        return
    if ends < begins:
        yield "END-DATE before START-DATE"
    duration = attributes.number("DURATION")
    if duration is None:
        return
    if abs(begins + timedelta(seconds=duration) - ends) > _DATE_TOLERANCE:
        yield "END-DATE is not START-DATE + DURATION"


def _interstitial(attributes: Attributes) -> Iterator[tuple[int, str]]:
    """SPEC_RULES 42 (BIS §4.4.5.1) and 46 (BIS App. D.2)."""
    cue = (attributes.get("CUE") or "").split(",")
    if "PRE" in cue and "POST" in cue:
        yield 42, "CUE with both PRE and POST"
    if attributes.get("CLASS") == "com.apple.hls.interstitial":
        assets = ("X-ASSET-URI" in attributes) + ("X-ASSET-LIST" in attributes)
        if assets != 1:
            yield 46, "an interstitial needs exactly one of X-ASSET-URI and X-ASSET-LIST"


# -- SPEC_RULES 52, 57: low latency --------------------------------------------------------


def _low_latency(playlist: MediaPlaylist, tags: _Tags) -> Iterator[_Problem]:
    """SPEC_RULES 52 (BIS §4.4.3.7): EXT-X-PART-INF iff EXT-X-PART; SPEC_RULES 57
    (BIS §4.4.5.3): a playlist with EXT-X-ENDLIST has no PRELOAD-HINT."""
    parts, info = tags.get("EXT-X-PART"), tags.get("EXT-X-PART-INF")
    if parts and not info:
        yield _problem(52, parts[0], "EXT-X-PART without EXT-X-PART-INF")
    if info and not parts:
        yield _problem(52, info[0], "EXT-X-PART-INF without any EXT-X-PART")
    if playlist.endlist:
        for hint in tags.get("EXT-X-PRELOAD-HINT", ()):
            yield _problem(57, hint, "EXT-X-PRELOAD-HINT in a playlist with EXT-X-ENDLIST")


_RULES: tuple[_Rule, ...] = (
    _extm3u,
    _version,
    _sequence_tags,
    _discontinuity_sequence_needed,
    _playlist_type,
    _durations,
    _map_scope,
    _keys,
    _date_ranges,
    _low_latency,
)


# -- reloads -------------------------------------------------------------------------------


def _reload_header(previous: MediaPlaylist, current: MediaPlaylist) -> Iterator[_Problem]:
    """SPEC_RULES 9, 10, 13, 15, 18 (BIS §6.2.1-2) on the playlist-wide numbers."""
    if current.target_duration != previous.target_duration:
        text = f"EXT-X-TARGETDURATION changed from {previous.target_duration}"
        yield _Problem(18, None, 0, text)
    if current.media_sequence < previous.media_sequence:
        yield _Problem(9, None, 0, f"MEDIA-SEQUENCE went back from {previous.media_sequence}")
    if current.discontinuity_sequence < previous.discontinuity_sequence:
        before = previous.discontinuity_sequence
        yield _Problem(10, None, 0, f"DISCONTINUITY-SEQUENCE went back from {before}")
    if previous.endlist and not current.endlist:
        yield _Problem(13, None, 0, "EXT-X-ENDLIST was removed")
    moved = current.media_sequence != previous.media_sequence
    if previous.playlist_type in ("EVENT", "VOD") and moved:
        text = f"PLAYLIST-TYPE:{previous.playlist_type} playlist removed segments"
        yield _Problem(15, None, 0, text)


def _reload_segments(previous: MediaPlaylist, current: MediaPlaylist) -> Iterator[_Problem]:
    """SPEC_RULES 9, 10 (a segment keeps its MSN and DSN) and 13 (published segments are
    neither rewritten nor removed but from the head)."""
    numbered = _numbered(previous)
    # The DSNs of a delta update depend on the skipped segments' discontinuities.
    whole = not previous.skipped and not current.skipped
    for i, (key, msn, dsn) in enumerate(_identities(current)):
        old = numbered.get(key)
        if old is not None and old[0] != msn:
            yield _Problem(9, i, 0, f"MSN {msn}, it was {old[0]}")
        if old is not None and old[1] != dsn and whole:
            yield _Problem(10, i, 0, f"discontinuity sequence number {dsn}, it was {old[1]}")
    by_msn = {previous.msn(i): s for i, s in enumerate(previous.segments)}
    for i, segment in enumerate(current.segments):
        old_segment = by_msn.get(current.msn(i))
        if old_segment is not None and _rewritten(old_segment, segment):
            was = f"{old_segment.uri!r} ({old_segment.duration:g} s)"
            yield _Problem(13, i, 0, f"MSN {current.msn(i)} was {was}")
    last_before = previous.msn(len(previous.segments) - 1)
    last_now = current.msn(len(current.segments) - 1)
    if last_now < last_before:
        yield _Problem(13, None, 0, f"segments after MSN {last_now} were removed")


def _first_of_each(problems: Iterator[_Problem]) -> list[_Problem]:
    """The first problem of each rule, saying how many more there are (a renumbered window
    would otherwise give one message per segment)."""
    found: dict[tuple[int, bool], list[_Problem]] = {}
    for problem in problems:
        found.setdefault((problem.rule, problem.at is None), []).append(problem)
    return [
        first._replace(text=f"{first.text} (and {len(more)} later segments)") if more else first
        for first, *more in found.values()
    ]


def _rewritten(old: Segment, new: Segment) -> bool:
    return old.uri != new.uri or abs(old.duration - new.duration) > _EPSILON


def _identities(playlist: MediaPlaylist) -> Iterator[tuple[tuple[str, str], int, int]]:
    dsns = playlist.dsn()
    for i, segment in enumerate(playlist.segments):
        yield _key(segment), playlist.msn(i), dsns[i]


def _numbered(playlist: MediaPlaylist) -> dict[tuple[str, str], tuple[int, int]]:
    """(URI, BYTERANGE) -> (MSN, DSN), for keys that occur once in the playlist."""
    numbered: dict[tuple[str, str], tuple[int, int]] = {}
    repeated: set[tuple[str, str]] = set()
    for key, msn, dsn in _identities(playlist):
        if key in numbered:
            repeated.add(key)
        numbered[key] = (msn, dsn)
    for key in repeated:
        del numbered[key]
    return numbered


def _key(segment: Segment) -> tuple[str, str]:
    if len(segment.raw) == 2:
        return segment.uri, ""
    byterange = segment.tag("EXT-X-BYTERANGE")
    return segment.uri, byterange.value.strip() if byterange else ""


# -- messages ------------------------------------------------------------------------------


def _format(playlist: MediaPlaylist, problem: _Problem) -> str:
    return f"SPEC_RULES {problem.rule}: {_where(playlist, problem)}: {problem.text}"


def _where(playlist: MediaPlaylist, problem: _Problem) -> str:
    at = problem.at
    if at is None:
        return "playlist"
    segments = playlist.segments
    line = problem.offset + 1
    if at == HEAD:
        return f"line {line} (header)"
    line += len(playlist.head) + sum(len(s.raw) for s in segments[:at])
    if at >= len(segments):
        return f"line {line} (after the last segment)"
    return f"line {line} (segment {at} {segments[at].uri!r})"
