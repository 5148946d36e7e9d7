"""Live HLS break replacement in the pipeline (DESIGN §4 "Live in-stream ad replacement
needs the break history").

Per stream (the master the session started at, the same for every rendition), the edge
records each break the first time it sees it in an origin window (``core.hls.sighting``)
and reads the stream's history back: at most one read, and a write per new break, per
stream, origin playlist version and process (concurrent requests share it). A history that
cannot be read fails the request open (``history``).

Per session, each break of the history is decided on its own: the rules see the stream's
facts with that one break, and the time the break was first seen, so every reload and
every node gets the same fill for (session, break). A break that started before the
session's player could see its start is left as the origin has it: a viewer joining
mid-break sees the origin's break until it ends, never half a pod. So only the breaks
since a session started number its windows: they stay in the history while the session's
token is valid, when ``[live] history_ttl`` is at least ``[session] ttl`` and
``history_max_breaks`` holds the breaks of that time.
"""

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Final, NamedTuple

import msgspec
from cachetools import LRUCache

from edge_assembler.config import Live
from edge_assembler.core.edits import AnyEdit
from edge_assembler.core.edits.live_replace import LiveBreak, LiveReplace, live_records
from edge_assembler.core.edits.replace_break import ReplaceBreak
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.hls.live import BreakRecord, translate_blocking_request
from edge_assembler.core.hls.model import MediaPlaylist
from edge_assembler.core.hls.sighting import sightings, unrecorded
from edge_assembler.core.rules import BreakFact, CompiledRules, ManifestFacts, decide
from edge_assembler.core.viewer import ContextInputs, context as viewer_context
from edge_assembler.live.history import BreakHistory, HistoryUnavailable, SeenBreak, open_history
from edge_assembler.metrics import Metrics
from edge_assembler.server.sources import FailOpen

_VERSIONS_KEPT: Final = 4096  # (stream, origin version) history reads remembered
_FILLS_KEPT: Final = 100_000  # (revision, session, playlist, break) decisions remembered


class BreakFill(NamedTuple):
    """The session's fill of one break: the edit, the sources it needs and the rules."""

    edit: ReplaceBreak | None
    needs: tuple[tuple[str, str], ...]
    fired: tuple[str, ...]


class LivePlan(NamedTuple):
    """The live part of a plan: the replacement edit and what it needs fetched."""

    edit: LiveReplace
    needs: dict[str, str]
    fired: tuple[str, ...]


class LiveBreaks:
    """The break history of this node's live streams, and the sessions' fills."""

    def __init__(self, config: Live, metrics: Metrics) -> None:
        self._history: BreakHistory = open_history(config)
        self._metrics = metrics
        self._read: LRUCache[tuple[str, str], tuple[SeenBreak, ...]] = LRUCache(_VERSIONS_KEPT)
        self._reading: dict[tuple[str, str], asyncio.Future[tuple[SeenBreak, ...]]] = {}
        self._fills: LRUCache[tuple[object, ...], BreakFill] = LRUCache(_FILLS_KEPT)
        # (token, playlist path) -> the session's last replacement and its numbering.
        self._numbered: LRUCache[tuple[str, str], tuple[LiveReplace, tuple[BreakRecord, ...]]] = (
            LRUCache(_FILLS_KEPT)
        )

    async def close(self) -> None:
        await self._history.close()

    async def history(
        self, stream: str, version: str, window: MediaPlaylist
    ) -> tuple[SeenBreak, ...]:
        """The stream's breaks once ``window`` (origin version ``version``) is recorded."""
        key = (stream, version)
        known = self._read.get(key)
        if known is not None:
            return known
        pending = self._reading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._sync(stream, window))
            self._reading[key] = pending
            pending.add_done_callback(lambda _: self._reading.pop(key, None))
        try:
            known = await asyncio.shield(pending)
        except HistoryUnavailable as exc:
            self._metrics.live_history.labels("unavailable").inc()
            raise FailOpen("history", str(exc)) from None
        self._read[key] = known
        return known

    async def _sync(self, stream: str, window: MediaPlaylist) -> tuple[SeenBreak, ...]:
        known = {b.id: b for b in await self._history.breaks(stream)}
        self._metrics.live_history.labels("read").inc()
        now = time.time()
        records = ((b.id, b.start_msn, b.replaced) for b in known.values())
        for seen in unrecorded(sightings(window), records):
            brk = SeenBreak(
                id=seen.id,
                start_msn=seen.start_msn,
                replaced=seen.replaced,
                duration=seen.duration,
                cue=seen.cue,
                seen_at=now,
                started=now - seen.age,
            )
            stored = await self._history.record(stream, brk)
            self._metrics.live_history.labels("recorded" if stored == brk else "raced").inc()
            known[stored.id] = stored
        return tuple(sorted(known.values(), key=lambda b: (b.start_msn, b.id)))

    def remember(
        self, token: str, path: str, edit: LiveReplace, fetched: Mapping[str, MediaPlaylist]
    ) -> None:
        """Keep the numbering of the session's last window of ``path`` for its blocking
        requests (a player asks for the segment after the last one it was given)."""
        key = (token, path)
        known = self._numbered.get(key)
        if known is not None and known[0] == edit:
            return
        try:
            self._numbered[key] = (edit, live_records(edit, fetched))
        except EditError:
            self._numbered.pop(key, None)

    def origin_query(self, token: str, path: str, pairs: Sequence[str]) -> list[str]:
        """A tokened request's query for the origin (``name=value`` pairs): no delta
        update (``_HLS_skip``: the edge withdraws them), and a blocking request's
        ``_HLS_msn``/``_HLS_part`` in origin numbering (BIS §6.2.5.2)."""
        values = dict(pair.partition("=")[::2] for pair in pairs)
        kept = [p for p in pairs if p.partition("=")[0] not in _LL_HLS]
        known = self._numbered.get((token, path))
        msn, part = _number(values.get("_HLS_msn")), _number(values.get("_HLS_part"))
        if known is not None and msn is not None:
            msn, part = translate_blocking_request(known[1], msn, part)
            kept.append(f"_HLS_msn={msn}")
            if part is not None:
                kept.append(f"_HLS_part={part}")
        else:
            kept += [p for p in pairs if p.partition("=")[0] in ("_HLS_msn", "_HLS_part")]
        return kept

    def plan(
        self,
        breaks: Sequence[SeenBreak],
        facts: ManifestFacts,
        inputs: ContextInputs,
        token: str,
        rules: CompiledRules,
        revision: int,
        hold_back: float,
    ) -> LivePlan | None:
        """The session's replacement of ``breaks`` (None: no break is replaced). Each break
        is decided alone, as of when it was first seen, and only when it started at most
        ``hold_back`` seconds before the session: a player starts that far from the live
        edge (RFC 8216 §6.3.3: three target durations), so it plays such a break from its
        start."""
        out: list[LiveBreak] = []
        needs: dict[str, str] = {}
        fired: dict[str, None] = {}
        end = -1  # the first origin MSN after the last replaced run
        joined = inputs.start - hold_back
        for brk in breaks:
            started = brk.seen_at if brk.started is None else brk.started
            if brk.duration is None or started < joined or brk.start_msn <= end:
                continue
            key = (revision, token, facts.path, brk.id, brk.start_msn)
            fill = self._fills.get(key)
            if fill is None:
                fill = self._fills[key] = _decide_break(brk, facts, inputs, rules)
            if fill.edit is None:
                continue
            out.append(LiveBreak(brk.start_msn, brk.replaced, brk.duration, fill.edit))
            needs.update(fill.needs)
            fired.update(dict.fromkeys(fill.fired))
            end = brk.start_msn + brk.replaced
        if not out:
            return None
        return LivePlan(LiveReplace(breaks=tuple(out)), needs, tuple(fired))


def _decide_break(
    brk: SeenBreak, facts: ManifestFacts, inputs: ContextInputs, rules: CompiledRules
) -> BreakFill:
    """The rules' fill of one break: the stream's facts with that break alone (and no window
    length), at the time it was first seen."""
    alone = msgspec.structs.replace(
        facts, duration=None, breaks=(BreakFact(id=brk.id, start=0.0, duration=brk.duration),)
    )
    at = datetime.fromtimestamp(brk.seen_at, UTC)
    decision = decide(alone, viewer_context(inputs, path=facts.path, now=at), rules)
    edit = next(
        (e for e in decision.edits if isinstance(e, ReplaceBreak) and e.break_id == brk.id),
        None,
    )
    if edit is None:
        return BreakFill(None, (), ())
    keys = {*edit.pod, *(() if edit.slate is None else (edit.slate,))}
    wanted = tuple((k, url) for k, url in decision.needs.items() if k in keys)
    return BreakFill(edit, wanted, decision.fired)


def without_replacements(edits: Sequence[AnyEdit]) -> tuple[AnyEdit, ...]:
    """A live media playlist's plan without the window-only break replacements: its breaks
    are replaced from the history (``LiveBreaks.plan``) or not at all."""
    return tuple(e for e in edits if not isinstance(e, ReplaceBreak))


_LL_HLS: Final = frozenset({"_HLS_msn", "_HLS_part", "_HLS_skip"})


def _number(value: str | None) -> int | None:
    """A decimal-integer query value (BIS §6.2.5.2); None when absent or not one."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    return int(value)
