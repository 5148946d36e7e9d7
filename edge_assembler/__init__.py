"""Edge Assembler: a CDN edge worker that assembles personalised HLS and DASH streams."""

__version__ = "0.1.0"
