"""The segment addressing in effect for a Representation (ISO/IEC 23009-1 §5.3.9.1).

SegmentTemplate, SegmentList and SegmentBase may sit on the Period, the AdaptationSet and
the Representation; a lower level refines the one above attribute by attribute and child by
child. Like dash.js, a template at any level wins over a list, and a list over a base. A
Representation with none of them is a single segment (its BaseURL), as with SegmentBase.
"""

from typing import Literal, NamedTuple

from lxml.etree import _Element

from edge_assembler.core.dash.elements import namespace_of
from edge_assembler.core.dash.values import int_attr, positive_int_attr

Kind = Literal["template", "list", "base"]
_KINDS: tuple[Kind, ...] = ("template", "list", "base")


class Addressing(NamedTuple):
    """The SegmentTemplate, SegmentList and SegmentBase children of one element."""

    template: _Element | None
    segment_list: _Element | None
    base: _Element | None


def addressing_of(element: _Element) -> Addressing:
    """One pass over the children of a Period, AdaptationSet or Representation."""
    namespace = namespace_of(element)
    tags = (namespace + "SegmentTemplate", namespace + "SegmentList", namespace + "SegmentBase")
    found: dict[str, _Element] = {}
    for item in element.iterchildren(*tags):
        found.setdefault(item.tag, item)
    template, segment_list, base = (found.get(tag) for tag in tags)
    return Addressing(template, segment_list, base)


class SegmentInfo(NamedTuple):
    """The effective addressing of one Representation."""

    kind: Kind
    chain: tuple[_Element, ...]  # the SegmentTemplate/List/Base elements, lowest level first
    timescale: int
    presentation_time_offset: int
    start_number: int
    duration: int | None  # @duration, in timescale units
    timeline: _Element | None  # the SegmentTimeline in effect
    media: str | None
    initialization: str | None
    segment_urls: tuple[_Element, ...]  # SegmentList only


def effective(levels: tuple[Addressing, ...]) -> SegmentInfo:
    """The addressing of a Representation from that of its Representation, AdaptationSet
    and Period elements, lowest level first."""
    kind, chain = _chain(levels)
    # Each attribute is read from the lowest level that states it.
    owners: dict[str, _Element] = {}
    for element in reversed(chain):
        owners.update(dict.fromkeys(map(str, element.keys()), element))
    start_number = _int(owners, "startNumber")
    timeline, segment_urls = _children(chain)
    return SegmentInfo(
        kind=kind,
        chain=chain,
        timescale=_positive(owners, "timescale") or 1,
        presentation_time_offset=_int(owners, "presentationTimeOffset") or 0,
        start_number=1 if start_number is None else start_number,
        duration=_positive(owners, "duration"),
        timeline=timeline,
        media=_text(owners, "media"),
        initialization=_text(owners, "initialization"),
        segment_urls=segment_urls,
    )


def _chain(levels: tuple[Addressing, ...]) -> tuple[Kind, tuple[_Element, ...]]:
    for index, kind in enumerate(_KINDS):
        chain = tuple(e for e in (level[index] for level in levels) if e is not None)
        if chain:
            return kind, chain
    return "base", ()


def _children(chain: tuple[_Element, ...]) -> tuple[_Element | None, tuple[_Element, ...]]:
    """The lowest SegmentTimeline of ``chain``, and the lowest level's SegmentURLs."""
    timeline: _Element | None = None
    urls: tuple[_Element, ...] = ()
    for element in chain:
        namespace = namespace_of(element)
        timeline_tag = namespace + "SegmentTimeline"
        found = list(element.iterchildren(timeline_tag, namespace + "SegmentURL"))
        if timeline is None:
            timeline = next((item for item in found if item.tag == timeline_tag), None)
        urls = urls or tuple(item for item in found if item.tag != timeline_tag)
    return timeline, urls


def _int(owners: dict[str, _Element], name: str) -> int | None:
    return int_attr(owners[name], name) if name in owners else None


def _positive(owners: dict[str, _Element], name: str) -> int | None:
    return positive_int_attr(owners[name], name, 1) if name in owners else None


def _text(owners: dict[str, _Element], name: str) -> str | None:
    return owners[name].get(name) if name in owners else None
