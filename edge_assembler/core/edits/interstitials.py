"""AddInterstitial: schedule an HLS interstitial instead of splicing (SPEC_RULES 46-51;
BIS Appendix D).

The player fetches and plays the interstitial asset itself, so the primary playlist keeps
its segments and numbering: the edit writes one ``EXT-X-DATERANGE`` with
``CLASS="com.apple.hls.interstitial"``, and that is all (DESIGN §4: no renumbering).

* Date: ``at`` seconds from the start of the first listed segment, mapped to a date through
  EXT-X-PROGRAM-DATE-TIME (BIS §6.3.3). A date range needs one (SPEC_RULES 34): a finished
  playlist without dates gets them from ``epoch`` on its first segment and on every
  segment after a discontinuity (SPEC_RULES 31); a live playlist without dates is refused,
  since dates made up per window would move on every reload.
* Place: before the first segment that starts at or after ``at`` (after the last one when
  none does), with ``CUE`` containing PRE before the first segment and with POST at the
  end of the playlist, after EXT-X-ENDLIST (SPEC_RULES 50). Only the date matters to
  players; the place keeps the tag next to the content it interrupts. A negative ``at``
  keeps an interstitial whose start slid out of a live window (SPEC_RULES 38).
* ``X-RESUME-OFFSET``: ``resume_offset`` when given, else 0 in a finished playlist (an
  insertion, BIS D.2) and absent in a live one (the interstitial replaces its duration).
* Asset URIs get ``_HLS_interstitial_id=<ID>`` (SPEC_RULES 49, BIS D.4).

Applying the same edit again changes nothing; another date range with the same ID and
other attributes is refused (SPEC_RULES 37).
"""

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Final, Literal, NamedTuple
from urllib.parse import quote, urlsplit

import msgspec

from edge_assembler.core.edits.base import Edit
from edge_assembler.core.edits.seams import TOLERANCE, EditError, QuotedText, Seconds, seconds
from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls.attributes import parse_attributes
from edge_assembler.core.hls.dates import format_date, parse_date, segment_dates
from edge_assembler.core.hls.lines import classify, tag, tag_name
from edge_assembler.core.hls.model import MediaPlaylist, Segment

INTERSTITIAL_CLASS: Final = "com.apple.hls.interstitial"

Cue = Literal["PRE", "POST", "ONCE", "PRE,ONCE", "POST,ONCE"]
# BIS D.2: enumerated-string-lists of X-RESTRICT and X-SNAP, and the two-valued strings.
_RESTRICT = r"^(SKIP|JUMP)(,(SKIP|JUMP))?$"
_SNAP = r"^(OUT|IN)(,(OUT|IN))?$"
_OCCUPIES = r"^(POINT|RANGE)$"
_STYLE = r"^(HIGHLIGHT|PRIMARY)$"
_QUOTABLE = r'^[^"\r\n]+$'  # RFC 8216 §4.2: a quoted-string has no '"', CR or LF
# BIS D.3: LABEL-ID characters.
_LABEL = r"^[A-Za-z_-]+$"


class PodAsset(msgspec.Struct, frozen=True, forbid_unknown_fields=True, array_like=True):
    """One asset of an interstitial pod: its URI and duration (seconds)."""

    uri: str
    duration: Annotated[float, msgspec.Meta(ge=0)]


class AddInterstitial(Edit, tag="add_interstitial", frozen=True):
    """Schedule the interstitial ``asset_uri`` or ``asset_list`` at ``at`` seconds.
    ``pod``: assets played back to back, for the shell to serve as an asset list (it
    sets ``asset_list``; the edit itself names one URI or list)."""

    id: QuotedText
    at: float | None = None
    cue: Cue | None = None
    asset_uri: QuotedText | None = None
    asset_list: QuotedText | None = None
    pod: tuple[PodAsset, ...] = ()
    duration: Seconds | None = None
    planned_duration: Seconds | None = None
    resume_offset: float | None = None
    playout_limit: Annotated[float, msgspec.Meta(gt=0)] | None = None
    restrict: Annotated[str, msgspec.Meta(pattern=_RESTRICT)] | None = None
    snap: Annotated[str, msgspec.Meta(pattern=_SNAP)] | None = None
    timeline_occupies: Annotated[str, msgspec.Meta(pattern=_OCCUPIES)] | None = None
    timeline_style: Annotated[str, msgspec.Meta(pattern=_STYLE)] | None = None
    content_may_vary: bool | None = None
    epoch: str = "1970-01-01T00:00:00.000Z"  # date of the start of a finished playlist


# Edits built in code skip msgspec's decode-time checks: the same patterns, at apply time.
_PATTERNS: Final = (
    ("id", _QUOTABLE),
    ("asset_uri", _QUOTABLE),
    ("asset_list", _QUOTABLE),
    ("restrict", _RESTRICT),
    ("snap", _SNAP),
    ("timeline_occupies", _OCCUPIES),
    ("timeline_style", _STYLE),
)


def apply_add_interstitial(playlist: MediaPlaylist, edit: AddInterstitial) -> MediaPlaylist:
    """``playlist`` with the interstitial's EXT-X-DATERANGE (see the module docstring)."""
    _validate(edit)
    if not playlist.segments:
        raise EditError("no segment to schedule an interstitial against")
    dated, dates = _dated(playlist, edit.epoch)
    position, start = _schedule(dated, edit, dates)
    line = tag("EXT-X-DATERANGE", _attributes(dated, edit, start), crlf=playlist.crlf)
    existing = _existing(playlist, edit.id)
    if existing:
        if line.removesuffix("\r") in existing:
            return playlist
        raise EditError(f"another EXT-X-DATERANGE has the ID {edit.id!r} (SPEC_RULES 37)")
    return _insert(dated, position, line)


def interstitial_uri(uri: str, identifier: str) -> str:
    """``uri`` with ``_HLS_interstitial_id=<identifier>`` in its query (BIS D.4); ``data:``
    URIs and URIs that already carry it are left alone."""
    if uri.startswith("data:") or re.search(r"[?&]_HLS_interstitial_id=", uri):
        return uri
    base, hash_, fragment = uri.partition("#")
    separator = "" if base.endswith(("?", "&")) else "&" if "?" in base else "?"
    value = quote(identifier, safe="")
    return f"{base}{separator}_HLS_interstitial_id={value}{hash_}{fragment}"


# -- asset lists ---------------------------------------------------------------------------


class SkipControl(
    msgspec.Struct,
    frozen=True,
    forbid_unknown_fields=True,
    omit_defaults=True,
    rename={"offset": "OFFSET", "duration": "DURATION", "label_id": "LABEL-ID"},
):
    """BIS D.3: when a skip button shows (seconds into the interstitial), for how long,
    and the key of its localized label."""

    offset: Annotated[int, msgspec.Meta(ge=0)] | None = None
    duration: Annotated[int, msgspec.Meta(ge=0)] | None = None
    label_id: Annotated[str, msgspec.Meta(pattern=_LABEL)] | None = None


class _Asset(msgspec.Struct, frozen=True, rename="upper"):
    uri: str
    duration: float


class _AssetList(
    msgspec.Struct,
    frozen=True,
    omit_defaults=True,
    rename={"assets": "ASSETS", "skip_control": "SKIP-CONTROL"},
):
    assets: tuple[_Asset, ...]
    skip_control: SkipControl | None = None


def asset_list_json(
    assets: Sequence[tuple[str, float]], skip_control: SkipControl | None = None
) -> bytes:
    """The X-ASSET-LIST document (BIS D.2): ``{"ASSETS":[{"URI":..,"DURATION":..}]}``, the
    assets played back to back, each an absolute URI with its duration in seconds."""
    for uri, duration in assets:
        if not urlsplit(uri).scheme:
            raise EditError(f"asset URI {uri!r} is not absolute (BIS D.2)")
        if not 0 <= duration < float("inf"):
            raise EditError(f"asset {uri!r} has the duration {duration!r}")
    listed = tuple(_Asset(uri, float(duration)) for uri, duration in assets)
    return msgspec.json.encode(_AssetList(listed, skip_control))


# -- applying ------------------------------------------------------------------------------


def _validate(edit: AddInterstitial) -> None:
    if (edit.asset_uri is None) == (edit.asset_list is None):
        raise EditError("an interstitial has exactly one of asset_uri and asset_list")
    if edit.asset_uri is not None and not urlsplit(edit.asset_uri).scheme:
        raise EditError(f"X-ASSET-URI {edit.asset_uri!r} is not absolute (BIS D.2)")
    if edit.at is None and not _cued(edit, "PRE") and not _cued(edit, "POST"):
        raise EditError("an interstitial without CUE PRE or POST needs `at`")
    for name, pattern in _PATTERNS:
        value = getattr(edit, name)
        if value is not None and not re.match(pattern, value):
            raise EditError(f"{name} {value!r} does not match {pattern}")


def _cued(edit: AddInterstitial, trigger: str) -> bool:
    return edit.cue is not None and trigger in edit.cue.split(",")


def _dated(playlist: MediaPlaylist, epoch: str) -> tuple[MediaPlaylist, list[datetime]]:
    """The playlist with dates on its segments (SPEC_RULES 34) and each segment's date."""
    found = segment_dates(playlist)
    if all(date is not None for date in found):
        return playlist, [date for date in found if date is not None]
    if playlist.live:
        raise EditError("a live playlist without EXT-X-PROGRAM-DATE-TIME (SPEC_RULES 34)")
    try:
        start = parse_date(epoch)
    except ManifestError:
        raise EditError(f"epoch {epoch!r} is not an ISO 8601 date") from None
    dates = [start + timedelta(seconds=t) for t in playlist.starts()]
    segments = tuple(
        _with_line(s, tag("EXT-X-PROGRAM-DATE-TIME", format_date(d), crlf=playlist.crlf))
        if i == 0 or s.discontinuity
        else s
        for i, (s, d) in enumerate(zip(playlist.segments, dates, strict=True))
    )
    return playlist.evolve(segments=segments), dates


class _Position(NamedTuple):
    segment: int  # insert before this segment; len(segments): after the last one
    end: bool  # at the very end of the playlist (CUE POST)


def _schedule(
    playlist: MediaPlaylist, edit: AddInterstitial, dates: list[datetime]
) -> tuple[_Position, datetime]:
    """Where the date range goes, and its START-DATE."""
    starts = playlist.starts()
    last = playlist.segments[-1]
    end = starts[-1] + last.duration
    if edit.at is None and playlist.live:
        # The first or last date of a live window moves on every reload (SPEC_RULES 37).
        raise EditError("a live playlist needs `at` for a stable START-DATE")
    if edit.at is not None and edit.at > end + TOLERANCE:
        raise EditError(f"`at` {edit.at:g} s is after the end of the playlist ({end:g} s)")
    if _cued(edit, "PRE"):
        return _Position(0, False), _date_at(starts, dates, 0.0 if edit.at is None else edit.at)
    if _cued(edit, "POST"):
        when = end if edit.at is None else edit.at
        return _Position(len(starts), True), _date_at(starts, dates, when)
    assert edit.at is not None
    at = edit.at
    index = next((i for i, t in enumerate(starts) if t >= at - TOLERANCE), len(starts))
    return _Position(index, False), _date_at(starts, dates, at)


def _date_at(starts: list[float], dates: list[datetime], at: float) -> datetime:
    """The date of time ``at``, from the date of the segment it falls in."""
    index = max((i for i, t in enumerate(starts) if t <= at), default=0)
    return dates[index] + timedelta(seconds=at - starts[index])


def _attributes(playlist: MediaPlaylist, edit: AddInterstitial, start: datetime) -> str:
    resume = edit.resume_offset
    if resume is None and not playlist.live:
        resume = 0.0  # BIS D.2: playback resumes where the interstitial was scheduled
    identifier = edit.id
    values: list[tuple[str, str | None, bool]] = [
        ("ID", identifier, True),
        ("CLASS", INTERSTITIAL_CLASS, True),
        ("START-DATE", format_date(start), True),
        ("CUE", edit.cue, True),
        ("DURATION", _number(edit.duration), False),
        ("PLANNED-DURATION", _number(edit.planned_duration), False),
        ("X-ASSET-URI", _with_id(edit.asset_uri, identifier), True),
        ("X-ASSET-LIST", _with_id(edit.asset_list, identifier), True),
        ("X-RESUME-OFFSET", _number(resume), False),
        ("X-PLAYOUT-LIMIT", _number(edit.playout_limit), False),
        ("X-SNAP", edit.snap, True),
        ("X-RESTRICT", edit.restrict, True),
        ("X-CONTENT-MAY-VARY", _yes_no(edit.content_may_vary), True),
        ("X-TIMELINE-OCCUPIES", edit.timeline_occupies, True),
        ("X-TIMELINE-STYLE", edit.timeline_style, True),
    ]
    return ",".join(
        f'{name}="{value}"' if quoted else f"{name}={value}"
        for name, value, quoted in values
        if value is not None
    )


def _number(value: float | None) -> str | None:
    return None if value is None else seconds(value)


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else "YES" if value else "NO"


def _with_id(uri: str | None, identifier: str) -> str | None:
    return None if uri is None else interstitial_uri(uri, identifier)


def _existing(playlist: MediaPlaylist, identifier: str) -> list[str]:
    """The EXT-X-DATERANGE lines with ID ``identifier`` (without CR)."""
    lines = [raw for s in playlist.segments if len(s.raw) > 2 for raw in s.raw]
    found = []
    for raw in (*lines, *playlist.tail):
        if tag_name(raw) == "EXT-X-DATERANGE":
            line = classify(raw)
            if parse_attributes(line.value).get("ID") == identifier:
                found.append(raw.removesuffix("\r"))
    return found


def _insert(playlist: MediaPlaylist, position: _Position, line: str) -> MediaPlaylist:
    segments = playlist.segments
    if position.end:
        return playlist.evolve(tail=(*playlist.tail, line))
    if position.segment == len(segments):
        return playlist.evolve(tail=(line, *playlist.tail))
    index = position.segment
    moved = _with_line(segments[index], line)
    return playlist.evolve(segments=(*segments[:index], moved, *segments[index + 1 :]))


def _with_line(segment: Segment, line: str) -> Segment:
    """``segment`` with ``line`` just before its first EXT-X-PART or its EXTINF (after its
    DISCONTINUITY, KEY, MAP and PROGRAM-DATE-TIME, BIS §4.4.4.9)."""
    at = next(
        i
        for i, raw in enumerate(segment.raw)
        if raw.startswith("#EXTINF:") or tag_name(raw) == "EXT-X-PART" or i == len(segment.raw) - 1
    )
    return segment._replace(raw=(*segment.raw[:at], line, *segment.raw[at:]))
