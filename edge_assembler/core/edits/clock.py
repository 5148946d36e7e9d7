"""The output's clock: where every run starts on it, and the dates that move with a run.

If any run has a date, the output has one. A run that keeps its own clock (content) keeps
its dates unless they would overlap the previous run by more than ``TOLERANCE``; then it
and the date ranges after its start move later by the overlap (SPEC_RULES 32). A run
without its own clock (an ad) starts at the date it was given (a replaced break keeps the
dates of the content it replaces), else continues the previous run's clock or, before the
first dated run, ends where that run starts. ``join`` writes its dates on its first segment
and on every segment after a discontinuity inside it (SPEC_RULES 31).
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from edge_assembler.core.edits.seams import TOLERANCE, Run
from edge_assembler.core.hls.attributes import parse_attributes
from edge_assembler.core.hls.dates import format_date, parse_date
from edge_assembler.core.hls.lines import classify

_PDT = "EXT-X-PROGRAM-DATE-TIME"


class Clock(NamedTuple):
    """Start date and shift of every run (None: the output has no clock)."""

    starts: list[datetime | None]
    deltas: list[timedelta]


def plan_clock(runs: Sequence[Run]) -> Clock:
    anchor = _clock_start(runs)
    starts: list[datetime | None] = []
    deltas: list[timedelta] = []
    end = anchor
    for run in runs:
        start, delta = end, timedelta(0)
        if run.date is not None and (run.own_clock or end is None):
            start = run.date
            if end is not None and (end - start).total_seconds() > TOLERANCE:
                start, delta = end, end - run.date
        elif run.date is not None:
            start = run.date  # a run placed on the clock explicitly (a replaced break)
        starts.append(start)
        deltas.append(delta)
        if start is None:
            end = None
        elif run.own_clock and run.end_date is not None:
            end = run.end_date + delta
        else:
            end = start + timedelta(seconds=run.duration)
    return Clock(starts, deltas)


def _clock_start(runs: Sequence[Run]) -> datetime | None:
    """The date of the output's start: the first dated run, minus what comes before it."""
    if all(run.date is None for run in runs):
        return None  # no clock (and no need to add up durations)
    before = 0.0
    for run in runs:
        if run.date is not None:
            return run.date - timedelta(seconds=before)
        before += run.duration
    return None


def shift_pdt(raw: str, delta: timedelta) -> str:
    if not raw.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
        return raw
    line = classify(raw)
    moved = format_date(parse_date(line.value, line.number) + delta)
    return f"#{_PDT}:{moved}" + ("\r" if raw.endswith("\r") else "")


def shift_daterange(raw: str, shifts: Sequence[tuple[datetime, timedelta]]) -> str:
    """A date range that starts after a run whose dates moved moves with it."""
    if not raw.startswith("#EXT-X-DATERANGE:"):
        return raw
    line = classify(raw)
    attributes = parse_attributes(line.value, line.number)
    start = attributes.get("START-DATE")
    if start is None:
        return raw
    date = parse_date(start, line.number)
    deltas = [delta for since, delta in sorted(shifts) if since <= date]
    if not deltas:
        return raw
    changes = {"START-DATE": format_date(date + deltas[-1])}
    end = attributes.get("END-DATE")
    if end is not None:
        changes["END-DATE"] = format_date(parse_date(end, line.number) + deltas[-1])
    moved = f"#EXT-X-DATERANGE:{attributes.replace(changes).format()}"
    return moved + ("\r" if raw.endswith("\r") else "")
