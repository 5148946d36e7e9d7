"""Joining runs of segments from different playlists into one media playlist.

Every edit that puts segments of one playlist next to segments of another (ads, recaps,
bumpers, break replacement, composition) cuts ``Run``s with ``seams.take``, joins them with
``join`` and fixes the playlist-wide tags with ``assemble.assemble``. At a seam (two runs
that do not continue each other) the first segment of the later run gets:

* ``EXT-X-DISCONTINUITY`` (SPEC_RULES 22; RFC 8216 §4.3.2.3, BIS §4.4.4.3: the timestamp
  sequence changes);
* ``EXT-X-KEY:METHOD=NONE`` when keys in effect do not apply to it, then every key of its
  own playlist in effect there, re-stated even if unchanged (SPEC_RULES 24; BIS §4.4.4.4:
  NONE carries no other attribute, so one tag ends the scope of every KEYFORMAT);
* the ``EXT-X-MAP`` in effect in its own playlist, re-stated even if unchanged (SPEC_RULES
  23; BIS §4.4.4.5). HLS cannot end a MAP's scope, so a run without MAP (TS, packed
  audio) cannot follow one with a MAP (fMP4): such a seam is refused with ``EditError``
  (the edge then fails open). A run without MAP may open the output before the first MAP
  (a TS pre-roll into fMP4 content), and a run with a MAP may follow runs without one (an
  fMP4 post-roll after TS content);
* ``EXT-X-PROGRAM-DATE-TIME`` when the output has a clock (SPEC_RULES 31-32, see ``clock``).

Every segment whose media sequence number moved and whose AES-128 or SAMPLE-AES key of the
identity format has no IV gets an explicit ``IV`` equal to its original number (SPEC_RULES
26; BIS §5.2).

Runs of other playlists are *foreign*: they keep only EXTINF, BYTERANGE, KEY, MAP, GAP,
BITRATE and DISCONTINUITY (their cue tags, date ranges, comments and parts mean nothing
here), their URIs are made absolute against their playlist's URL (SPEC_RULES 7) and their
lines end like the output's (``seams.foreign``). Runs of the edited playlist keep their
lines byte for byte, apart from the tags a seam needs.

Markers: a run with a ``cue`` belongs to a signalled break. The first run of a break gets
``EXT-X-CUE-OUT:DURATION=<d>`` (``EXT-X-CUE-OUT-CONT`` when the listed part starts inside
the break), the first run after it ``EXT-X-CUE-IN`` (written before ``EXT-X-ENDLIST`` when
the output ends with the break), and in live playlists every other segment of the break
carries ``EXT-X-CUE-OUT-CONT:ElapsedTime=<e>,Duration=<d>`` (SPEC_RULES 43, 45). A run with
a ``mark`` gets an ``EXT-X-DATERANGE`` for its creative when the output has a clock
(SPEC_RULES 34: a date range needs a program date).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from edge_assembler.core.edits.clock import Clock, plan_clock, shift_daterange, shift_pdt
from edge_assembler.core.edits.scopes import (
    SCOPE_TAGS,
    Scope,
    apply_lines,
    key_attributes,
    line_body,
    scope_of,
    with_ending,
)
from edge_assembler.core.edits.seams import (
    TOLERANCE,
    AdMark,
    EditError,
    Run,
    continues,
    foreign,
    seconds,
    with_lines,
)
from edge_assembler.core.hls.dates import format_date
from edge_assembler.core.hls.layout import Piece, pieces_of
from edge_assembler.core.hls.lines import tag, tag_name
from edge_assembler.core.hls.model import Segment

# CLASS of the date ranges written for inserted ad creatives.
AD_CLASS = "com.edge-assembler.ad"

_PDT = "EXT-X-PROGRAM-DATE-TIME"
# BIS §5.2: without IV, keys of the identity format use the media sequence number.
_IMPLICIT_IV_METHODS = frozenset({"AES-128", "SAMPLE-AES"})


class Joined(NamedTuple):
    segments: tuple[Segment, ...]
    trailing: tuple[str, ...]  # lines for the tail, before EXT-X-ENDLIST
    shifts: tuple[tuple[datetime, timedelta], ...]  # dates from then on moved by delta
    ivs: bool  # explicit IVs were written (BIS §8: version 2)
    # The segments with more lines than EXTINF and URI, in order: the others are plain,
    # from the edited playlist or a source, and no playlist tag is on them.
    tagged: tuple[int, ...]
    pieces: tuple[Piece, ...]  # the layout of ``segments``


class _Place(NamedTuple):
    """Where a run lands in the output."""

    seam: bool  # after a run it does not continue
    start: datetime | None  # the date of its first segment (None: no clock)
    delta: timedelta  # how far its own dates moved
    moved: bool  # its media sequence numbers changed


@dataclass
class _Joiner:
    """Adds the runs' segments to ``out``, rewriting what their place needs.

    A segment may need lines only at a seam (the first of a run), where it states tags
    (more lines than EXTINF and URI) or where its run needs something on every segment (a
    live break's CUE-OUT-CONT, IVs of moved numbers, dates). Other segments are copied as
    slices, so joining costs what the runs' seams and tags cost, not their length.
    """

    first_msn: int
    live: bool
    crlf: bool
    clock: Clock
    shifts: tuple[tuple[datetime, timedelta], ...]
    out: list[Segment] = field(default_factory=list)
    tagged: list[int] = field(default_factory=list)  # indices in ``out`` (see Joined)
    pieces: list[Piece] = field(default_factory=list)  # the layout of ``out``
    scope: Scope = field(default_factory=Scope)  # in effect after the last segment
    previous: Run | None = None
    ivs: bool = False

    def add(self, k: int, run: Run) -> None:
        place = _Place(
            seam=self.previous is not None and not continues(self.previous, run),
            start=self.clock.starts[k],
            delta=self.clock.deltas[k],
            # Segments whose number moved lose an implicit IV (SPEC_RULES 26).
            moved=self.first_msn + len(self.out) != run.first_msn,
        )
        scope = scope_of(run.context)
        if run.tagged is None or not self._inner_stay(run, place):
            self._add_each(run, scope, place)
        elif run.keep_tags:
            self._add_tagged(run, run.tagged, scope, place)
        elif not place.delta:
            self._add_own_forms(run, scope, place)
        else:
            self._add_each(run, scope, place)
        self.scope = scope
        self.previous = run

    def _inner_stay(self, run: Run, place: _Place) -> bool:
        """Whether the segments of ``run`` after its first keep their own form (their lines
        in the edited playlist, ``foreign`` for another), wherever the run lands, but for
        dates they state: no break marker to add (a live break), no implicit IV to write
        out (numbers moved under a key) and no date to give them (the output has no clock,
        or it is the run's own)."""
        return (
            not (self.live and run.cue is not None)
            and not (place.moved and run.keyed)
            and (place.start is None or (run.own_clock and run.date is not None))
        )

    def _add_tagged(self, run: Run, tagged: tuple[int, ...], scope: Scope, place: _Place) -> None:
        """Rewrite the first segment and the tagged ones; copy the plain segments between
        them as slices. A long content run costs what its tags cost, not its length."""
        segments, offset = run.segments, run.offset
        self._put(self._rewrite(run, 0, scope, place, None))
        if not self.shifts and not place.delta:
            # No date moves: the tagged segments stay as they are too (see ``_inner``);
            # only the keys and map they state change the scope.
            base = len(self.out) - 1 - offset
            for i in tagged:
                if i > offset:
                    apply_lines(scope, segments[i - offset].raw)
                    self.tagged.append(base + i)
            self._copy(run, 1, len(segments))
            return
        done = 1
        for i in tagged:
            if i > offset:
                self._copy(run, done, i - offset)
                self._put(self._rewrite(run, i - offset, scope, place, None))
                done = i - offset + 1
        self._copy(run, done, len(segments))

    def _copy(self, run: Run, start: int, stop: int) -> None:
        """Segments ``start:stop`` of ``run``, plain or left as they are."""
        self.out.extend(run.segments[start:stop])
        if run.origin is None:
            self.pieces.extend(run.segments[start:stop])
        else:
            self.pieces.extend(pieces_of(run.origin, run.offset + start, run.offset + stop))

    def _add_own_forms(self, run: Run, scope: Scope, place: _Place) -> None:
        """A foreign run whose dates do not move: after the first segment, each is its
        ``foreign`` form, whose keys and map move the scope."""
        self._put(self._rewrite(run, 0, scope, place, None))
        for segment in run.segments[1:]:
            own = foreign(segment, run.base_url, run.own_clock, self.crlf)
            if len(own.raw) > 2:
                apply_lines(scope, own.raw)
            self._put(own)

    def _add_each(self, run: Run, scope: Scope, place: _Place) -> None:
        elapsed = 0.0
        for j, segment in enumerate(run.segments):
            if j and self._as_is(run, segment, scope, place.moved):
                self.out.append(segment)  # plain
                self.pieces.append(segment)
            else:
                self._put(self._rewrite(run, j, scope, place, elapsed))
            elapsed += segment.duration

    def _put(self, segment: Segment) -> None:
        if len(segment.raw) > 2:
            self.tagged.append(len(self.out))
        self.out.append(segment)
        self.pieces.append(segment)

    def _rewrite(
        self, run: Run, j: int, scope: Scope, place: _Place, elapsed: float | None
    ) -> Segment:
        """Segment ``j`` of ``run`` with what its place in the output needs."""
        segment = run.segments[j]
        if not run.keep_tags:
            segment = foreign(segment, run.base_url, run.own_clock, self.crlf)
        lines = list(segment.raw)
        if j == 0:
            lines = self._first(run, lines, scope, place.seam, place.start, place.delta)
        else:
            lines = self._inner(run, lines, place.start, elapsed, place.delta)
        if self.shifts and run.keep_tags and len(lines) > 2:
            lines = [shift_daterange(raw, self.shifts) for raw in lines]
        apply_lines(scope, lines)
        key = _implicit_iv_key(scope) if place.moved else None
        if key is not None:
            lines = _explicit_iv(lines, key, run.first_msn + j, self.crlf)
            self.ivs = True
        return with_lines(segment, lines)

    def _as_is(self, run: Run, segment: Segment, scope: Scope, moved: bool) -> bool:
        """Whether a segment inside a run of the edited playlist stays as it is: nothing
        but its EXTINF and URI, no break marker to add, no IV to write out."""
        return (
            len(segment.raw) == 2
            and run.keep_tags
            and not (self.live and run.cue is not None)
            and not (moved and _implicit_iv_key(scope) is not None)
        )

    def _first(
        self,
        run: Run,
        lines: list[str],
        scope: Scope,
        seam: bool,
        date: datetime | None,
        delta: timedelta,
    ) -> list[str]:
        names = {tag_name(raw) for raw in lines[:-1]}
        if seam and scope.map is None and "EXT-X-MAP" not in names:
            self._refuse_leaving_a_map()
        top = []
        if seam and "EXT-X-DISCONTINUITY" not in names:
            top.append(self._tag("EXT-X-DISCONTINUITY"))
        elif self.previous is None and not run.keep_tags:
            # A foreign run opening the output: its own leading discontinuity means nothing.
            lines = [raw for raw in lines if tag_name(raw) != "EXT-X-DISCONTINUITY"]
        top += [with_ending(line_body(raw), self.crlf) for raw in run.lead]
        top += self._cue_lines(run)
        if seam or self.previous is None:
            top += self._scope_lines(scope, lines, names)
        if date is not None and self._dates_first(run, seam, _PDT in names, delta):
            lines = [raw for raw in lines if tag_name(raw) != _PDT]
            top.append(self._tag(_PDT, format_date(date)))
        if date is not None and run.mark is not None:
            top.append(self._daterange(run.mark, date))
        return top + lines

    def _refuse_leaving_a_map(self) -> None:
        """SPEC_RULES 23, BIS §4.4.4.5: a MAP applies to every later segment until the next
        MAP, and nothing ends its scope, so a segment without a MAP (TS, packed audio)
        cannot follow one with a MAP."""
        if self.scope.map is not None:
            raise EditError(
                "segments without EXT-X-MAP cannot follow segments with one (BIS §4.4.4.5: "
                "a MAP applies until the next MAP); package the ad in the content's container"
            )

    def _dates_first(self, run: Run, seam: bool, dated: bool, delta: timedelta) -> bool:
        """Whether the first segment of ``run`` gets a date written by us."""
        if not run.own_clock or delta:
            return True
        if dated:
            return False  # its own date is right: keep the line as it is
        return seam or run.date is None

    def _inner(
        self,
        run: Run,
        lines: list[str],
        start: datetime | None,
        elapsed: float | None,
        delta: timedelta,
    ) -> list[str]:
        """``elapsed``: the run's time before the segment (None when the run does not need
        it, see ``_inner_stay``)."""
        top = []
        if run.cue is not None and self.live:
            assert elapsed is not None
            top.append(self._cont(run.cue.elapsed + elapsed, run.cue.duration))
        if start is None:
            return top + lines
        if run.own_clock and run.date is not None:
            moved = delta and len(lines) > 2
            return top + ([shift_pdt(raw, delta) for raw in lines] if moved else lines)
        assert elapsed is not None
        if any(tag_name(raw) == "EXT-X-DISCONTINUITY" for raw in lines):
            lines = [raw for raw in lines if tag_name(raw) != _PDT]
            top.append(self._tag(_PDT, format_date(start + timedelta(seconds=elapsed))))
        return top + lines

    def _cue_lines(self, run: Run) -> list[str]:
        before = self.previous.cue if self.previous is not None else None
        if run.cue is None:
            return [self._tag("EXT-X-CUE-IN")] if before is not None else []
        if before is not None and run.cue.elapsed > TOLERANCE:
            # The same break goes on: live players get the elapsed time.
            return [self._cont(run.cue.elapsed, run.cue.duration)] if self.live else []
        closing = [self._tag("EXT-X-CUE-IN")] if before is not None else []
        if run.cue.elapsed > TOLERANCE:
            # The listed part starts inside the break (a live window).
            return [*closing, self._cont(run.cue.elapsed, run.cue.duration)]
        if run.cue.duration is None:
            return [*closing, self._tag("EXT-X-CUE-OUT")]
        return [*closing, self._tag("EXT-X-CUE-OUT", f"DURATION={seconds(run.cue.duration)}")]

    def _scope_lines(self, scope: Scope, lines: list[str], names: set[str]) -> list[str]:
        """KEY and MAP lines that put the output in the scope ``scope`` (the run's own
        playlist before its first segment), leaving out what the segment states itself
        (``names``: the tag names of its lines)."""
        own = []
        if not names.isdisjoint(SCOPE_TAGS):
            own = [line_body(raw) for raw in lines[:-1] if tag_name(raw) in SCOPE_TAGS]
        elif not (scope.keys or scope.map or self.scope.keys):
            return []  # no key or map on either side: nothing to state
        own_scope = scope_of(own)
        top = []
        if not any(tag_name(b) == "EXT-X-KEY" and _is_none(b) for b in own):
            stated = scope.keys.keys() | own_scope.keys.keys()
            if any(kf not in stated for kf in self.scope.keys):
                top.append(self._tag("EXT-X-KEY", "METHOD=NONE"))
            top += [
                with_ending(b, self.crlf)
                for kf, b in scope.keys.items()
                if kf not in own_scope.keys
            ]
        if scope.map is not None and own_scope.map is None:
            top.append(with_ending(scope.map, self.crlf))
        return top

    def _daterange(self, mark: AdMark, date: datetime) -> str:
        start = format_date(date + timedelta(seconds=mark.start))
        value = (
            f'ID="{mark.id}",CLASS="{AD_CLASS}",START-DATE="{start}",'
            f"DURATION={seconds(mark.duration)}"
        )
        if mark.creative_id is not None:
            value += f',X-AD-CREATIVE-ID="{mark.creative_id}"'
        return self._tag("EXT-X-DATERANGE", value)

    def _cont(self, elapsed: float, duration: float | None) -> str:
        value = f"ElapsedTime={seconds(elapsed)}"
        if duration is not None:
            value += f",Duration={seconds(duration)}"
        return self._tag("EXT-X-CUE-OUT-CONT", value)

    def _tag(self, name: str, value: str | None = None) -> str:
        return tag(name, value, crlf=self.crlf)


def join(runs: Sequence[Run], *, first_msn: int, live: bool, ended: bool, crlf: bool) -> Joined:
    """The segments of ``runs`` in order, with the tags every seam needs.

    ``first_msn`` is the media sequence number of the output's first segment; ``ended``
    says whether the output ends (EXT-X-ENDLIST), so a break at its end can be closed.
    """
    clock = plan_clock(runs)
    shifts = tuple(
        (run.date, delta)
        for run, delta in zip(runs, clock.deltas, strict=True)
        if delta and run.date is not None
    )
    joiner = _Joiner(first_msn, live, crlf, clock, shifts)
    for k, run in enumerate(runs):
        joiner.add(k, run)
    closing = joiner.previous is not None and joiner.previous.cue is not None and ended
    trailing = (tag("EXT-X-CUE-IN", crlf=crlf),) if closing else ()
    return Joined(
        tuple(joiner.out),
        trailing,
        shifts,
        joiner.ivs,
        tuple(joiner.tagged),
        tuple(joiner.pieces),
    )


def _is_none(body: str) -> bool:
    return key_attributes(body).get("METHOD") == "NONE"


def _implicit_iv_key(scope: Scope) -> str | None:
    """The key in effect whose IV is the media sequence number (BIS §5.2: a key of the
    identity format without IV), if any."""
    key = scope.keys.get("identity")
    if key is None:
        return None
    attributes = key_attributes(key)
    if attributes.get("METHOD") not in _IMPLICIT_IV_METHODS or "IV" in attributes:
        return None
    return key


def _explicit_iv(lines: list[str], key: str, msn: int, crlf: bool) -> list[str]:
    """``lines`` with the IV of ``key`` that a moved segment used implicitly written out:
    its original media sequence number."""
    explicit = f"{key},IV=0x{msn:032X}"
    last = max((i for i, raw in enumerate(lines) if line_body(raw) == key), default=None)
    if last is None:
        return [with_ending(explicit, crlf), *lines]
    return [*lines[:last], with_ending(explicit, crlf), *lines[last + 1 :]]
