"""Views of the elements below a Period: AdaptationSet, Representation, EventStream, Event.

Each view wraps its element and reads it only when asked (``functools.cached_property``);
the element stays the source of truth.
"""

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from lxml.etree import _Element

from edge_assembler.core.dash.addressing import Addressing, SegmentInfo, addressing_of, effective
from edge_assembler.core.dash.elements import (
    Descriptor,
    base_urls,
    children,
    content_type_of,
    descriptors,
)
from edge_assembler.core.dash.values import int_attr, positive_int_attr

if TYPE_CHECKING:
    from edge_assembler.core.dash.model import PeriodView


class Level:
    """What a Period, an AdaptationSet and a Representation may each carry: BaseURLs and
    segment addressing (ISO/IEC 23009-1 §5.6, §5.3.9)."""

    element: _Element

    @property
    def segment_template(self) -> _Element | None:
        return self.addressing.template

    @property
    def segment_list(self) -> _Element | None:
        return self.addressing.segment_list

    @property
    def segment_base(self) -> _Element | None:
        return self.addressing.base

    @cached_property
    def addressing(self) -> Addressing:
        return addressing_of(self.element)

    @cached_property
    def base_urls(self) -> tuple[str, ...]:
        return base_urls(self.element)


@dataclass(frozen=True, eq=False)
class EventView:
    """An Event of an EventStream (ISO/IEC 23009-1 §5.10.2.3)."""

    element: _Element

    @property
    def id(self) -> str | None:
        return self.element.get("id")

    @cached_property
    def presentation_time(self) -> int:
        return int_attr(self.element, "presentationTime") or 0

    @cached_property
    def duration(self) -> int | None:
        return int_attr(self.element, "duration")


@dataclass(frozen=True, eq=False)
class EventStreamView:
    """An EventStream of a Period (ISO/IEC 23009-1 §5.10.2.2)."""

    element: _Element

    @property
    def scheme_id_uri(self) -> str:
        return self.element.get("schemeIdUri", "")

    @property
    def value(self) -> str | None:
        return self.element.get("value")

    @cached_property
    def timescale(self) -> int:
        return positive_int_attr(self.element, "timescale", 1)

    @cached_property
    def presentation_time_offset(self) -> int:
        return int_attr(self.element, "presentationTimeOffset") or 0

    @cached_property
    def events(self) -> tuple[EventView, ...]:
        return tuple(EventView(event) for event in children(self.element, "Event"))


@dataclass(frozen=True, eq=False)
class RepresentationView(Level):
    """A Representation; common attributes (ISO/IEC 23009-1 §5.3.7) fall back to its
    AdaptationSet."""

    element: _Element
    adaptation_set: "AdaptationSetView"

    @property
    def id(self) -> str | None:
        return self.element.get("id")

    @cached_property
    def bandwidth(self) -> int | None:
        return int_attr(self.element, "bandwidth")

    @cached_property
    def width(self) -> int | None:
        return self._inherited_int("width")

    @cached_property
    def height(self) -> int | None:
        return self._inherited_int("height")

    @property
    def codecs(self) -> str | None:
        return self.element.get("codecs", self.adaptation_set.codecs)

    @property
    def mime_type(self) -> str | None:
        return self.element.get("mimeType", self.adaptation_set.mime_type)

    @cached_property
    def audio_sampling_rate(self) -> int | None:
        """The first value of @audioSamplingRate (it may be a range, §5.3.7.2)."""
        text = self.element.get(
            "audioSamplingRate", self.adaptation_set.element.get("audioSamplingRate")
        )
        first = (text or "").split()
        return int(first[0]) if first and first[0].isdigit() else None

    @cached_property
    def content_type(self) -> str | None:
        """The AdaptationSet's @contentType, else this @mimeType's, else the AdaptationSet's."""
        adaptation_set = self.adaptation_set
        return (
            adaptation_set.element.get("contentType")
            or content_type_of(self.element.get("mimeType"), self.codecs)
            or adaptation_set.content_type
        )

    @cached_property
    def segment_info(self) -> SegmentInfo:
        """The effective addressing, inherited from the AdaptationSet and the Period."""
        adaptation_set = self.adaptation_set
        return effective(
            (self.addressing, adaptation_set.addressing, adaptation_set.period.addressing)
        )

    def _inherited_int(self, name: str) -> int | None:
        own = int_attr(self.element, name)
        return own if own is not None else int_attr(self.adaptation_set.element, name)


@dataclass(frozen=True, eq=False)
class AdaptationSetView(Level):
    """An AdaptationSet (ISO/IEC 23009-1 §5.3.3)."""

    element: _Element
    period: "PeriodView"

    @property
    def id(self) -> str | None:
        return self.element.get("id")

    @property
    def lang(self) -> str | None:
        return self.element.get("lang")

    @property
    def mime_type(self) -> str | None:
        return self.element.get("mimeType")

    @property
    def codecs(self) -> str | None:
        return self.element.get("codecs")

    @cached_property
    def content_type(self) -> str | None:
        """@contentType, else from @mimeType, else the first Representation that tells."""
        declared = self.element.get("contentType")
        if declared:
            return declared
        own = content_type_of(self.mime_type, self.codecs)
        if own is not None:
            return own
        kinds = (
            content_type_of(r.get("mimeType"), r.get("codecs", self.codecs))
            for r in children(self.element, "Representation")
        )
        return next((kind for kind in kinds if kind is not None), None)

    @cached_property
    def roles(self) -> tuple[Descriptor, ...]:
        return descriptors(self.element, "Role")

    @cached_property
    def accessibility(self) -> tuple[Descriptor, ...]:
        return descriptors(self.element, "Accessibility")

    @cached_property
    def representations(self) -> tuple[RepresentationView, ...]:
        return tuple(RepresentationView(r, self) for r in children(self.element, "Representation"))
