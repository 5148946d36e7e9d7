"""Compose on an MPD: a new static presentation made of time ranges of one or more MPDs,
in order (highlights, recaps cut from earlier episodes, alternative scenes, short cuts).

``"self"`` is the edited MPD, which also gives the document around the Periods (MPD
attributes, ProgramInformation, UTCTiming, ...). Each range snaps to the segment boundaries
nearest to its ends (as in HLS) and becomes the Periods it covers, cut at both ends
(``periods.cut``); its Periods must have a known duration. Periods of the edited MPD keep
their ``@id`` (a cut one gets ``derived_id``), their BaseURLs and their Events in the range;
Periods of another MPD are imported like an inserted run (``splice.source_pieces``: absolute
BaseURLs, no EventStreams, the edited MPD's tracks mirrored) and named
``derived_id(source key, range start)``. A range that continues the range just before it, in
the same Period, declares period-continuity with it (never across other content, SPEC_RULES
83). Ranges with role ``ad`` carry the ad signalling.

The result is static (SPEC_RULES 74): Periods contiguous from 0 with ``@start`` and
``@duration``, ``mediaPresentationDuration`` the total, and the live-only parts of a dynamic
MPD (``minimumUpdatePeriod``, ``timeShiftBufferDepth``, ``suggestedPresentationDelay``,
``Location``, ``PatchLocation``) gone: the new presentation never changes.
"""

from collections.abc import Mapping

from lxml.etree import _Element

from edge_assembler.core.dash.edits.periods import (
    Piece,
    assemble,
    content_pieces,
    derived_id,
    event_number,
    remove,
    snapped,
)
from edge_assembler.core.dash.edits.splice import (
    imported,
    mark_ads,
    max_segment_duration,
    mirror,
    name_pieces,
    source_mpd,
)
from edge_assembler.core.dash.elements import children, namespace_of
from edge_assembler.core.dash.model import Mpd, PeriodView
from edge_assembler.core.edits.compose import Compose, Range
from edge_assembler.core.edits.seams import SELF, EditError

_LIVE_ATTRIBUTES = ("minimumUpdatePeriod", "timeShiftBufferDepth", "suggestedPresentationDelay")
_LIVE_ELEMENTS = ("Location", "PatchLocation")


def apply_compose(mpd: Mpd, edit: Compose, fetched: Mapping[str, Mpd]) -> Mpd:
    root = mpd.copy_root()
    work = Mpd.of(root)
    content = work.periods[0] if work.periods else None
    namespace = namespace_of(root)
    pieces = [p for part in edit.ranges for p in _range(work, part, fetched, namespace, content)]
    _make_static(root)
    return assemble(Mpd.of(root), root, pieces)


def _range(
    mpd: Mpd,
    part: Range,
    fetched: Mapping[str, Mpd],
    namespace: str,
    content: PeriodView | None,
) -> list[Piece]:
    if part.end <= part.start:
        raise EditError(f"range {part.start:g}-{part.end:g} s of {part.source!r} is empty")
    own = part.source == SELF
    source = mpd if own else source_mpd(fetched, part.source)
    last = source.periods[-1].end
    start = snapped(source, part.start, "nearest")[0]
    end = snapped(source, part.end if last is None else min(part.end, last), "nearest")[0]
    if end <= start:
        raise EditError(
            f"range {part.start:g}-{part.end:g} s of {part.source!r} holds no whole segment"
        )
    pieces = content_pieces(source, start, end, key=part.source, own=False)
    for piece in pieces:
        piece.fresh = True
        if not own:
            _import(source, piece, part.source_url, namespace, content)
    if not own:
        name_pieces(pieces, derived_id(part.source, start))
    if part.role == "ad":
        marker = event_number(derived_id(part.source, start))
        mark_ads(pieces, [part.source] * len(pieces), marker)
    return pieces


def _import(
    source: Mpd, piece: Piece, url: str, namespace: str, content: PeriodView | None
) -> None:
    assert piece.origin is not None
    period = source.periods[piece.origin[1]]
    imported(source, period, url, namespace, piece.element)
    if content is not None:
        mirror(piece.element, period, content)
    piece.max_segment = max_segment_duration(period)
    piece.foreign = True


def _make_static(root: _Element) -> None:
    root.set("type", "static")
    for name in _LIVE_ATTRIBUTES:
        root.attrib.pop(name, "")
    for name in _LIVE_ELEMENTS:
        for element in children(root, name):
            remove(element)
    if root.get("mediaPresentationDuration") is None:
        root.set("mediaPresentationDuration", "PT0S")  # assemble writes the total
