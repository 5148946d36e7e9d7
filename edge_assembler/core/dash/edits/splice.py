"""InsertRun on an MPD: the Periods of another MPD (an ad, a recap, a bumper) before the
first Period, after the last, at a time offset or at the start of a signalled break; and
the preparation of Periods taken from another MPD, which break replacement and composition
share.

A time offset snaps to a segment boundary common to the video and audio Representations of
the Period it falls in (``snap``); a cue is the start of a break of ``events.detect_breaks``
(snapped to the nearest boundary). A content Period cut there continues after the run with
``presentationTimeOffset`` and ``startNumber`` advanced, and no period-continuity across
the run (SPEC_RULES 83; ``periods``). Later Periods move by the run's duration and
``mediaPresentationDuration`` grows by it (SPEC_RULES 75, 98). Only static MPDs take
insertions: in a live MPD every later segment would be announced later than it becomes
available, and Period@start may not move across updates (SPEC_RULES 77); live ads replace
breaks (``replace_break``).

Inserted Periods (``source_pieces``):

* get ids ``derived_id(marker_id or source key, insertion time)`` (``_<n>`` appended, n from 1,
  when the source has several Periods): the same edit always yields the same ids;
* have absolute Period-level BaseURLs resolved against the source URL and the source's
  MPD-level BaseURLs (SPEC_RULES 87), the edited MPD's namespace, and none of the source's
  EventStreams (their cues describe the source's timeline, and would read as breaks here);
* mirror the content's media types, audio languages and roles (SPEC_RULES 86, Shaka's
  period flattening): AdaptationSets of a type the content lacks are dropped; the Period gets
  one audio AdaptationSet per content audio AdaptationSet, the source's one in that language
  or else its main one, carrying the content's ``@lang``, ``@id``, ``Role`` and
  ``Accessibility``. So a one-language ad plays under every content language; repeated
  copies get new Representation ids, with ``$RepresentationID$`` made literal in their
  templates so their segment URLs do not change;
* as ads (``role == "ad"``), carry SCTE 214-1 / DASH-IF IOP signalling: a Period-level
  ``AssetIdentifier`` (``urn:org:dashif:asset-id:2013``, the creative id, else the source key)
  on each, and on the first a SCTE-35 ``EventStream`` (``urn:scte:scte35:2013:xml``) whose
  splice_insert opens a break of the run's duration, with ``Event@id`` and
  ``spliceEventId`` from ``marker_id`` (``event_number``); ``events.detect_breaks`` reads it
  back as the break.
"""

import copy
from collections.abc import Mapping, Sequence
from urllib.parse import urljoin

from lxml import etree
from lxml.etree import _Element

from edge_assembler.core.dash.edits.periods import (
    DASHIF_ASSET_ID,
    SAME_INSTANT,
    SCTE35_NAMESPACE,
    Piece,
    assemble,
    content_pieces,
    cut,
    derived_id,
    event_number,
    indent,
    insert_child,
    new_child,
    remove,
    snapped,
    space_before,
)
from edge_assembler.core.dash.elements import children, local_name, namespace_of
from edge_assembler.core.dash.events import SCTE35_XML, detect_breaks
from edge_assembler.core.dash.model import Mpd, PeriodView
from edge_assembler.core.dash.timeline import resolve_base_urls, segment_boundaries, segments
from edge_assembler.core.dash.views import AdaptationSetView
from edge_assembler.core.edits.seams import TOLERANCE, EditError
from edge_assembler.core.edits.splice import InsertRun
from edge_assembler.core.errors import ManifestError

_SCTE35_TICKS = 90_000


def apply_insert_run(mpd: Mpd, edit: InsertRun, fetched: Mapping[str, Mpd]) -> Mpd:
    if mpd.dynamic:
        raise EditError("runs are inserted into static MPDs only (live ads replace breaks)")
    source = source_mpd(fetched, edit.source)
    root = mpd.copy_root()
    work = Mpd.of(root)
    at, near = _position(work, edit)
    run = source_pieces(source, edit.source_url, namespace_of(root), near)
    base = edit.marker_id or edit.source
    name_pieces(run, derived_id(base, at))
    if edit.role == "ad":
        creative = edit.creative_id or edit.source
        marker = event_number(edit.marker_id or derived_id(edit.source, at))
        mark_ads(run, [creative] * len(run), marker)
    pieces = [*content_pieces(work, 0.0, at), *run, *content_pieces(work, at, None)]
    return assemble(work, root, pieces)


def _position(mpd: Mpd, edit: InsertRun) -> tuple[float, PeriodView]:
    """The MPD time the run goes at, and the content Period there (to mirror)."""
    first, last = mpd.periods[0], mpd.periods[-1]
    match edit.position:
        case "pre":
            return first.start or 0.0, first
        case "post":
            if last.end is None:
                raise EditError("the last Period has no known end")
            return last.end, last
        case "mid":
            return _middle(mpd, edit)


def _middle(mpd: Mpd, edit: InsertRun) -> tuple[float, PeriodView]:
    if (edit.at is None) == (edit.cue is None):
        raise EditError("a mid-roll needs exactly one of 'at' and 'cue'")
    if edit.at is not None:
        return snapped(mpd, edit.at, edit.snap)
    found = next((b for b in detect_breaks(mpd) if b.id == edit.cue), None)
    if found is None:
        raise EditError(f"no break {edit.cue!r} in the MPD")
    return snapped(mpd, found.start, "nearest")


# --- Periods from another MPD --------------------------------------------------------------


def source_mpd(fetched: Mapping[str, Mpd], key: str) -> Mpd:
    """The fetched MPD ``key``: static, with Periods of known duration."""
    source = fetched.get(key)
    if source is None:
        raise EditError(f"source {key!r} was not fetched")
    if source.dynamic:
        raise EditError(f"source {key!r} is a live MPD")
    if not source.periods or any(p.duration is None for p in source.periods):
        raise EditError(f"source {key!r} has no Period or one without a known duration")
    return source


def source_pieces(
    source: Mpd,
    url: str,
    namespace: str,
    content: PeriodView | None,
    *,
    limit: float | None = None,
    exact: bool = False,
) -> list[Piece]:
    """The Periods of ``source`` (fetched from ``url``) prepared for an MPD in
    ``namespace``, mirroring ``content``. With a ``limit`` (seconds), those that fit in it,
    then the first that does not, cut at its last segment boundary that fits (whole
    segments), or at the limit itself when ``exact`` (a still slate)."""
    pieces: list[Piece] = []
    used = 0.0
    for period in source.periods:
        length = period.duration
        assert length is not None
        end = None
        if limit is not None and used + length > limit + TOLERANCE:
            room = limit - used
            end = room if exact else _last_boundary(period, room)
            if end <= SAME_INSTANT:
                break
        element = cut(period, 0.0, end).element
        imported(source, period, url, namespace, element)
        if content is not None:
            mirror(element, period, content)
        size = length if end is None else end
        longest = max_segment_duration(period)
        pieces.append(Piece(element, size, True, max_segment=longest, foreign=True))
        used += size
        if end is not None:
            break
    return pieces


def _last_boundary(period: PeriodView, room: float) -> float:
    found = [0.0, *segment_boundaries(period)]
    return max(b for b in found if b <= room + TOLERANCE)


def name_pieces(pieces: Sequence[Piece], base: str) -> None:
    """``base`` for a single Period, ``base_1``, ``base_2``, ... for several."""
    for i, piece in enumerate(pieces):
        piece.element.set("id", base if len(pieces) == 1 else f"{base}_{i + 1}")


def mark_ads(
    pieces: Sequence[Piece],
    creatives: Sequence[str],
    marker: int | None,
    *,
    duration: float | None = None,
) -> None:
    """Each Period's AssetIdentifier, and on the first the SCTE-35 marker ``marker`` (an
    event id) opening a break of ``duration`` (default: the pieces' total)."""
    total = sum(p.duration or 0.0 for p in pieces) if duration is None else duration
    for i, (piece, creative) in enumerate(zip(pieces, creatives, strict=True)):
        signal = (marker, total) if i == 0 and marker is not None else None
        mark_ad(piece.element, creative, signal)


def imported(source: Mpd, period: PeriodView, url: str, namespace: str, element: _Element) -> None:
    """Make ``element`` (a cut copy of ``period`` of ``source``, fetched from ``url``) fit
    an MPD in ``namespace``: absolute Period BaseURLs, no EventStreams."""
    if period.xlink_href is not None:
        raise EditError("a source Period is remote (xlink) and not resolved")
    bases = _absolute_base_urls(source, period, url)
    for old in children(element, "BaseURL"):
        remove(old)
    for text, attributes in reversed(bases):
        base = element.makeelement(namespace_of(element) + "BaseURL", attributes)
        base.text = text
        insert_child(element, base, first=True)
    for stream in children(element, "EventStream"):
        remove(stream)
    _retag(element, namespace_of(element), namespace)


def _absolute_base_urls(
    source: Mpd, period: PeriodView, url: str
) -> list[tuple[str, dict[str, str]]]:
    """The Period's BaseURLs resolved against the MPD URL and the MPD-level BaseURLs, each
    with the attributes (serviceLocation, dvb:priority, ...) of the element it came from."""
    tops = _with_attributes(children(source.root, "BaseURL"))
    roots = [(u, a) for t, a in tops for u in resolve_base_urls(url, [t])] or [
        (urljoin(url, "."), {})
    ]
    own = _with_attributes(children(period.element, "BaseURL"))
    if not own:
        return roots
    found = {urljoin(base, text): attrs for base, _ in roots for text, attrs in own}
    return list(found.items())


def _with_attributes(elements: list[_Element]) -> list[tuple[str, dict[str, str]]]:
    return [((e.text or "").strip(), _attributes(e)) for e in elements]


def _attributes(element: _Element) -> dict[str, str]:
    return {str(k): str(v) for k, v in element.attrib.items()}


def _retag(element: _Element, old: str, new: str) -> None:
    """Move the MPD elements of a subtree from namespace ``old`` to ``new`` (a source in
    the upper-case YouTube namespace, or none, going into a standard MPD, or back)."""
    if old == new:
        return
    for item in element.iter(etree.Element):
        if namespace_of(item) == old:
            item.tag = new + local_name(item)
    etree.cleanup_namespaces(element)  # the old default namespace is no longer used


def max_segment_duration(period: PeriodView) -> float:
    """The longest segment of ``period`` (for ``MPD@maxSegmentDuration``)."""
    longest = 0.0
    for representation in period.representations():
        try:
            listed = segments(period, representation)
        except ManifestError:
            continue
        longest = max([longest, *(s.duration for s in listed)])
    return longest


# --- matching the content ------------------------------------------------------------------


def mirror(element: _Element, source: PeriodView, content: PeriodView) -> None:
    """SPEC_RULES 86: make ``element`` (a copy of ``source``) offer ``content``'s media types
    and audio languages/roles (see the module docstring)."""
    sets = list(zip(source.adaptation_sets, children(element, "AdaptationSet"), strict=True))
    types = {a.content_type for a in content.adaptation_sets}
    for view, twin in sets:
        if view.content_type is not None and view.content_type not in types:
            remove(twin)
    audio = [(v, t) for v, t in sets if v.content_type == "audio" and t.getparent() is not None]
    wanted = [a for a in content.adaptation_sets if a.content_type == "audio"]
    if audio and wanted:
        _mirror_audio(element, audio, wanted)
    _unique_set_ids(element)


def _mirror_audio(
    element: _Element,
    audio: list[tuple[AdaptationSetView, _Element]],
    wanted: list[AdaptationSetView],
) -> None:
    anchor = audio[0][1]
    space = space_before(anchor)
    uses: dict[int, int] = {}
    made = []
    for target in wanted:
        index = _pick(audio, target)
        uses[index] = uses.get(index, 0) + 1
        made.append(_dressed(audio[index][1], target, uses[index]))
    for twin in made:
        anchor.addprevious(twin)
        twin.tail = space
    for _, twin in audio:
        remove(twin)


def _pick(audio: list[tuple[AdaptationSetView, _Element]], target: AdaptationSetView) -> int:
    """The source audio AdaptationSet in ``target``'s language, else the main one."""
    language = _language(target.lang)
    for i, (view, _) in enumerate(audio):
        if language is not None and _language(view.lang) == language:
            return i
    for i, (view, _) in enumerate(audio):
        if any(r.value == "main" for r in view.roles):
            return i
    return 0


def _language(tag: str | None) -> str | None:
    return None if not tag else tag.split("-")[0].lower()


def _dressed(original: _Element, target: AdaptationSetView, use: int) -> _Element:
    """A copy of ``original`` with ``target``'s @lang, Role and Accessibility; a second or
    later copy gets new Representation ids (template ``$RepresentationID$`` made literal)."""
    twin = copy.deepcopy(original)
    for name in ("lang", "id"):
        value = target.element.get(name)
        if value is None:
            twin.attrib.pop(name, "")
        else:
            twin.set(name, value)
    for name in ("Role", "Accessibility"):
        for old in children(twin, name):
            remove(old)
        for descriptor in children(target.element, name):
            fresh = copy.deepcopy(descriptor)
            fresh.tail = None
            insert_child(twin, fresh)
    if use > 1:
        for representation in children(twin, "Representation"):
            _rename(twin, representation, f"{representation.get('id', '')}_{use}")
    return twin


def _rename(adaptation_set: _Element, representation: _Element, new: str) -> None:
    old = representation.get("id", "")
    for name in ("media", "initialization", "index", "bitstreamSwitching"):
        value = _template_value(adaptation_set, representation, name)
        if value is not None and "$RepresentationID$" in value:
            own = children(representation, "SegmentTemplate")
            template = own[0] if own else new_child(representation, "SegmentTemplate")
            template.set(name, value.replace("$RepresentationID$", old))
    representation.set("id", new)


def _template_value(adaptation_set: _Element, representation: _Element, name: str) -> str | None:
    for level in (representation, adaptation_set, adaptation_set.getparent()):
        if level is None:
            continue
        for template in children(level, "SegmentTemplate"):
            if template.get(name) is not None:
                return template.get(name)
    return None


def _unique_set_ids(element: _Element) -> None:
    """ISO/IEC 23009-1 §5.3.3.2: AdaptationSet@id is unique within a Period."""
    seen: set[str] = set()
    sets = children(element, "AdaptationSet")
    numbers = [int(i) for s in sets if (i := s.get("id", "")).isascii() and i.isdigit()]
    spare = max(numbers, default=-1) + 1
    for adaptation_set in sets:
        ident = adaptation_set.get("id")
        if ident is None:
            continue
        if ident in seen:
            adaptation_set.set("id", str(spare))
            ident, spare = str(spare), spare + 1
        seen.add(ident)


def mark_ad(element: _Element, asset: str, marker: tuple[int, float] | None) -> None:
    """SCTE 214-1 / DASH-IF IOP ad signalling: ``AssetIdentifier`` with ``asset`` and, given
    ``marker`` (event id, break duration in seconds), a SCTE-35 splice_insert opening the
    break at the Period start."""
    for old in children(element, "AssetIdentifier"):
        remove(old)
    identifier = new_child(element, "AssetIdentifier")
    identifier.set("schemeIdUri", DASHIF_ASSET_ID)
    identifier.set("value", asset)
    if marker is not None:
        stream = _scte35_stream(element, *marker)
        insert_child(element, stream)
        indent(stream)


def _scte35_stream(parent: _Element, event_id: int, seconds: float) -> _Element:
    namespace = namespace_of(parent)
    ticks = str(round(seconds * _SCTE35_TICKS))
    stream = parent.makeelement(
        namespace + "EventStream", {"schemeIdUri": SCTE35_XML, "timescale": str(_SCTE35_TICKS)}
    )
    event = etree.SubElement(
        stream,
        namespace + "Event",
        {"presentationTime": "0", "duration": ticks, "id": str(event_id)},
    )
    scte = "{" + SCTE35_NAMESPACE + "}"
    nsmap = {"scte35": SCTE35_NAMESPACE}
    section = etree.SubElement(
        event, scte + "SpliceInfoSection", {"ptsAdjustment": "0", "tier": "4095"}, nsmap=nsmap
    )
    # SCTE 35 Table 10: splice_insert, out of network, immediate (the Event gives the time).
    insert = etree.SubElement(
        section,
        scte + "SpliceInsert",
        {
            "spliceEventId": str(event_id),
            "spliceEventCancelIndicator": "false",
            "outOfNetworkIndicator": "true",
            "spliceImmediateFlag": "true",
            "uniqueProgramId": "0",
            "availNum": "0",
            "availsExpected": "0",
        },
    )
    etree.SubElement(insert, scte + "BreakDuration", {"autoReturn": "true", "duration": ticks})
    return stream


def move_event(element: _Element, event: _Element, stream: _Element, at: float) -> None:
    """Put a copy of ``event`` (of EventStream ``stream``) into ``element``, a Period that
    starts ``at`` seconds into the event's own Period: a kept origin cue."""
    holder = _stream_like(element, stream)
    twin = copy.deepcopy(event)
    scale = int(stream.get("timescale") or "1")
    offset = int(stream.get("presentationTimeOffset") or "0")
    time = int(event.get("presentationTime") or "0")
    twin.set("presentationTime", str(max(time - round(at * scale), offset)))
    holder.append(twin)


def _stream_like(element: _Element, like: _Element) -> _Element:
    """The EventStream of ``element`` with ``like``'s scheme, value and timing (made)."""
    names = ("schemeIdUri", "value", "timescale", "presentationTimeOffset")
    for stream in children(element, "EventStream"):
        if all(stream.get(n) == like.get(n) for n in names):
            return stream
    stream = element.makeelement(namespace_of(element) + "EventStream", _attributes(like))
    insert_child(element, stream)
    return stream
