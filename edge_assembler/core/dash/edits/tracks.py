"""Track selection in an MPD: the plan's rendition and variant edits applied to every Period
(ISO/IEC 23009-1 §5.3.3 AdaptationSet, §5.8.4-5.8.5 Role, Accessibility, Label; DASH-IF IOP
4.3 §3.9 and v5 track selection; SPEC_RULES 94-97).

``type="AUDIO"`` edits the audio AdaptationSets, ``"SUBTITLES"`` the text ones. Fields that
only mean something in HLS (``group_id``, ``autoselect``, ``channels``, ``assoc_language``,
``bandwidth``, ``codecs``) are not used: an AdaptationSet states those itself.

Decisions:

* A *track* is what the AdaptationSets of one content type in one Period that share their
  language, their Roles other than ``main`` and their Accessibility descriptors present
  together: codec alternatives of one language (AAC and E-AC-3 English) form one track.
  ``main`` goes to every AdaptationSet of one track and to no other, so a client that
  cannot decode one alternative still finds a main one (IOP: one main per type).
* Losing ``main`` removes the ``Role main`` element; when it was the set's only Role of the
  role scheme it becomes ``alternate`` instead (ISO Table 23: an alternative to the main
  component of its type), so no set is left looking like an unmarked default. Gaining
  ``main`` turns an ``alternate`` into ``main``, else adds a Role.
* ``@selectionPriority`` (5th edition, in the DASH-MPD.xsd the edge validates against;
  higher is preferred): PreferLanguages writes it on every AdaptationSet of the type,
  n + 1 - i for a match of the i-th of n preferences, 1 (its default) for the rest, so a set
  the origin ranked higher does not outrank the viewer's choice.
* Reordering permutes the AdaptationSets of the edited type over the places they occupy:
  every other child of the Period (other types, EventStreams, comments) stays where it was.
* Languages match as in the HLS edits (``renditions.language``: whole tag, else primary
  subtag, ISO 639-2 read as ISO 639-1); dropping uses RFC 4647 §3.3.1 basic filtering.
* New elements go where DASH-MPD.xsd puts them among their siblings, indented like their
  neighbours. An edit that changes nothing returns the very ``Mpd`` it was given.
"""

import copy
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from lxml import etree
from lxml.etree import _Element

from edge_assembler.core.dash.addressing import SegmentInfo
from edge_assembler.core.dash.elements import (
    Descriptor,
    children,
    descriptors,
    local_name,
    namespace_of,
)
from edge_assembler.core.dash.invariants import TOLERANCE, where
from edge_assembler.core.dash.model import Mpd, PeriodView
from edge_assembler.core.dash.timeline import audio_frame_duration
from edge_assembler.core.dash.values import int_attr
from edge_assembler.core.dash.views import AdaptationSetView, RepresentationView
from edge_assembler.core.edits.renditions import (
    DESCRIBES_VIDEO,
    SDH,
    AddRendition,
    DropRenditions,
    PreferAccessibility,
    PreferLanguages,
    language,
)
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.edits.uris import resolve
from edge_assembler.core.edits.variants import FilterVariants, codec_family

ROLE_SCHEME = "urn:mpeg:dash:role:2011"
# DVB / TV-Anytime audio purpose: 1 audio description for the visually impaired, 2 for the
# hard of hearing (ETSI TS 103 285 §6.1.2, §7.1.2).
AUDIO_PURPOSE = "urn:tva:metadata:cs:AudioPurposeCS:2007"
DESCRIBES_VIDEO_DESCRIPTORS = frozenset(
    {Descriptor(AUDIO_PURPOSE, "1"), Descriptor(ROLE_SCHEME, "description")}
)
SDH_DESCRIPTORS = frozenset({Descriptor(AUDIO_PURPOSE, "2"), Descriptor(ROLE_SCHEME, "caption")})
ADAPTATION_SET_SWITCHING = "urn:mpeg:dash:adaptation-set-switching:2016"
TRICK_MODE = "http://dashif.org/guidelines/trickmode"
CONTENT_TYPES = {"AUDIO": "audio", "SUBTITLES": "text"}

# DASH-MPD.xsd child sequences; OTHER stands for the elements of other namespaces.
OTHER = "##other"
_REPRESENTATION_BASE = (
    "FramePacking", "AudioChannelConfiguration", "ContentProtection", "OutputProtection",
    "EssentialProperty", "SupplementalProperty", "InbandEventStream", "Switching",
    "RandomAccess", "GroupLabel", "Label", "ProducerReferenceTime", "ContentPopularityRate",
    "Resync", OTHER,
)  # fmt: skip
ADAPTATION_SET_ORDER = (
    *_REPRESENTATION_BASE, "Accessibility", "Role", "Rating", "Viewpoint", "ContentComponent",
    "BaseURL", "SegmentBase", "SegmentList", "SegmentTemplate", "Representation",
)  # fmt: skip
REPRESENTATION_ORDER = (
    *_REPRESENTATION_BASE, "BaseURL", "ExtendedBandwidth", "SubRepresentation", "SegmentBase",
    "SegmentList", "SegmentTemplate",
)  # fmt: skip
PERIOD_ORDER = (
    "BaseURL", "SegmentBase", "SegmentList", "SegmentTemplate", "AssetIdentifier", "EventStream",
    "ServiceDescription", "ContentProtection", "AdaptationSet", "Subset", "SupplementalProperty",
    "EmptyAdaptationSet", "GroupLabel", "Preselection",
)  # fmt: skip
MPD_ORDER = (
    "ProgramInformation", "BaseURL", "Location", "PatchLocation", "ServiceDescription",
    "InitializationSet", "InitializationGroup", "InitializationPresentation",
    "ContentProtection", "Period", "Metrics", "EssentialProperty", "SupplementalProperty",
    "UTCTiming", "LeapSecondInformation",
)  # fmt: skip
SEGMENT_ORDER = (
    "Initialization", "RepresentationIndex", "FailoverContent", "SegmentTimeline",
    "BitstreamSwitching", "SegmentURL",
)  # fmt: skip
_ADDRESSING = ("SegmentBase", "SegmentList", "SegmentTemplate")
_TEMPLATE_URLS = ("media", "initialization", "index", "bitstreamSwitching")
_ABSOLUTE = re.compile(r"https?://", re.IGNORECASE)


# -- tree edits ----------------------------------------------------------------------------


def new_element(parent: _Element, local: str, text: str | None = None, **attrib: str) -> _Element:
    """An element in ``parent``'s namespace, not yet in the tree."""
    element = parent.makeelement(namespace_of(parent) + local, attrib)
    element.text = text
    return element


def insert_child(parent: _Element, child: _Element, order: Sequence[str]) -> None:
    """Put ``child`` after the siblings the schema sequence ``order`` puts before it."""
    rank = order.index(local_name(child))
    for sibling in parent.iterchildren(tag=etree.Element):
        place = _schema_rank(sibling, namespace_of(parent), order)
        if place is not None and place > rank:
            _insert_before(sibling, child)
            return
    _append(parent, child)


def _schema_rank(element: _Element, namespace: str, order: Sequence[str]) -> int | None:
    if namespace_of(element) != namespace:
        return order.index(OTHER) if OTHER in order else None
    name = local_name(element)
    return order.index(name) if name in order else None


def _space_before(node: _Element) -> str | None:
    previous = node.getprevious()
    if previous is not None:
        return previous.tail
    parent = node.getparent()
    return None if parent is None else parent.text


def _insert_before(sibling: _Element, child: _Element) -> None:
    space = _space_before(sibling)
    sibling.addprevious(child)
    child.tail = space


def insert_after(anchor: _Element, child: _Element) -> None:
    space, tail = _space_before(anchor), anchor.tail
    anchor.addnext(child)
    anchor.tail, child.tail = space, tail


def _append(parent: _Element, child: _Element) -> None:
    if len(parent):
        insert_after(parent[-1], child)
    else:
        parent.append(child)


def remove_child(element: _Element) -> None:
    """Remove ``element``; the layout around it stays as it was."""
    parent = element.getparent()
    assert parent is not None
    if element.getnext() is None:  # its tail is the space before the parent's end tag
        previous = element.getprevious()
        if previous is not None:
            previous.tail = element.tail
        else:
            parent.text = element.tail
    parent.remove(element)


def _depth(element: _Element) -> int:
    return sum(1 for _ in element.iterancestors())


def _indent(element: _Element) -> None:
    """Indent the subtree of an inserted ``element`` like its siblings."""
    space = _space_before(element) or ""
    if "\n" not in space:
        return
    line = space.rpartition("\n")[2]
    depth = _depth(element)
    unit = line[: len(line) // depth] if depth else ""
    if unit and unit * depth == line:
        for node in element.iter(tag=etree.Element):
            if not len(node) and node.text is not None and not node.text.strip():
                node.text = None
        etree.indent(element, space=unit, level=depth)


def _words(value: str | None, separator: str | None = None) -> list[str]:
    return [word.strip() for word in (value or "").split(separator) if word.strip()]


# -- tracks --------------------------------------------------------------------------------


class Track(NamedTuple):
    """An AdaptationSet as track selection sees it (``position``: its index in the Period)."""

    position: int
    element: _Element
    kind: str | None
    lang: str | None  # normalised (renditions.language)
    primary: str | None
    roles: frozenset[str]  # values of the role scheme, without "main"
    main: bool
    accessibility: frozenset[Descriptor]
    labels: frozenset[str]

    @property
    def group(self) -> tuple[object, ...]:
        return self.lang, self.roles, self.accessibility

    @property
    def describes_video(self) -> bool:
        found = self.accessibility | {Descriptor(ROLE_SCHEME, r) for r in self.roles}
        return bool(found & DESCRIBES_VIDEO_DESCRIPTORS)

    @property
    def sdh(self) -> bool:
        found = self.accessibility | {Descriptor(ROLE_SCHEME, r) for r in self.roles}
        return bool(found & SDH_DESCRIPTORS)

    @property
    def special(self) -> bool:
        return self.describes_video or self.sdh

    @property
    def forced(self) -> bool:
        return "forced-subtitle" in self.roles


def track_of(position: int, adaptation_set: AdaptationSetView) -> Track:
    element = adaptation_set.element
    values = [d.value or "" for d in adaptation_set.roles if d.scheme == ROLE_SCHEME]
    lang = adaptation_set.lang
    full, primary = language(lang) if lang and lang.strip() else (None, None)
    labels = {(label.text or "").strip() for label in children(element, "Label")}
    labels |= {element.get("label", "").strip()}
    return Track(
        position=position,
        element=element,
        kind=adaptation_set.content_type,
        lang=full,
        primary=primary,
        roles=frozenset(v for v in values if v != "main"),
        main="main" in values,
        accessibility=frozenset(adaptation_set.accessibility),
        labels=frozenset(labels - {""}),
    )


def tracks_of(period: PeriodView, kind: str) -> list[Track]:
    every = (track_of(i, a) for i, a in enumerate(period.adaptation_sets))
    return [track for track in every if track.kind == kind]


def _role_elements(element: _Element) -> list[_Element]:
    return [r for r in children(element, "Role") if r.get("schemeIdUri") == ROLE_SCHEME]


def set_main(element: _Element, on: bool) -> bool:
    """Give or take ``Role main``; whether anything changed."""
    roles = _role_elements(element)
    mains = [r for r in roles if r.get("value") == "main"]
    if on:
        if mains:
            return False
        alternate = next((r for r in roles if r.get("value") == "alternate"), None)
        if alternate is not None:
            alternate.set("value", "main")
        else:
            role = new_element(element, "Role", schemeIdUri=ROLE_SCHEME, value="main")
            insert_child(element, role, ADAPTATION_SET_ORDER)
        return True
    if not mains:
        return False
    keep = mains[0] if len(roles) == len(mains) else None
    for role in mains:
        if role is keep:
            role.set("value", "alternate")
        else:
            remove_child(role)
    return True


def give_main(tracks: Iterable[Track], group: tuple[object, ...]) -> bool:
    """``main`` on every AdaptationSet of the track ``group``, on no other."""
    changed = False
    for track in tracks:
        changed |= set_main(track.element, track.group == group)
    return changed


def _ensure(element: _Element, local: str, scheme: str, value: str) -> None:
    if Descriptor(scheme, value) not in descriptors(element, local):
        descriptor = new_element(element, local, schemeIdUri=scheme, value=value)
        insert_child(element, descriptor, ADAPTATION_SET_ORDER)


def each_period(mpd: Mpd, change: Callable[[PeriodView], bool]) -> Mpd:
    """Run ``change`` on every Period of a copy; ``mpd`` itself when nothing changed."""
    root = mpd.copy_root()
    changed = False
    for period in Mpd.of(root).periods:
        changed |= change(period)
    return Mpd.of(root) if changed else mpd


# -- languages -----------------------------------------------------------------------------

Rank = tuple[int, int]


def _rank(track: Track, wanted: Sequence[tuple[str, str]]) -> Rank:
    """(index of the first preference matched, 0 whole tag / 1 primary subtag)."""
    for i, (full, primary) in enumerate(wanted):
        if track.lang == full:
            return i, 0
        if track.primary == primary:
            return i, 1
    return len(wanted), 0


def _filtered(track: Track, ranges: Sequence[str]) -> bool:
    """RFC 4647 §3.3.1 basic filtering: "fr" matches "fr" and "fr-CA", not the reverse."""
    full = track.lang
    return full is not None and any(full == r or full.startswith(r + "-") for r in ranges)


def apply_prefer_languages(mpd: Mpd, edit: PreferLanguages) -> Mpd:
    """In every Period, ``main`` to the track that best matches ``edit.languages``;
    ``@selectionPriority`` by preference; with ``reorder`` the matching AdaptationSets of
    the type first, best first (FORCED and accessibility sets after the others of the same
    match). Among equal matches ``main`` stays where it is, then goes to a set without
    accessibility descriptors, then to the first. A forced-subtitle set is never made
    ``main`` while the type has another. A Period where nothing matches is left alone."""
    wanted = [language(value) for value in edit.languages]
    kind = CONTENT_TYPES[edit.type]
    return each_period(mpd, lambda period: _prefer(period, kind, wanted, edit.reorder))


def _prefer(
    period: PeriodView, kind: str, wanted: Sequence[tuple[str, str]], reorder: bool
) -> bool:
    tracks = tracks_of(period, kind)
    ranks = {track.position: _rank(track, wanted) for track in tracks}
    n = len(wanted)
    matched = [track for track in tracks if ranks[track.position][0] < n]
    if not matched:
        return False
    changed = False
    chosen = _main_candidate(tracks, matched, ranks)
    if chosen is not None:
        changed |= give_main(tracks, chosen.group)
    for track in tracks:
        index = ranks[track.position][0]
        priority = str(n + 1 - index) if index < n else "1"
        if track.element.get("selectionPriority") != priority:
            track.element.set("selectionPriority", priority)
            changed = True

    def key(track: Track) -> tuple[int, int, bool, bool, int]:
        rank = ranks[track.position]
        if rank[0] == n:
            return n, 0, False, False, track.position
        return *rank, track.forced, track.special, track.position

    if reorder:
        changed |= _reorder(period.element, tracks, key)
    return changed


def _main_candidate(
    tracks: Sequence[Track], matched: Sequence[Track], ranks: Mapping[int, Rank]
) -> Track | None:
    everyday = [track for track in matched if not track.forced]
    if not everyday and any(not track.forced for track in tracks):
        return None

    def key(track: Track) -> tuple[int, int, bool, bool, int]:
        return *ranks[track.position], not track.main, track.special, track.position

    return min(everyday or matched, key=key)


def _reorder(
    parent: _Element, tracks: Sequence[Track], key: Callable[[Track], tuple[object, ...]]
) -> bool:
    """Permute ``tracks`` over the places they occupy; the layout stays by place."""
    ordered = sorted(tracks, key=key)
    if [t.position for t in ordered] == [t.position for t in tracks]:
        return False
    nodes = list(parent)
    tails = [node.tail for node in nodes]
    places = [nodes.index(track.element) for track in tracks]
    for track in tracks:
        parent.remove(track.element)
    for place, track in zip(places, ordered, strict=True):
        parent.insert(place, track.element)
    for node, tail in zip(parent, tails, strict=True):
        node.tail = tail
    return True


# -- DropRenditions ------------------------------------------------------------------------


def apply_drop_renditions(mpd: Mpd, edit: DropRenditions) -> Mpd:
    """Remove the AdaptationSets of the type whose @lang matches ``edit.languages`` (RFC
    4647 basic filtering) or whose Label (or @label) is in ``edit.names``, and what refers
    to them (SPEC_RULES 95). With ``keep_at_least_one`` a Period keeps its ``main`` (else
    its first) set of the type rather than none. When ``main`` goes, the best remaining
    track gets it: not forced, without accessibility descriptors, in the lost main's
    primary language, then the first."""
    ranges = [language(value)[0] for value in edit.languages]
    names = frozenset(edit.names)
    kind = CONTENT_TYPES[edit.type]

    def drop(period: PeriodView) -> bool:
        tracks = tracks_of(period, kind)
        doomed = [t for t in tracks if _filtered(t, ranges) or t.labels & names]
        if doomed and len(doomed) == len(tracks) and edit.keep_at_least_one:
            doomed.remove(next((t for t in tracks if t.main), tracks[0]))
        if not doomed:
            return False
        kept = [t for t in tracks if t not in doomed]
        lost = next((t for t in doomed if t.main), None)
        if kept and lost is not None and not any(t.main for t in kept):
            give_main(kept, _heir(kept, lost).group)
        remove_adaptation_sets(period.element, [t.element for t in doomed])
        return True

    return each_period(mpd, drop)


def _heir(kept: Sequence[Track], lost: Track) -> Track:
    def key(track: Track) -> tuple[bool, bool, bool, int]:
        return track.forced, track.special, track.primary != lost.primary, track.position

    return min(kept, key=key)


def remove_adaptation_sets(period: _Element, doomed: Sequence[_Element]) -> None:
    """Remove ``doomed`` and what refers to them (SPEC_RULES 95): their trick-mode sets,
    their ids in adaptation-set-switching properties and Subsets, the Preselections that
    use them."""
    sets = children(period, "AdaptationSet")
    gone = list(doomed)
    ids = {e.get("id", "").strip() for e in gone} - {""}
    for element in sets:
        tricks = _properties(element, TRICK_MODE)
        if element not in gone and any((p.get("value") or "").strip() in ids for p in tricks):
            gone.append(element)
    for element in gone:
        remove_child(element)
    for element in sets:
        if element not in gone:
            for prop in _properties(element, ADAPTATION_SET_SWITCHING):
                _drop_words(prop, "value", ids, ",")
    for subset in children(period, "Subset"):
        _drop_words(subset, "contains", ids, None)
    for preselection in children(period, "Preselection"):
        if set(_words(preselection.get("preselectionComponents"))) & ids:
            remove_child(preselection)


def _properties(element: _Element, scheme: str) -> list[_Element]:
    found = children(element, "EssentialProperty") + children(element, "SupplementalProperty")
    return [p for p in found if p.get("schemeIdUri") == scheme]


def _drop_words(element: _Element, name: str, gone: set[str], separator: str | None) -> None:
    """Remove ``gone`` from a list attribute; the element goes when the list empties."""
    words = _words(element.get(name), separator)
    left = [word for word in words if word not in gone]
    if not left:
        remove_child(element)
    elif left != words:
        element.set(name, (separator or " ").join(left))


# -- PreferAccessibility -------------------------------------------------------------------


def apply_prefer_accessibility(mpd: Mpd, edit: PreferAccessibility) -> Mpd:
    """``main`` to an audio description track (Accessibility AudioPurposeCS 1 or Role
    description) with ``audio_description``, to an SDH text track (AudioPurposeCS 2 or
    Role caption) with ``sdh``. Among several, the one in the current main's primary
    language wins, then the first; forced subtitles are not candidates."""
    wanted = [
        (kind, test)
        for on, kind, test in (
            (edit.audio_description, "audio", _describes_video),
            (edit.sdh, "text", _sdh),
        )
        if on
    ]
    if not wanted:
        return mpd

    def prefer(period: PeriodView) -> bool:
        changed = False
        for kind, test in wanted:
            changed |= _prefer_accessible(tracks_of(period, kind), test)
        return changed

    return each_period(mpd, prefer)


def _describes_video(track: Track) -> bool:
    return track.describes_video


def _sdh(track: Track) -> bool:
    return track.sdh


def _prefer_accessible(tracks: Sequence[Track], test: Callable[[Track], bool]) -> bool:
    fits = [track for track in tracks if test(track) and not track.forced]
    if not fits:
        return False
    current = next((track for track in tracks if track.main), None)
    if current is None or current in fits:
        chosen = current or fits[0]
    else:
        chosen = min(fits, key=lambda t: (t.primary != current.primary, t.position))
    return give_main(tracks, chosen.group)


# -- FilterVariants ------------------------------------------------------------------------


def apply_filter_variants(mpd: Mpd, edit: FilterVariants) -> Mpd:
    """Drop the Representations above ``max_height`` (video only) or ``max_bandwidth``,
    those with a codec of a family in ``drop_codecs``, and with ``only_codecs`` those with
    a codec of any other family (``variants.codec_family``), along with the Representations
    that depend on one dropped (@dependencyId).

    An AdaptationSet left empty goes when another set of its track (same content type,
    language, Roles and Accessibility) keeps a Representation; otherwise it keeps its
    lowest-bandwidth Representation, so a Period never loses a track, and never its video.
    AdaptationSet @maxHeight, @maxWidth, @maxBandwidth and @minBandwidth, where present,
    follow what remains (SPEC_RULES 97)."""
    return each_period(mpd, lambda period: _filter(period, edit))


def _admits(edit: FilterVariants, representation: RepresentationView) -> bool:
    height = representation.height if representation.content_type == "video" else None
    bandwidth = representation.bandwidth
    families = [codec_family(c) for c in _words(representation.codecs, ",")]
    return not (
        (edit.max_height is not None and height is not None and height > edit.max_height)
        or (edit.max_bandwidth is not None and (bandwidth or 0) > edit.max_bandwidth)
        or any(family in edit.drop_codecs for family in families)
        or (edit.only_codecs and any(f not in edit.only_codecs for f in families))
    )


def _filter(period: PeriodView, edit: FilterVariants) -> bool:
    every = list(period.representations())
    dropped = {id(r.element) for r in every if not _admits(edit, r)}
    if not dropped:
        return False
    dropped |= _dependents(every, dropped)
    sets = period.adaptation_sets
    tracks = [track_of(i, a) for i, a in enumerate(sets)]
    kept = {
        (*track.group, track.kind)
        for track, a in zip(tracks, sets, strict=True)
        if any(id(r.element) not in dropped for r in a.representations)
    }
    doomed: list[_Element] = []
    for track, adaptation_set in zip(tracks, sets, strict=True):
        reps = adaptation_set.representations
        if not reps or any(id(r.element) not in dropped for r in reps):
            continue
        if (*track.group, track.kind) in kept:
            doomed.append(adaptation_set.element)
        else:
            dropped.discard(id(min(reps, key=_cost).element))
    if not dropped:  # only spared Representations: nothing to remove
        return False
    removed_ids: set[str] = set()
    for representation in every:
        if id(representation.element) in dropped:
            removed_ids.add(representation.id or "")
            remove_child(representation.element)
    remove_adaptation_sets(period.element, doomed)
    for adaptation_set in sets:
        _unassociate(adaptation_set.element, removed_ids - {""})
        _update_bounds(adaptation_set.element)
    return True


def _cost(representation: RepresentationView) -> float:
    bandwidth = representation.bandwidth
    return float("inf") if bandwidth is None else bandwidth


def _dependents(every: Sequence[RepresentationView], dropped: set[int]) -> set[int]:
    """Representations that need a dropped one to decode (@dependencyId, ISO §5.3.5.2)."""
    gone = set(dropped)
    while True:
        ids = {r.id for r in every if id(r.element) in gone}
        more = {
            id(r.element)
            for r in every
            if id(r.element) not in gone and set(_words(r.element.get("dependencyId"))) & ids
        }
        if not more:
            return gone - dropped
        gone |= more


def _unassociate(adaptation_set: _Element, gone: set[str]) -> None:
    """Drop removed ids from @associationId and the matching @associationType entries."""
    for representation in children(adaptation_set, "Representation"):
        ids = _words(representation.get("associationId"))
        if not set(ids) & gone:
            continue
        types = _words(representation.get("associationType"))
        keep = [n for n, value in enumerate(ids) if value not in gone]
        _set_words(representation, "associationId", [ids[n] for n in keep])
        if types:
            _set_words(
                representation, "associationType", [types[n] for n in keep if n < len(types)]
            )


def _set_words(element: _Element, name: str, words: Sequence[str]) -> None:
    if words:
        element.set(name, " ".join(words))
    else:
        del element.attrib[name]


def _update_bounds(adaptation_set: _Element) -> None:
    reps = children(adaptation_set, "Representation")
    values = {
        name: [v for v in (int_attr(r, name) for r in reps) if v is not None]
        for name in ("height", "width", "bandwidth")
    }
    bounds = (
        ("maxHeight", values["height"], max),
        ("maxWidth", values["width"], max),
        ("maxBandwidth", values["bandwidth"], max),
        ("minBandwidth", values["bandwidth"], min),
    )
    for name, found, pick in bounds:
        if adaptation_set.get(name) is not None and found:
            value = str(pick(found))
            if adaptation_set.get(name) != value:
                adaptation_set.set(name, value)


# -- AddRendition --------------------------------------------------------------------------


def apply_add_rendition(mpd: Mpd, edit: AddRendition, fetched: Mapping[str, Mpd]) -> Mpd:
    """Add the track of ``fetched[edit.uri]`` as an AdaptationSet to every Period of
    ``mpd`` whose AssetIdentifier (SPEC_RULES 84) does not say it is another asset.

    The source is a single-Period MPD holding the track (audio for AUDIO, text for
    SUBTITLES; the first such set whose @lang has the edit's primary language, or none).
    When ``edit.uri`` is an absolute http(s) URL it is the source's own URL: its relative
    BaseURLs and media URLs resolve against it (RFC 3986). Otherwise the source must reach
    absolute URLs on its own (an absolute BaseURL, or absolute templates), else
    ``EditError``. The new set carries one absolute BaseURL (the source's MPD, Period and
    AdaptationSet BaseURLs resolved), its Period's segment addressing folded in, ``@lang``
    the edit's language, a ``Label`` with its name, ``Role main`` when ``default`` (the
    other sets of the type lose it), and for ``characteristics`` describing video
    (AUDIO) Accessibility AudioPurposeCS 1 with Role description, for SDH (SUBTITLES)
    AudioPurposeCS 2 with Role caption; ``forced`` adds Role forced-subtitle.

    Ids: the set gets one @id, above every AdaptationSet@id of the target Periods; a
    Representation@id already used there gets the language appended, and the media URLs
    its ``$RepresentationID$`` made are kept (ISO §5.3.3.2, §5.3.5.2).

    Timing: the first target Period plays the track from its start. A later one whose
    media time (video presentationTimeOffset) runs on from the first (content split by an
    inserted Period) plays it from there, which needs a ``SegmentTemplate@duration`` track
    and a segment boundary at that point. ``EditError`` when the track does not cover a
    Period (within an audio frame), a Period has no end, or a Period has its own
    SegmentTemplate/List/Base (the new set would inherit it)."""
    kind = CONTENT_TYPES[edit.type]
    source = fetched.get(edit.uri)
    if source is None:
        raise EditError(f"no fetched MPD for the rendition {edit.uri!r}")
    origin, track = _source_track(source, kind, edit.language)
    length = origin.duration
    if length is None:
        raise EditError("the track's Period has no duration")
    root = mpd.copy_root()
    targets = [p for p in Mpd.of(root).periods if _same_asset(p, origin)]
    if not targets:
        raise EditError("every Period belongs to another asset than the track")
    template = _track_element(source, origin, track, edit, targets)
    _renamespace(template, namespace_of(track.element), namespace_of(root))
    anchor = _media_start(targets[0])
    set_id = 1 + max((_numeric_id(a) for p in targets for a in p.adaptation_sets), default=-1)
    for period in targets:
        if any(children(period.element, name) for name in _ADDRESSING):
            # ISO §5.3.9.1: it would be inherited by the new set, mixing two timelines.
            raise EditError(f"{where(period)} has segment addressing the track would inherit")
        shift = _media_start(period) - anchor
        _check_cover(period, length, shift)
        element = copy.deepcopy(template)
        element.set("id", str(set_id))
        if abs(shift) > TOLERANCE:
            _shift(element, track, shift)
        if edit.default:
            for other in tracks_of(period, kind):
                set_main(other.element, False)
        _place(period, element, kind)
    return Mpd.of(root)


def _numeric_id(adaptation_set: AdaptationSetView) -> int:
    ident = (adaptation_set.id or "").strip()
    return int(ident) if ident.isdigit() else -1


def _source_track(source: Mpd, kind: str, lang: str) -> tuple[PeriodView, AdaptationSetView]:
    if len(source.periods) != 1:
        raise EditError(f"the track's MPD has {len(source.periods)} Periods, not one")
    period = source.periods[0]
    primary = language(lang)[1]
    for adaptation_set in period.adaptation_sets:
        own = language(adaptation_set.lang or "")[1]
        if adaptation_set.content_type == kind and own in {primary, "und", ""}:
            return period, adaptation_set
    raise EditError(f"the track's MPD has no {kind} AdaptationSet in {lang!r}")


def _same_asset(period: PeriodView, origin: PeriodView) -> bool:
    ours, theirs = period.asset_identifier, origin.asset_identifier
    return ours is None or theirs is None or ours == theirs


def _media_start(period: PeriodView) -> float:
    """Seconds of media time at the Period start: its first video Representation's
    presentationTimeOffset (SPEC_RULES 79)."""
    every = list(period.representations())
    chosen = next((r for r in every if r.content_type == "video"), every[0] if every else None)
    if chosen is None:
        return 0.0
    info = chosen.segment_info
    return info.presentation_time_offset / info.timescale


def _check_cover(period: PeriodView, length: float, shift: float) -> None:
    if period.duration is None:
        raise EditError(f"{where(period)} has no end: the track cannot be shown to cover it")
    slack = audio_frame_duration(period)
    if shift < -slack or shift + period.duration > length + slack:
        raise EditError(
            f"the track ({length:g} s) does not cover {where(period)} "
            f"({period.duration:g} s from {shift:g} s of the track)"
        )


def _shift(element: _Element, track: AdaptationSetView, seconds: float) -> None:
    """Start the track ``seconds`` in: ``@startNumber`` and ``@presentationTimeOffset``
    moved by whole segments (ISO §5.3.9.5.3)."""
    reps = children(element, "Representation")
    for rep, view in zip(reps, track.representations, strict=True):
        info = view.segment_info
        if info.kind != "template" or info.duration is None or info.timeline is not None:
            raise EditError("the track can start within its media only with a @duration template")
        ticks = seconds * info.timescale
        count = round(ticks / info.duration)
        if abs(count * info.duration - ticks) > TOLERANCE * info.timescale or count < 0:
            raise EditError(f"the track has no segment boundary {seconds:g} s in")
        own = _own_template(rep)
        own.set("startNumber", str(info.start_number + count))
        own.set(
            "presentationTimeOffset", str(info.presentation_time_offset + count * info.duration)
        )


def _own_template(representation: _Element) -> _Element:
    found = children(representation, "SegmentTemplate")
    if found:
        return found[0]
    template = new_element(representation, "SegmentTemplate")
    insert_child(representation, template, REPRESENTATION_ORDER)
    return template


def _place(period: PeriodView, element: _Element, kind: str) -> None:
    sets = period.adaptation_sets
    same = [a.element for a in sets if a.content_type == kind]
    anchors = same or [a.element for a in sets]
    if anchors:
        insert_after(anchors[-1], element)
    else:
        insert_child(period.element, element, PERIOD_ORDER)
    _indent(element)


def _track_element(
    source: Mpd,
    origin: PeriodView,
    track: AdaptationSetView,
    edit: AddRendition,
    targets: Sequence[PeriodView],
) -> _Element:
    """The new AdaptationSet, in the source's namespace, without @id."""
    element = copy.deepcopy(track.element)
    _fold_addressing(element, origin.element)
    bases = _absolute_bases(source, origin, track, edit.uri)
    for url in children(element, "BaseURL"):
        remove_child(url)
    for base in bases:
        insert_child(element, new_element(element, "BaseURL", base), ADAPTATION_SET_ORDER)
    element.set("lang", edit.language)
    _label(element, edit.name)
    for role in _role_elements(element):
        if role.get("value") == "main":
            remove_child(role)
    if edit.default:
        set_main(element, True)
    _accessibility(element, edit)
    _rename(element, track, _new_ids(track, targets, edit.language))
    return element


def _fold_addressing(element: _Element, period: _Element) -> None:
    """The Period's SegmentBase/List/Template folded into the AdaptationSet's (ISO
    §5.3.9.1: a lower level inherits each attribute and child it does not state)."""
    for name in _ADDRESSING:
        above = children(period, name)
        if not above:
            continue
        own = children(element, name)
        if not own:
            insert_child(element, copy.deepcopy(above[0]), ADAPTATION_SET_ORDER)
            continue
        for key, value in above[0].items():
            if own[0].get(key) is None:
                own[0].set(key, value)
        present = {child.tag for child in own[0]}
        for child in above[0].iterchildren(tag=etree.Element):
            if child.tag not in present and local_name(child) in SEGMENT_ORDER:
                insert_child(own[0], copy.deepcopy(child), SEGMENT_ORDER)


def _resolved(bases: Sequence[str], refs: Sequence[str]) -> list[str]:
    if not refs:
        return list(bases)
    return list(
        dict.fromkeys(resolve(base, ref) if base else ref for base in bases for ref in refs)
    )


def _absolute_bases(
    source: Mpd, origin: PeriodView, track: AdaptationSetView, key: str
) -> list[str]:
    """The track's BaseURLs resolved to absolute URLs; every Representation must reach
    absolute media URLs from them (or from absolute templates)."""
    document = key if _ABSOLUTE.match(key) else ""
    bases = [document]
    for level in (source.base_urls, origin.base_urls, track.base_urls):
        bases = _resolved(bases, level)
    if bases == [document] and document:
        bases = [resolve(document, ".")]  # no BaseURL: the source MPD's directory
    bases = [base for base in bases if base]
    for representation in track.representations:
        urls = _resolved(bases or [""], representation.base_urls)
        if not all(_ABSOLUTE.match(url) for url in urls) and not _absolute_media(
            representation.segment_info
        ):
            raise EditError(
                f"the track's Representation {representation.id!r} has relative media URLs: "
                "key the source by its absolute URL or give it an absolute BaseURL"
            )
    return bases if all(_ABSOLUTE.match(base) for base in bases) else []


def _absolute_media(info: SegmentInfo) -> bool:
    if info.kind == "template":
        urls = [u for u in (info.media, info.initialization) if u is not None]
    elif info.kind == "list":
        urls = [u.get("media") or "" for u in info.segment_urls]
    else:
        return False
    return bool(urls) and all(_ABSOLUTE.match(url) for url in urls)


def _label(element: _Element, name: str) -> None:
    for label in children(element, "Label"):
        remove_child(label)
    if "label" in element.attrib:
        del element.attrib["label"]
    insert_child(element, new_element(element, "Label", name), ADAPTATION_SET_ORDER)


def _accessibility(element: _Element, edit: AddRendition) -> None:
    """HLS CHARACTERISTICS and FORCED as DASH descriptors (ETSI TS 103 285 §6.1.2, ISO
    Table 23)."""
    characteristics = frozenset(_words(edit.characteristics, ","))
    if edit.type == "AUDIO" and characteristics >= DESCRIBES_VIDEO:
        _ensure(element, "Accessibility", AUDIO_PURPOSE, "1")
        _ensure(element, "Role", ROLE_SCHEME, "description")
    if edit.type == "SUBTITLES" and characteristics >= SDH:
        _ensure(element, "Accessibility", AUDIO_PURPOSE, "2")
        _ensure(element, "Role", ROLE_SCHEME, "caption")
    if edit.forced:
        _ensure(element, "Role", ROLE_SCHEME, "forced-subtitle")


def _new_ids(track: AdaptationSetView, targets: Sequence[PeriodView], lang: str) -> dict[str, str]:
    """New ids for the track's Representation@ids already used in a target Period."""
    taken = {r.id for period in targets for r in period.representations() if r.id is not None}
    taken |= {r.id for r in track.representations if r.id is not None}
    renamed: dict[str, str] = {}
    for representation in track.representations:
        old = representation.id
        if old is None or old not in {r.id for p in targets for r in p.representations()}:
            continue
        candidate, n = f"{old}-{lang}", 2
        while candidate in taken:
            candidate, n = f"{old}-{lang}-{n}", n + 1
        taken.add(candidate)
        renamed[old] = candidate
    return renamed


def _rename(element: _Element, track: AdaptationSetView, renamed: Mapping[str, str]) -> None:
    """Apply ``renamed`` to the copied Representations, keeping the URLs their old id made
    (ISO §5.3.9.4.4: ``$$`` is a literal ``$``)."""
    if not renamed:
        return
    reps = children(element, "Representation")
    for rep, view in zip(reps, track.representations, strict=True):
        for name in ("dependencyId", "associationId"):
            words = _words(rep.get(name))
            if set(words) & renamed.keys():
                rep.set(name, " ".join(renamed.get(word, word) for word in words))
        old = view.id
        if old is None or old not in renamed:
            continue
        rep.set("id", renamed[old])
        info = view.segment_info
        if info.kind != "template":
            continue
        for name in _TEMPLATE_URLS:
            value = next((e.get(name) for e in info.chain if e.get(name) is not None), None)
            if value is not None and "$RepresentationID$" in value:
                literal = value.replace("$RepresentationID$", old.replace("$", "$$"))
                _own_template(rep).set(name, literal)


def _renamespace(element: _Element, old: str, new: str) -> None:
    """Move the subtree from the MPD namespace ``old`` to ``new`` (the target's)."""
    if old == new:
        return
    for node in element.iter(tag=etree.Element):
        if namespace_of(node) == old:
            node.tag = new + local_name(node)
