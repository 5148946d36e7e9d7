"""``Mpd`` to bytes.

An MPD whose tree is the parsed one renders as the bytes it was parsed from, so the origin's
formatting, attribute order and encoding survive unedited documents exactly. A tree built by
an edit is serialized by lxml as UTF-8 with an XML declaration; it is then equal to its input
in canonical form (W3C Canonical XML 2.0, which the tests compare): comments, CDATA content,
namespace prefixes and unknown elements are all kept.
"""

from lxml import etree

from edge_assembler.core.dash.model import Mpd

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def render(mpd: Mpd) -> bytes:
    if mpd.source_bytes is not None:
        return mpd.source_bytes
    return serialize(mpd.root)


def serialize(root: etree._Element) -> bytes:
    """The document of ``root`` (with the comments and PIs around it) as UTF-8 XML."""
    body = etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=False)
    return _DECLARATION + body + b"\n"
