"""The listed segments of a playlist, as both cue families place breaks in them: their
durations, their dates (from the PROGRAM-DATE-TIME anchors) and media sequence numbers.
"""

import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Final, NamedTuple

from edge_assembler.core.hls.model import MediaPlaylist

# Dates and durations come as millisecond text: closer than this is the same instant.
SAME_INSTANT: Final = 0.05


class Anchor(NamedTuple):
    at: int
    epoch: float
    text: str


class Window:
    """Facts about the listed segments that every break computation uses."""

    def __init__(self, playlist: MediaPlaylist, anchors: Sequence[Anchor]) -> None:
        self.playlist = playlist
        self.count = len(playlist.segments)
        self.anchors = {a.at: a.text for a in anchors}
        self._anchor_list = anchors

    @cached_property
    def durations(self) -> list[float]:
        # Breaks closed by markers need no durations: computed only when asked for.
        return [s.duration for s in self.playlist.segments]

    @cached_property
    def times(self) -> list[float] | None:
        return _timeline(self.durations, self._anchor_list) if self._anchor_list else None

    def covered_end(self, start: int, limit: int, already: float, target: float) -> int | None:
        """Where ``target`` seconds of break (``already`` gone) end, within half a segment:
        the first segment from ``start`` whose middle lies past the target (SPEC_RULES 44).
        None when the listed segments up to ``limit`` do not reach it."""
        done = already
        for index in range(start, limit):
            if done + self.durations[index] / 2 >= target:
                return index
            done += self.durations[index]
        return limit if done >= target - SAME_INSTANT else None

    def first_at(self, moment: float, start: int = 0) -> int:
        """The first segment from ``start`` whose middle lies at or after ``moment``."""
        assert self.times is not None
        for index in range(start, self.count):
            if self.times[index] + self.durations[index] / 2 >= moment:
                return index
        return self.count

    def start_msn(self, start: int, elapsed: float) -> int:
        """The MSN of the break's first segment. When that lies before the window, count
        ``elapsed`` back in full-length segments, which the durations allow when the window
        has one usual duration and nothing longer (the first segment of a break may be the
        short end of a split one, SPEC_RULES 44), and never below MSN 0; else the first
        listed MSN."""
        first = self.playlist.msn(start)
        if elapsed <= SAME_INSTANT:
            return first
        full = self.full_duration
        if full is None or not math.isfinite(elapsed / full):
            return first
        # Up to 5 % of a segment over a whole number is an encoder's jitter accumulated
        # over the break (AAC segments of 2.005 s), not the short end of a split one.
        before = math.ceil(elapsed / full - 0.05)
        return first - before if before <= first else first  # MSNs start at 0

    @cached_property
    def full_duration(self) -> float | None:
        """The duration of a whole segment: the usual one when no segment is longer, else
        the longest when it makes the target duration (RFC 8216 §4.3.3.1); None when the
        durations do not say (a cadence of 6 s with 6.8 s segments)."""
        counts = Counter(round(d, 3) for d in self.durations)
        if not counts:
            return None
        usual = max(counts, key=lambda d: (counts[d], d))
        longest = max(counts)
        if usual > 0 and longest <= usual + 0.001:
            return usual
        return longest if round(longest) == self.playlist.target_duration else None

    def start_date(self, start: int, elapsed: float) -> str | None:
        """The PROGRAM-DATE-TIME of the break's first segment, as written when it is."""
        if not self._anchor_list:
            return None  # no dates (``times`` is None), without deriving them
        if elapsed == 0 and start in self.anchors:
            return self.anchors[start]
        if self.times is None:
            return None
        try:
            moment = datetime.fromtimestamp(self.time_at(start) - elapsed, UTC)
        except (ValueError, OverflowError, OSError):
            return None  # beyond the years a date can be written in
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def time_at(self, index: int) -> float:
        assert self.times is not None
        if index < self.count:
            return self.times[index]
        return self.times[-1] + self.durations[-1] if self.count else self.times[0]


def _timeline(durations: Sequence[float], anchors: Sequence[Anchor]) -> list[float] | None:
    """The date of every segment: the nearest earlier PROGRAM-DATE-TIME plus the durations
    since (RFC 8216 §4.3.2.6), or the first one minus the durations before it."""
    if not anchors:
        return None
    starts = [0.0]
    for duration in durations:
        starts.append(starts[-1] + duration)
    times, current = [], 0
    for index in range(len(durations)):
        while current + 1 < len(anchors) and anchors[current + 1].at <= index:
            current += 1
        anchor = anchors[current]
        times.append(anchor.epoch + starts[index] - starts[anchor.at])
    return times or [anchors[0].epoch]
