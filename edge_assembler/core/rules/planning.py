"""The per-request planning state that compiled actions write their edits into.

Every action claims what it decides (DESIGN §5 layers): an ad slot ("pre", "mid@600",
"cue:<break id>"), a recap, the composition, the trim, a language preference. Rules run
editorial first, so the first claim wins and later rules skip with the claimant named;
an editorial ``pin`` says so in the trace. Frequency caps count the viewer's earlier
exposures plus what this plan already inserted. An action that cannot do anything raises
``Skip`` with the reason for the trace.

The edits come out in an order that keeps every time offset on the origin's timeline
(``Planning.edits``): the composition, the trim, break replacements, mid-rolls from the
last offset to the first, post-rolls, pre-rolls last to first, then interstitials and the
multivariant/MPD track and variant edits in rule order.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import ClassVar, Final, Literal

import msgspec

from edge_assembler.core.context import ViewerContext
from edge_assembler.core.edits import AnyEdit
from edge_assembler.core.edits.compose import Compose
from edge_assembler.core.edits.interstitials import AddInterstitial
from edge_assembler.core.edits.replace_break import ReplaceBreak
from edge_assembler.core.edits.splice import InsertRun
from edge_assembler.core.edits.trim import Trim
from edge_assembler.core.rules.facts import Kind, ManifestFacts
from edge_assembler.core.rules.schema import Module, Rendition

RENDITION: Final = "{rendition}"
ENCODER: Final = msgspec.json.Encoder()
SLACK: Final = 0.001  # seconds: a pod that fills its limit exactly still fits
MEDIA: Final[frozenset[Kind]] = frozenset({"media", "mpd"})
TRACKS: Final[frozenset[Kind]] = frozenset({"multivariant", "mpd"})
EVERY: Final[frozenset[Kind]] = frozenset({"multivariant", "media", "mpd"})


class Skip(Exception):
    """Why an action did nothing for this request (a trace note)."""


@dataclass(frozen=True, slots=True)
class CAsset:
    """A catalogue asset, compiled: URLs split at ``{rendition}``, rights as sets."""

    id: str
    kind: str
    urls: dict[str, tuple[str, ...]]  # format -> URL pieces around "{rendition}"
    duration: float | None
    keys: tuple[str, ...]  # frequency-cap keys: the id, then the tags
    tags: frozenset[str]
    territories: frozenset[str]
    denied: frozenset[str]
    valid_from: datetime | None
    valid_until: datetime | None
    rendition: Rendition | None
    modules: tuple[Module, ...]  # by start time
    restricted: bool  # has territories or a validity window: ``refusal`` has work to do

    def url(self, facts: ManifestFacts) -> str:
        pieces = self.urls.get(facts.format)
        if pieces is None:
            raise Skip(f"asset {self.id} has no {facts.format} URL")
        if len(pieces) == 1:
            return pieces[0]
        if facts.rendition is None:
            raise Skip(f"asset {self.id} needs the content's rendition ({RENDITION})")
        return facts.rendition.join(pieces)

    def refusal(self, ctx: ViewerContext) -> str | None:
        """Why the rights forbid showing it to this viewer now (``None``: they allow it)."""
        country = ctx.country
        if self.territories and country not in self.territories:
            return f"asset {self.id} not licensed in {country or 'an unknown country'}"
        if country in self.denied:
            return f"asset {self.id} not licensed in {country}"
        if self.valid_from is not None and ctx.now < self.valid_from:
            return f"asset {self.id} not valid before {self.valid_from.isoformat()}"
        if self.valid_until is not None and ctx.now >= self.valid_until:
            return f"asset {self.id} expired at {self.valid_until.isoformat()}"
        return None


@dataclass(frozen=True, slots=True)
class Ref:
    """An asset reference, perhaps naming a history hint or choice."""

    text: str
    pieces: tuple[str | tuple[Literal["history", "choice"], str], ...]
    kinds: frozenset[str]  # the asset kinds it may name

    def resolve(self, p: "Planning") -> CAsset:
        if len(self.pieces) == 1 and isinstance(self.pieces[0], str):
            name = self.pieces[0]
        else:
            name = "".join(self._values(p.ctx))
        asset = p.assets.get(name)
        if asset is None:
            raise Skip(f"no asset {name}")
        if asset.kind not in self.kinds:
            raise Skip(f"asset {name} is a {asset.kind}, not a {'/'.join(sorted(self.kinds))}")
        return asset

    def _values(self, ctx: ViewerContext) -> Iterator[str]:
        for piece in self.pieces:
            if isinstance(piece, str):
                yield piece
                continue
            value = ctx.hint(*piece)
            if value is None:
                raise Skip(f"no {piece[0]} hint {piece[1]} for {self.text}")
            yield value


class Planning:
    """The state of one decide call."""

    __slots__ = (
        "assets",
        "caps",
        "claims",
        "composed",
        "ctx",
        "facts",
        "interstitials",
        "memo",
        "mids",
        "needs",
        "notes",
        "planned",
        "posts",
        "pres",
        "replaces",
        "seq",
        "slots",
        "tracks",
        "trimmed",
    )

    def __init__(self, facts: ManifestFacts, ctx: ViewerContext, assets: dict[str, CAsset]) -> None:
        self.facts, self.ctx, self.assets = facts, ctx, assets
        self.memo: dict[object, object] = {}
        self.slots: dict[str, tuple[str, bool]] = {}  # slot -> (rule id, pinned)
        self.claims: dict[str, str] = {}
        self.caps: dict[str, tuple[int, str]] = {}  # key -> (max, rule id)
        self.planned: dict[str, int] = {}  # key -> earlier exposures + this plan's
        for name, count in ctx.exposures:
            self.planned[name] = self.planned.get(name, 0) + count
        # (offset or rank, sequence, a slot's runs in order, their JSON as listed)
        self.pres: list[tuple[int, int, tuple[InsertRun, ...], bytes]] = []
        self.posts: list[tuple[int, int, tuple[InsertRun, ...], bytes]] = []
        self.mids: list[tuple[float, int, tuple[InsertRun, ...], bytes]] = []
        self.replaces: list[ReplaceBreak] = []
        self.interstitials: list[AddInterstitial] = []
        self.tracks: list[AnyEdit] = []
        self.composed: tuple[str, Compose, float] | None = None  # rule, edit, duration
        self.trimmed: Trim | None = None
        self.needs: dict[str, str] = {}
        self.notes: list[str] = []
        self.seq = 0

    def claim(self, key: str, rule: str, what: str) -> None:
        holder = self.claims.setdefault(key, rule)
        if holder != rule:
            raise Skip(f"{what} decided by rule {holder}")

    def content_duration(self) -> float | None:
        if self.trimmed is not None:
            return self.trimmed.duration
        if self.composed is not None:
            return self.composed[2]
        return self.facts.duration

    def capped(self, asset: CAsset) -> str | None:
        for key in asset.keys:
            cap = self.caps.get(key)
            if cap is not None:
                shown = self.planned.get(key, 0)
                if shown >= cap[0]:
                    return f"capped: {key} shown {shown}/{cap[0]} (rule {cap[1]})"
        return None

    def allowed(self, asset: CAsset) -> str:
        """The asset's URL when rights and caps allow it; else ``Skip``."""
        why = asset.refusal(self.ctx) or (self.capped(asset) if self.caps else None)
        if why is not None:
            raise Skip(why)
        return asset.url(self.facts)

    def show(self, asset: CAsset, url: str | None) -> None:
        for key in asset.keys:
            self.planned[key] = self.planned.get(key, 0) + 1
        if url is not None:
            self.needs[asset.id] = url

    def place(
        self, position: str, rank: int, at: float, runs: tuple[InsertRun, ...], json: bytes
    ) -> None:
        """Queue a slot's ``runs`` for a pre-, mid- or post-roll position; ``json``: theirs
        in the order ``result`` puts them (``ordered``)."""
        self.seq += 1
        if position == "mid":
            self.mids.append((at, self.seq, runs, json))
        elif position == "pre":
            self.pres.append((rank, self.seq, runs, json))
        else:
            self.posts.append((rank, self.seq, runs, json))

    def result(self) -> tuple[tuple[AnyEdit, ...], bytes]:
        """The edits in application order, and their JSON (``msgspec.json.encode`` of the
        tuple, built from the runs' JSON kept with them)."""
        out: list[AnyEdit] = []
        if self.composed is not None:
            out.append(self.composed[1])
        if self.trimmed is not None:
            out.append(self.trimmed)
        out += self.replaces
        parts = [ENCODER.encode(edit) for edit in out] if out else []
        if self.mids:
            for _, _, runs, json in sorted(self.mids, key=_order, reverse=True):
                out += runs[::-1]  # ordered(runs, "mid")
                parts.append(json)
        if self.posts:
            for _, _, runs, json in sorted(self.posts, key=_order):
                out += runs
                parts.append(json)
        if self.pres:
            for _, _, runs, json in sorted(self.pres, key=_order, reverse=True):
                out += runs[::-1]  # ordered(runs, "pre")
                parts.append(json)
        for edit in self.interstitials:
            out.append(edit)
            parts.append(ENCODER.encode(edit))
        for track in self.tracks:
            out.append(track)
            parts.append(ENCODER.encode(track))
        return tuple(out), b"[" + b",".join(parts) + b"]"


def ordered(runs: tuple[InsertRun, ...], position: str) -> tuple[InsertRun, ...]:
    """A slot's runs as ``Planning.result`` lists them: a pre- or mid-roll's last first
    (inserted at one offset, each goes before the one after it), a post-roll's in order."""
    return runs if position == "post" else runs[::-1]


def runs_json(runs: tuple[InsertRun, ...], position: str) -> bytes:
    """The JSON items of ``ordered(runs, position)``, for ``Planning.place``."""
    return b",".join(map(ENCODER.encode, ordered(runs, position)))


_order: Final = itemgetter(0, 1)  # (offset or rank, sequence): never the edit itself


class Planner(ABC):
    """A compiled action."""

    __slots__ = ()
    name: ClassVar[str]
    kinds: ClassVar[frozenset[Kind]]

    def run(self, p: Planning, rule: str) -> bool:
        """Plan for ``rule``; whether the action did anything (else a note says why)."""
        kind = p.facts.kind
        if kind not in self.kinds:
            p.notes.append(f"{self.name} does not apply to a {kind} manifest")
            return False
        try:
            return self.plan(p, rule)
        except Skip as skip:
            p.notes.append(str(skip))
            return False

    @abstractmethod
    def plan(self, p: Planning, rule: str) -> bool:
        """Add this action's edits; ``False`` (or ``Skip``) when it did nothing."""


def vod(p: Planning, what: str) -> None:
    if p.facts.live:
        raise Skip(f"{what} needs a VOD")
