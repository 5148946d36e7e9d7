"""Where an MPD's media is fetched from: BaseURL rewriting (ISO/IEC 23009-1 §5.6, RFC 3986
§5; SPEC_RULES 87).

* ``SegmentBase``: the media of every Period is fetched from the segment base. Each URL on
  the MPD's own origin keeps its path and query under ``base``; URLs on other hosts (an ad
  CDN) stay as they are, made absolute. The same rule as the HLS edit (``uris.Rebase``).
* ``ResolveUris``: every media URL made absolute against ``playlist_url``, and so are
  ``Location`` and ``PatchLocation``, for an MPD served from elsewhere or inlined.

Decisions:

* The effective BaseURLs of each Representation are resolved level by level, MPD ->
  Period -> AdaptationSet -> Representation, from ``playlist_url`` with ``uris.resolve``
  (RFC 3986 §5.2, strict: no ``urljoin`` clean-ups). Sibling BaseURLs are alternatives
  (§5.6.3: ``serviceLocation``, ``dvb:priority``/``dvb:weight``); each keeps the
  attributes of the elements it came from, a lower level's overriding.
* They are written back as absolute BaseURLs, once: at the MPD level when every Period has
  the same ones, else on each Period (those most of its Representations use), and below
  only where a set or Representation differs from what it inherits (an absolute BaseURL
  overrides the levels above, §5.6.4). Every other BaseURL element goes. SegmentTemplate
  ``@media``/``@initialization``, SegmentURLs and ``sourceURL``s stay relative to them;
  ``SegmentBase`` moves those that are absolute URLs on the origin.
* Nothing to change (every media URL already absolute and none on the origin) returns the
  very ``Mpd`` it was given.
"""

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from lxml.etree import _Element

from edge_assembler.core.dash.edits.tracks import (
    ADAPTATION_SET_ORDER,
    MPD_ORDER,
    PERIOD_ORDER,
    REPRESENTATION_ORDER,
    insert_child,
    new_element,
    remove_child,
)
from edge_assembler.core.dash.elements import children, local_name
from edge_assembler.core.dash.model import Mpd
from edge_assembler.core.edits.uris import Rebase, ResolveUris, SegmentBase, resolve

_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# Attributes holding a media URL, by element (ISO §5.3.9.2-5.3.9.4).
_MEDIA_URLS = {
    "SegmentTemplate": ("media", "initialization", "index", "bitstreamSwitching"),
    "SegmentURL": ("media", "index"),
    "Initialization": ("sourceURL",),
    "RepresentationIndex": ("sourceURL",),
    "BitstreamSwitching": ("sourceURL",),
}

Move = Callable[[str], str]


class Base(NamedTuple):
    """One alternative BaseURL: its absolute URL and the attributes it carries."""

    url: str
    attributes: tuple[tuple[str, str], ...]


Bases = tuple[Base, ...]


def apply_segment_base(mpd: Mpd, edit: SegmentBase) -> Mpd:
    rebase = Rebase(edit.playlist_url, edit.base)

    def move(url: str) -> str:
        return rebase(url) or url

    return _rewrite(mpd, edit.playlist_url, move, locations=False)


def apply_resolve_uris(mpd: Mpd, edit: ResolveUris) -> Mpd:
    return _rewrite(mpd, edit.playlist_url, _same, locations=True)


def _same(url: str) -> str:
    return url


def _rewrite(mpd: Mpd, document: str, move: Move, *, locations: bool) -> Mpd:
    root = mpd.copy_root()
    work = Mpd.of(root)
    tree: list[tuple[_Element, list[tuple[_Element, list[tuple[_Element, Bases]]]]]] = []
    changed = False
    moved_urls: dict[Base, Base] = {}
    # Each level is resolved once, against the level above (RFC 3986 §5.1: the base of a
    # BaseURL is the one in effect where it sits).
    start: Found = ((Base(document, ()), False),)
    above = _descend(start, root)
    for period in work.periods:
        sets = []
        in_period = _descend(above, period.element)
        for adaptation_set in period.adaptation_sets:
            reps = []
            in_set = _descend(in_period, adaptation_set.element)
            for representation in adaptation_set.representations:
                found = _descend(in_set, representation.element)
                bases, anchored = _effective(document, found, start)
                moved = tuple(
                    dict.fromkeys(
                        moved_urls.setdefault(base, base._replace(url=move(base.url)))
                        for base in bases
                    )
                )
                changed |= not anchored or moved != bases
                reps.append((representation.element, moved))
            sets.append((adaptation_set.element, reps))
        tree.append((period.element, sets))
    changed |= _move_media(root, move)
    if locations:
        changed |= _resolve_locations(root, document)
    if not changed:
        return mpd
    _write(root, tree)
    return Mpd.of(root)


Found = tuple[tuple[Base, bool], ...]


def _descend(found: Found, element: _Element) -> Found:
    """The alternatives in effect below ``element``, each with whether it comes from an
    absolute BaseURL (so does not depend on the MPD's own URL)."""
    level = children(element, "BaseURL")
    if not level:
        return found
    return tuple(_step(base, anchored, url) for base, anchored in found for url in level)


def _effective(document: str, found: Found, start: Found) -> tuple[Bases, bool]:
    if found is start:  # no BaseURL anywhere: the MPD's directory
        return (Base(resolve(document, "."), ()),), False
    return tuple(dict.fromkeys(base for base, _ in found)), all(anchored for _, anchored in found)


def _step(base: Base, anchored: bool, url: _Element) -> tuple[Base, bool]:
    text = (url.text or "").strip()
    step = Base(resolve(base.url, text), _merged(base.attributes, url))
    return step, anchored or bool(_ABSOLUTE.match(text))


def _merged(above: tuple[tuple[str, str], ...], url: _Element) -> tuple[tuple[str, str], ...]:
    merged = dict(above)
    merged.update((str(key), str(value)) for key, value in url.items())
    return tuple(merged.items())


def _move_media(root: _Element, move: Move) -> bool:
    """Move the absolute media URLs of templates, lists and sourceURLs."""
    changed = False
    for element in root.iter(*(f"{{*}}{name}" for name in _MEDIA_URLS)):
        for name in _MEDIA_URLS.get(local_name(element), ()):
            value = element.get(name)
            if value is not None and _ABSOLUTE.match(value):
                new = move(value)
                if new != value:
                    element.set(name, new)
                    changed = True
    return changed


def _resolve_locations(root: _Element, document: str) -> bool:
    """MPD ``Location`` and ``PatchLocation`` resolve against the MPD URL (ISO §5.3.1.2)."""
    changed = False
    for element in children(root, "Location") + children(root, "PatchLocation"):
        text = (element.text or "").strip()
        absolute = resolve(document, text)
        if absolute != text:
            element.text = absolute
            changed = True
    return changed


def _most_used(sets: Iterable[Bases]) -> Bases | None:
    counted = Counter(sets).most_common(1)
    return counted[0][0] if counted else None


def _write(
    root: _Element,
    tree: Sequence[tuple[_Element, Sequence[tuple[_Element, Sequence[tuple[_Element, Bases]]]]]],
) -> None:
    for element in (root, *(e for period, sets in tree for e in _levels(period, sets))):
        for url in children(element, "BaseURL"):
            remove_child(url)
    per_period = [_most_used(b for _, reps in sets for _, b in reps) for _, sets in tree]
    shared = per_period[0] if per_period and len(set(per_period)) == 1 else None
    _put(root, shared, None, MPD_ORDER)
    for (period, sets), chosen in zip(tree, per_period, strict=True):
        if chosen is None:
            continue
        _put(period, chosen, shared, PERIOD_ORDER)
        for adaptation_set, reps in sets:
            common = _most_used(b for _, b in reps)
            _put(adaptation_set, common, chosen, ADAPTATION_SET_ORDER)
            for representation, bases in reps:
                _put(representation, bases, common, REPRESENTATION_ORDER)


def _levels(
    period: _Element, sets: Sequence[tuple[_Element, Sequence[tuple[_Element, Bases]]]]
) -> list[_Element]:
    return [period, *(e for a, reps in sets for e in (a, *(r for r, _ in reps)))]


def _put(
    element: _Element, bases: Bases | None, inherited: Bases | None, order: Sequence[str]
) -> None:
    if bases is None or bases == inherited:
        return
    for base in bases:
        url = new_element(element, "BaseURL", base.url)
        for key, value in base.attributes:
            url.set(key, value)
        insert_child(element, url, order)
