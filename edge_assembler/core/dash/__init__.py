"""MPEG-DASH: an MPD model over lxml (ISO/IEC 23009-1), sans I/O."""

from edge_assembler.core.dash.elements import Descriptor
from edge_assembler.core.dash.model import Mpd, PeriodView
from edge_assembler.core.dash.parse import parse
from edge_assembler.core.dash.render import render
from edge_assembler.core.dash.views import (
    AdaptationSetView,
    EventStreamView,
    EventView,
    RepresentationView,
)

__all__ = [
    "AdaptationSetView",
    "Descriptor",
    "EventStreamView",
    "EventView",
    "Mpd",
    "PeriodView",
    "RepresentationView",
    "parse",
    "render",
]
