"""Dates and durations as HLS playlists write them, and the date of every segment.

Strict readers raise ``ManifestError`` on text that is not a date (``parse_date``: edits
and ``invariants`` rely on the dates they read); lenient ones return None, since cue
detection never raises (``epoch``, ``iso_duration``, ``parse_seconds``).
"""

import math
import re
from datetime import UTC, datetime, timedelta

from edge_assembler.core.errors import ManifestError
from edge_assembler.core.hls.model import MediaPlaylist

_PDT = "EXT-X-PROGRAM-DATE-TIME"


def parse_date(text: str, line: int = 0) -> datetime:
    """An ISO 8601 date of a PDT or DATERANGE; UTC when it names no zone (BIS §4.4.4.6)."""
    try:
        date = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ManifestError(line, f"not an ISO 8601 date: {text.strip()!r}") from None
    return date if date.tzinfo else date.replace(tzinfo=UTC)


def format_date(date: datetime) -> str:
    """BIS §4.4.4.6: date-time-msec with its time zone (UTC as Z)."""
    text = date.isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def segment_dates(playlist: MediaPlaylist) -> list[datetime | None]:
    """The date of every segment: its own PROGRAM-DATE-TIME, extrapolated forward from
    the last one before it, or backward from the first one (BIS §6.3.3)."""
    return list(playlist.fact(program_dates))


def program_dates(playlist: MediaPlaylist) -> tuple[datetime | None, ...]:
    """``segment_dates`` as a fact of the playlist (``playlist.fact(program_dates)``: the
    caller must not mutate it)."""
    out: list[datetime | None] = []
    current: datetime | None = None
    for segment in playlist.segments:
        pdt = segment.tag(_PDT) if len(segment.raw) > 2 else None
        if pdt is not None:
            current = parse_date(pdt.value, pdt.number)
        out.append(current)
        if current is not None:
            current += timedelta(seconds=segment.duration)
    first = next((i for i, d in enumerate(out) if d is not None), None)
    if first is not None:
        back = out[first]
        assert back is not None
        for i in range(first - 1, -1, -1):
            back -= timedelta(seconds=playlist.segments[i].duration)
            out[i] = back
    return tuple(out)


# ---------------------------------------------------------------------------- lenient


def parse_seconds(text: str | None) -> float | None:
    """A duration written as a decimal number of seconds (None: not one, or negative)."""
    if text is None:
        return None
    try:
        return _finite(float(text))
    except ValueError:
        return None


def _finite(value: float) -> float | None:
    return value if 0 <= value < math.inf else None


_ISO_DURATION = re.compile(
    r"P(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)


def iso_duration(text: str | None) -> float | None:
    """An ISO 8601 time duration (``PT1M2.5S``)."""
    match = _ISO_DURATION.fullmatch(text.strip()) if text else None
    if match is None:
        return None
    h, m, s = (float(match[g] or 0) for g in ("h", "m", "s"))
    return _finite(h * 3600 + m * 60 + s)


def epoch(text: str | None) -> float | None:
    """Seconds since 1970 of an ISO 8601 date-time; a date without offset is UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
