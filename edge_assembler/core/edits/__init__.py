"""Edits as data, and the one function that applies them.

A ``Plan`` is what the rules decide for one request: the edits, in order, and the
sources they need fetched first (``needs``: h11's NEED_DATA idea; the shell fetches,
then ``apply`` runs without I/O). Every edit kind lives in its own module; ``apply``
dispatches with one exhaustive ``match``. ``render_plan`` is ``render(apply(...))``
remembered per origin version, for the viewers of one cohort (DESIGN §4).
"""

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import assert_never

import msgspec

from edge_assembler.core.edits.compose import Compose, apply_compose
from edge_assembler.core.edits.interstitials import AddInterstitial, apply_add_interstitial
from edge_assembler.core.edits.live_replace import LiveReplace, apply_live_replace
from edge_assembler.core.edits.renditions import (
    AddRendition,
    DropRenditions,
    PreferAccessibility,
    PreferLanguages,
    apply_add_rendition,
    apply_drop_renditions,
    apply_prefer_accessibility,
    apply_prefer_languages,
)
from edge_assembler.core.edits.replace_break import (
    ReplaceBreak,
    apply_replace_break,
    find_break,
)
from edge_assembler.core.edits.seams import SELF, EditError
from edge_assembler.core.edits.splice import InsertRun, apply_insert_run
from edge_assembler.core.edits.trim import Trim, apply_trim
from edge_assembler.core.edits.uris import (
    ProxyChildUris,
    ResolveUris,
    SegmentBase,
    apply_proxy_child_uris,
    apply_resolve_uris,
    apply_segment_base,
)
from edge_assembler.core.edits.variants import FilterVariants, apply_filter_variants
from edge_assembler.core.hls.cues import detect_breaks
from edge_assembler.core.hls.model import MediaPlaylist, MultivariantPlaylist, Playlist
from edge_assembler.core.hls.render import render

AnyEdit = (
    InsertRun
    | ReplaceBreak
    | LiveReplace
    | Trim
    | Compose
    | AddInterstitial
    | SegmentBase
    | ResolveUris
    | AddRendition
    | PreferLanguages
    | DropRenditions
    | PreferAccessibility
    | FilterVariants
    | ProxyChildUris
)


class Plan(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The edits for one playlist of one request, and the sources they read."""

    edits: tuple[AnyEdit, ...] = ()

    @property
    def needs(self) -> tuple[str, ...]:
        return needs(self.edits)


def needs(edits: Sequence[AnyEdit]) -> tuple[str, ...]:
    """The source keys the edits read from ``fetched``, in first-use order."""
    keys: dict[str, None] = {}
    for edit in edits:
        match edit:
            case InsertRun():
                keys[edit.source] = None
            case ReplaceBreak():
                _pod_needs(keys, edit)
            case LiveReplace():
                for brk in edit.breaks:
                    _pod_needs(keys, brk.fill)
            case Compose():
                keys.update(dict.fromkeys(r.source for r in edit.ranges if r.source != SELF))
            case _:
                pass
    return tuple(keys)


def _pod_needs(keys: dict[str, None], edit: ReplaceBreak) -> None:
    keys.update(dict.fromkeys(edit.pod))
    if edit.slate is not None:
        keys[edit.slate] = None


def apply(
    playlist: Playlist, edits: Sequence[AnyEdit], fetched: Mapping[str, MediaPlaylist]
) -> Playlist:
    """Apply ``edits``. An edited playlist loses a source byte-order mark (RFC 8216
    §4.1: playlists MUST NOT have one); an empty plan is the identity.

    Break ids and time offsets refer to the playlist as the origin sent it. Break
    replacements fill each break exactly, so they run first, from the last break to
    the first: no replacement moves another's segments or any later time offset. So
    each break is where the origin's (memoised) detection put it; only a break replaced
    a second time is looked for again, in the playlist as edited so far.
    """
    origin = playlist
    replaced: set[str] = set()
    for edit in _in_application_order(origin, edits):
        if isinstance(edit, ReplaceBreak) and isinstance(origin, MediaPlaylist):
            found = None if edit.break_id in replaced else find_break(origin, edit.break_id)
            replaced.add(edit.break_id)
            playlist = apply_replace_break(_media(playlist, edit), edit, fetched, found)
        else:
            playlist = _apply(playlist, edit, fetched)
    if edits and playlist.prefix:
        playlist = playlist.evolve(prefix="")
    return playlist


# Plans remembered per origin version: a few cohorts per playlist are common, many rare.
PLANS_PER_VERSION = 64

# A rendered plan's key: the edits, and the identity of each source they read.
_PlanKey = tuple[tuple[AnyEdit, ...], tuple[int, ...]]
# The sources themselves are kept with the bytes: while an entry lives, no other object
# can take the identity of one of its sources, so an identity in a key stays unambiguous.
_Rendered = tuple[tuple[MediaPlaylist | None, ...], bytes]


def render_plan(
    playlist: Playlist, edits: Sequence[AnyEdit], fetched: Mapping[str, MediaPlaylist]
) -> bytes:
    """``render(apply(playlist, edits, fetched))``, remembered with ``playlist`` (the parsed
    origin version): the viewers of a cohort have equal plans and share the bytes (DESIGN
    §4). A source is the same when it is the same parsed object; a refetched source is a
    new one. The ``PLANS_PER_VERSION`` most recently used plans are kept; errors are not.
    """
    sources = tuple(fetched.get(key) for key in needs(edits))
    key: _PlanKey = (tuple(edits), tuple(map(id, sources)))
    plans = playlist.fact(_rendered_plans)
    hit = plans.get(key)
    if hit is not None:
        plans.move_to_end(key)
        return hit[1]
    data = render(apply(playlist, edits, fetched))
    plans[key] = (sources, data)
    if len(plans) > PLANS_PER_VERSION:
        plans.popitem(last=False)
    return data


def _rendered_plans(playlist: Playlist) -> "OrderedDict[_PlanKey, _Rendered]":
    """The rendered-plan memo of one origin version: the one fact that grows after it is
    derived (``render_plan`` alone writes it), and dies with the version."""
    return OrderedDict()


def _in_application_order(playlist: Playlist, edits: Sequence[AnyEdit]) -> list[AnyEdit]:
    replacements = [e for e in edits if isinstance(e, ReplaceBreak)]
    if not replacements or not isinstance(playlist, MediaPlaylist):
        return list(edits)
    if len(replacements) > 1:  # one replacement (a live window's usual plan) needs no order
        start = {b.id: b.start_index for b in detect_breaks(playlist)}
        replacements.sort(key=lambda e: start.get(e.break_id, -1), reverse=True)
    return [*replacements, *(e for e in edits if not isinstance(e, ReplaceBreak))]


def _apply(playlist: Playlist, edit: AnyEdit, fetched: Mapping[str, MediaPlaylist]) -> Playlist:
    match edit:
        case InsertRun():
            return apply_insert_run(_media(playlist, edit), edit, fetched)
        case ReplaceBreak():
            return apply_replace_break(_media(playlist, edit), edit, fetched)
        case LiveReplace():
            return apply_live_replace(_media(playlist, edit), edit, fetched)
        case Trim():
            return apply_trim(_media(playlist, edit), edit, fetched)
        case Compose():
            return apply_compose(_media(playlist, edit), edit, fetched)
        case AddInterstitial():
            return apply_add_interstitial(_media(playlist, edit), edit)
        case SegmentBase():
            return apply_segment_base(_media(playlist, edit), edit)
        case ResolveUris():
            return apply_resolve_uris(playlist, edit)
        case AddRendition():
            return apply_add_rendition(_multivariant(playlist, edit), edit)
        case PreferLanguages():
            return apply_prefer_languages(_multivariant(playlist, edit), edit)
        case DropRenditions():
            return apply_drop_renditions(_multivariant(playlist, edit), edit)
        case PreferAccessibility():
            return apply_prefer_accessibility(_multivariant(playlist, edit), edit)
        case FilterVariants():
            return apply_filter_variants(_multivariant(playlist, edit), edit)
        case ProxyChildUris():
            return apply_proxy_child_uris(_multivariant(playlist, edit), edit)
        case _:
            assert_never(edit)


def _media(playlist: Playlist, edit: AnyEdit) -> MediaPlaylist:
    if not isinstance(playlist, MediaPlaylist):
        raise EditError(f"{type(edit).__name__} edits a media playlist, not a multivariant one")
    return playlist


def _multivariant(playlist: Playlist, edit: AnyEdit) -> MultivariantPlaylist:
    if not isinstance(playlist, MultivariantPlaylist):
        raise EditError(f"{type(edit).__name__} edits a multivariant playlist")
    return playlist


__all__ = [
    "PLANS_PER_VERSION",
    "AnyEdit",
    "EditError",
    "Plan",
    "apply",
    "needs",
    "render_plan",
]
