"""Edits of an MPD: the plan's edit Structs (``core.edits``) applied to an ``Mpd``.

One plan drives both formats: ``apply`` takes the same ``AnyEdit`` values as the HLS
``core.edits.apply`` and dispatches with one exhaustive ``match``. Each function takes the
parsed MPD, the edit and (where the edit reads other manifests) the fetched source MPDs by
key, and returns a new ``Mpd``: the input's tree is never touched. Periods: ``splice``
(InsertRun), ``replace_break`` (ReplaceBreak), ``trim`` (Trim), ``compose`` (Compose), on the
Period machinery of ``periods``; tracks: ``tracks``; BaseURLs: ``baseurls``.
"""

from collections.abc import Mapping, Sequence
from typing import assert_never

from edge_assembler.core.dash.edits.baseurls import apply_resolve_uris, apply_segment_base
from edge_assembler.core.dash.edits.compose import apply_compose
from edge_assembler.core.dash.edits.replace_break import apply_replace_break
from edge_assembler.core.dash.edits.splice import apply_insert_run
from edge_assembler.core.dash.edits.tracks import (
    apply_add_rendition,
    apply_drop_renditions,
    apply_filter_variants,
    apply_prefer_accessibility,
    apply_prefer_languages,
)
from edge_assembler.core.dash.edits.trim import apply_trim
from edge_assembler.core.dash.events import detect_breaks
from edge_assembler.core.dash.model import Mpd
from edge_assembler.core.edits import AnyEdit
from edge_assembler.core.edits.compose import Compose
from edge_assembler.core.edits.interstitials import AddInterstitial
from edge_assembler.core.edits.live_replace import LiveReplace
from edge_assembler.core.edits.renditions import (
    AddRendition,
    DropRenditions,
    PreferAccessibility,
    PreferLanguages,
)
from edge_assembler.core.edits.replace_break import ReplaceBreak
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.edits.splice import InsertRun
from edge_assembler.core.edits.trim import Trim
from edge_assembler.core.edits.uris import ProxyChildUris, ResolveUris, SegmentBase
from edge_assembler.core.edits.variants import FilterVariants


def apply(mpd: Mpd, edits: Sequence[AnyEdit], fetched: Mapping[str, Mpd]) -> Mpd:
    """Apply ``edits``; an empty plan is the identity. As for HLS, break ids and times
    refer to the MPD as the origin sent it: break replacements run first, last break first,
    so none moves another."""
    for edit in _in_application_order(mpd, edits):
        mpd = _apply(mpd, edit, fetched)
    return mpd


def _in_application_order(mpd: Mpd, edits: Sequence[AnyEdit]) -> list[AnyEdit]:
    replacements = [e for e in edits if isinstance(e, ReplaceBreak)]
    if not replacements:
        return list(edits)
    start = {b.id: b.start for b in detect_breaks(mpd)}
    replacements.sort(key=lambda e: start.get(e.break_id, -1.0), reverse=True)
    return [*replacements, *(e for e in edits if not isinstance(e, ReplaceBreak))]


def _apply(mpd: Mpd, edit: AnyEdit, fetched: Mapping[str, Mpd]) -> Mpd:
    match edit:
        case InsertRun():
            return apply_insert_run(mpd, edit, fetched)
        case ReplaceBreak():
            return apply_replace_break(mpd, edit, fetched)
        case Trim():
            return apply_trim(mpd, edit, fetched)
        case Compose():
            return apply_compose(mpd, edit, fetched)
        case AddRendition():
            return apply_add_rendition(mpd, edit, fetched)
        case PreferLanguages():
            return apply_prefer_languages(mpd, edit)
        case DropRenditions():
            return apply_drop_renditions(mpd, edit)
        case PreferAccessibility():
            return apply_prefer_accessibility(mpd, edit)
        case FilterVariants():
            return apply_filter_variants(mpd, edit)
        case SegmentBase():
            return apply_segment_base(mpd, edit)
        case ResolveUris():
            return apply_resolve_uris(mpd, edit)
        case AddInterstitial() | ProxyChildUris() | LiveReplace():
            # HLS-only: interstitials are an HLS feature (BIS App. D); an MPD has no
            # child playlists to send through the edge, nor implicit segment numbers to
            # keep across a live stream's updates (its Periods carry their own ids).
            raise EditError(f"{type(edit).__name__} does not apply to an MPD")
        case _:
            assert_never(edit)


__all__ = [
    "apply",
    "apply_add_rendition",
    "apply_compose",
    "apply_drop_renditions",
    "apply_filter_variants",
    "apply_insert_run",
    "apply_prefer_accessibility",
    "apply_prefer_languages",
    "apply_replace_break",
    "apply_resolve_uris",
    "apply_segment_base",
    "apply_trim",
]
