"""Ad actions: pods in slots (``ad_break``) and frequency caps (``cap``), DESIGN §5.

Filling a slot is the bulk of a request's work, so what does not vary per viewer is
worked out once per compiled rule set: ``AdBreakPlan.fills`` keeps, per slot, rotation,
manifest format and rendition, length limit and the rights the viewer's country and
clock select, the pod that rights and the manifest allow, with its edits. Frequency
caps vary per viewer: a kept pod is used only when no asset it looked at is capped
(else the pod is chosen again with the caps); the result is the same either way.
"""

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from hashlib import blake2b
from typing import ClassVar, Final

from edge_assembler.core.edits.interstitials import AddInterstitial, PodAsset
from edge_assembler.core.edits.replace_break import ReplaceBreak
from edge_assembler.core.edits.splice import InsertRun
from edge_assembler.core.rules.facts import BreakFact, Kind, ManifestFacts
from edge_assembler.core.rules.matchers import BY_SESSION, keyed_bucket
from edge_assembler.core.rules.planning import (
    EVERY,
    MEDIA,
    SLACK,
    CAsset,
    Planner,
    Planning,
    Skip,
    runs_json,
)

_FILLS_KEPT: Final = 4096  # kept pods per action before it starts over
_CUES: Final = {"pre": "PRE", "post": "POST"}
# An interstitial's player fetches the ad itself, from its multivariant playlist: in this
# mode "{rendition}" stands for "master.m3u8".
_HLS: Final = ManifestFacts(format="hls", kind="media", path="/", rendition="master.m3u8")


def rights_bounds(assets: Iterable[CAsset]) -> tuple[bool, tuple[datetime, ...]]:
    """What of the viewer the rights of ``assets`` read: whether the country (some asset
    is limited to or barred from territories), and the validity instants ``now`` is
    placed among (sorted)."""
    territorial = False
    instants: set[datetime] = set()
    for asset in assets:
        territorial = territorial or bool(asset.territories or asset.denied)
        instants.update(t for t in (asset.valid_from, asset.valid_until) if t is not None)
    return territorial, tuple(sorted(instants))


@dataclass(frozen=True, slots=True)
class Fill:
    """A slot's pod as rights and the manifest allow it, before frequency caps."""

    chosen: tuple[tuple[CAsset, str], ...]  # (asset, URL) in pod order
    why: tuple[str, ...]  # notes on the assets passed over
    # The cap keys of the assets the rights allowed, each with the most this pod had
    # shown of it before looking at one of them: a cap refuses one of them when the
    # plan's count plus that reaches its maximum.
    shares: tuple[tuple[str, int], ...]
    counts: tuple[tuple[str, int], ...]  # cap key -> times the pod shows it
    needs: tuple[tuple[str, str], ...]  # spliced: (asset id, URL) for the shell to fetch
    runs: tuple[InsertRun, ...]  # spliced
    json: bytes  # planning.runs_json of the runs
    interstitials: tuple[AddInterstitial, ...]


@dataclass(frozen=True, slots=True)
class AdBreakPlan(Planner):
    name: ClassVar[str] = "ad_break"
    kinds: ClassVar[frozenset[Kind]] = MEDIA

    slot: str
    slot_key: str  # the slot's claim: "pre", "post", "mid@<at>" ("cues": per break)
    at: float | None
    pod: tuple[CAsset, ...]  # named, in order
    pool: tuple[CAsset, ...]  # tag-chosen candidates, by id
    count: int
    max_duration: float | None
    slate: CAsset | None
    cue_mode: str
    mode: str
    pin: bool
    rotor: blake2b = field(compare=False)  # matchers.keyed(the rule's rotation key)
    territorial: bool  # rights_bounds of pod and pool
    instants: tuple[datetime, ...]
    fills: dict[tuple[object, ...], Fill] = field(default_factory=dict, compare=False, repr=False)

    def run(self, p: Planning, rule: str) -> bool:
        """``Planner.run``, straight to the slot when no check can skip the action."""
        facts = p.facts
        if (
            self.slot == "cues"
            or facts.live
            or facts.kind not in MEDIA
            or (self.mode == "interstitial" and facts.format != "hls")
        ):
            return Planner.run(self, p, rule)
        return self._fill(p, rule, self.slot_key, None)

    def plan(self, p: Planning, rule: str) -> bool:
        if self.mode == "interstitial" and p.facts.format != "hls":
            raise Skip("interstitials are an HLS feature")
        if self.slot != "cues":
            if p.facts.live:
                raise Skip(f"a {self.slot}-roll needs a VOD")
            return self._fill(p, rule, self.slot_key, None)
        if p.composed is not None:
            raise Skip(f"the breaks are gone: content composed by rule {p.composed[0]}")
        if not p.facts.breaks:
            raise Skip("no signalled break")
        did = False
        for brk in p.facts.breaks:
            did = self._fill(p, rule, f"cue:{brk.id}", brk) or did
        return did

    def _fill(self, p: Planning, rule: str, key: str, brk: BreakFact | None) -> bool:
        """Fill one slot; a note says why not."""
        holder = p.slots.get(key)
        if holder is not None:
            by = "pinned by editorial rule" if holder[1] else "filled by rule"
            p.notes.append(f"slot {key} {by} {holder[0]}")
            return False
        limit = self.max_duration
        if brk is not None and self.cue_mode == "replace" and brk.duration is not None:
            limit = brk.duration if limit is None else min(limit, brk.duration)
        if self.at is not None:
            content = p.content_duration()
            if content is not None and self.at >= content:
                p.notes.append(
                    f"mid-roll at {self.at:g} s is past the content's end ({content:g} s)"
                )
                return False
        facts, ctx = p.facts, p.ctx
        start = 0
        if not (self.pod or self.pin):
            start = keyed_bucket(self.rotor, ctx.session_id, key, len(self.pool))
            p.memo[BY_SESSION] = True
        memo_key = (
            rule,
            key,
            start,
            facts.format,
            facts.rendition,
            limit,
            None if brk is None else brk.start,
            ctx.country if self.territorial else None,
            bisect_right(self.instants, ctx.now) if self.instants else 0,
        )
        fill = self.fills.get(memo_key)
        if fill is None:
            fill = self._work_out(p, rule, key, brk, limit, start)
            if len(self.fills) >= _FILLS_KEPT:
                self.fills.clear()
            self.fills[memo_key] = fill
        if p.caps and not self.pin and _capped(p.caps, p.planned, fill.shares):
            try:
                chosen: Sequence[tuple[CAsset, str]] = self._pod(p, start, limit)
            except Skip as skip:
                p.notes.append(str(skip))
                return False
            runs, interstitials = self._edits(p, rule, key, brk, chosen)
            json = runs_json(runs, self.slot)
        elif fill.chosen:
            chosen, runs, interstitials = fill.chosen, fill.runs, fill.interstitials
            json = fill.json
            planned = p.planned  # Planning.show, per asset
            for cap_key, times in fill.counts:
                planned[cap_key] = planned.get(cap_key, 0) + times
            if fill.needs:
                p.needs.update(fill.needs)
            if fill.why:
                p.notes += fill.why
        else:
            p.notes.append("; ".join(fill.why) or "no ad")
            return False
        p.slots[key] = (rule, self.pin)
        if runs:
            if brk is None:
                p.place(self.slot, 0, self.at or 0.0, runs, json)
            else:
                p.place("mid", 0, brk.start, runs, json)
        elif interstitials:
            p.interstitials += interstitials
        elif brk is not None:  # a replaced break
            self._replace(p, brk, chosen)
        return True

    def _work_out(
        self,
        p: Planning,
        rule: str,
        key: str,
        brk: BreakFact | None,
        limit: float | None,
        start: int,
    ) -> Fill:
        """The pod under rights, URL and length (not caps), as ``_pod`` would choose it
        with no cap in force."""
        candidates, want = self._candidates(start)
        chosen: list[tuple[CAsset, str]] = []
        why: list[str] = []
        shares: dict[str, int] = {}
        total = 0.0
        facts = p.facts if self.mode == "splice" else _HLS
        for asset in candidates:
            if len(chosen) == want:
                break
            refused = asset.refusal(p.ctx) if asset.restricted else None
            if refused is not None:
                why.append(refused)
                continue
            for cap_key in asset.keys:
                earlier = sum(c.keys.count(cap_key) for c, _ in chosen)
                shares[cap_key] = max(shares.get(cap_key, 0), earlier)
            total = self._take(asset, facts, limit, total, chosen, why)
        runs, interstitials = self._edits(p, rule, key, brk, chosen)
        counts: dict[str, int] = {}
        for asset, _ in chosen:
            for cap_key in asset.keys:
                counts[cap_key] = counts.get(cap_key, 0) + 1
        return Fill(
            chosen=tuple(chosen),
            why=tuple(why),
            shares=tuple(shares.items()),
            counts=tuple(counts.items()),
            needs=tuple((a.id, url) for a, url in chosen) if self.mode == "splice" else (),
            runs=runs,
            json=runs_json(runs, self.slot),
            interstitials=interstitials,
        )

    def _candidates(self, start: int) -> tuple[tuple[CAsset, ...], int]:
        if self.pod:
            return self.pod, len(self.pod)
        return self.pool[start:] + self.pool[:start], self.count

    def _pod(self, p: Planning, start: int, limit: float | None) -> list[tuple[CAsset, str]]:
        """The pod under rights and caps, shown to the plan (when a cap refuses an asset
        the kept pod looked at)."""
        candidates, want = self._candidates(start)
        chosen: list[tuple[CAsset, str]] = []
        why: list[str] = []
        total = 0.0
        facts = p.facts if self.mode == "splice" else _HLS
        for asset in candidates:
            if len(chosen) == want:
                break
            refused = asset.refusal(p.ctx) if asset.restricted else None
            if refused is None:
                refused = p.capped(asset)
            if refused is not None:
                why.append(refused)
                continue
            before = len(chosen)
            total = self._take(asset, facts, limit, total, chosen, why)
            if len(chosen) > before:
                p.show(asset, chosen[-1][1] if self.mode == "splice" else None)
        if not chosen:
            raise Skip("; ".join(why) or "no ad")
        p.notes.extend(why)
        return chosen

    @staticmethod
    def _take(
        asset: CAsset,
        facts: ManifestFacts,
        limit: float | None,
        total: float,
        chosen: list[tuple[CAsset, str]],
        why: list[str],
    ) -> float:
        """Add ``asset`` to ``chosen`` when its URL and length allow; the pod's length."""
        try:
            url = asset.url(facts)
        except Skip as skip:
            why.append(str(skip))
            return total
        if limit is not None:
            if asset.duration is None or total + asset.duration > limit + SLACK:
                why.append(f"asset {asset.id} does not fit in {limit:g} s")
                return total
            total += asset.duration
        chosen.append((asset, url))
        return total

    def _edits(
        self,
        p: Planning,
        rule: str,
        key: str,
        brk: BreakFact | None,
        chosen: Iterable[tuple[CAsset, str]],
    ) -> tuple[tuple[InsertRun, ...], tuple[AddInterstitial, ...]]:
        """The pod's spliced runs or interstitials (neither for a replaced break)."""
        if self.mode == "interstitial":
            cue = _CUES.get(self.slot)
            at = brk.start if brk is not None else self.at or 0.0
            if brk is not None and p.facts.live:
                # A live break: one date range whose asset list is the session's pod
                # (no renumbering; DESIGN §4), the same on every reload.
                pod = tuple(PodAsset(url, asset.duration or 0.0) for asset, url in chosen)
                if not pod:
                    return (), ()
                total = sum(a.duration for a in pod)
                return (), (AddInterstitial(id=f"{rule}-{key}", at=at, pod=pod, duration=total),)
            return (), tuple(
                AddInterstitial(
                    id=f"{rule}-{key}-{n}",
                    at=None if cue else at,
                    cue=cue,  # type: ignore[arg-type]  # "PRE" | "POST" | None
                    asset_uri=url,
                    duration=asset.duration,
                )
                for n, (asset, url) in enumerate(chosen, 1)
            )
        if brk is not None and self.cue_mode == "replace":
            return (), ()
        hls = p.facts.format == "hls"
        position = "mid" if brk is not None else self.slot
        runs = tuple(
            InsertRun(
                source=asset.id,
                source_url=url,
                at=self.at if position == "mid" and brk is None else None,
                cue=None if brk is None else brk.id,
                position=position,  # type: ignore[arg-type]  # "pre" | "mid" | "post"
                role="ad",
                marker_id=f"{rule}-{key}-{n}" if hls else None,
                creative_id=asset.id if hls else None,
            )
            for n, (asset, url) in enumerate(chosen, 1)
        )
        return runs, ()

    def _replace(self, p: Planning, brk: BreakFact, chosen: Sequence[tuple[CAsset, str]]) -> None:
        slate_url = self._slate(p)
        ids = tuple(asset.id for asset, _ in chosen)
        p.replaces.append(
            ReplaceBreak(
                break_id=brk.id,
                pod=ids,
                pod_urls=tuple(url for _, url in chosen),
                slate=None if slate_url is None else self.slate.id,  # type: ignore[union-attr]
                slate_url=slate_url,
                creative_ids=ids,
            )
        )

    def _slate(self, p: Planning) -> str | None:
        if self.slate is None:
            return None
        try:
            url = p.allowed(self.slate)
        except Skip as skip:
            p.notes.append(f"no slate: {skip}")
            return None
        p.needs[self.slate.id] = url
        return url


def _capped(
    caps: dict[str, tuple[int, str]], planned: dict[str, int], shares: tuple[tuple[str, int], ...]
) -> bool:
    """Whether a cap refuses an asset a kept pod looked at (``Fill.shares``)."""
    for key, earlier in shares:
        cap = caps.get(key)
        if cap is not None and planned.get(key, 0) + earlier >= cap[0]:
            return True
    return False


@dataclass(frozen=True, slots=True)
class CapPlan(Planner):
    name: ClassVar[str] = "cap"
    kinds: ClassVar[frozenset[Kind]] = EVERY

    max: int
    keys: tuple[str, ...]

    def plan(self, p: Planning, rule: str) -> bool:
        for key in self.keys:
            p.caps.setdefault(key, (self.max, rule))
        return True
