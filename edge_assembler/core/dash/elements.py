"""Reading MPD elements: children in the MPD namespace, BaseURLs, descriptors, content types."""

from typing import NamedTuple

from lxml.etree import _Element

# ISO/IEC 23009-1 §5.3.1: the MPD namespace. YouTube writes it upper-case and some fixtures
# use no namespace at all; dash.js, Shaka and ExoPlayer read all three, and so do we.
MPD_NAMESPACES = frozenset({"urn:mpeg:dash:schema:mpd:2011", "urn:mpeg:DASH:schema:MPD:2011", ""})
XLINK = "{http://www.w3.org/1999/xlink}"

# ISO/IEC 23009-1 §5.3.7.2 (@mimeType), §5.3.3.2 (@contentType): the content type of a
# media type; ``application/mp4`` carries text (stpp, wvtt) or something else.
_MEDIA_TYPES = frozenset({"video", "audio", "text", "image"})
_TEXT_CODECS = ("stpp", "wvtt", "tx3g", "c608")
_TEXT_MIME_TYPES = frozenset({"application/ttml+xml", "application/x-subrip"})


class Descriptor(NamedTuple):
    """A DescriptorType element (ISO/IEC 23009-1 §5.8.2): Role, Accessibility, ..."""

    scheme: str
    value: str | None


def namespace_of(element: _Element) -> str:
    """``"{uri}"`` of ``element``'s tag, ``""`` for no namespace."""
    tag = element.tag
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


def local_name(element: _Element) -> str:
    return element.tag.rpartition("}")[2]


def children(element: _Element, local: str) -> list[_Element]:
    """The children of ``element`` named ``local`` in its own namespace, in document order."""
    return list(element.iterchildren(namespace_of(element) + local))


def base_urls(element: _Element) -> tuple[str, ...]:
    """The BaseURL children's text, whitespace stripped (ISO/IEC 23009-1 §5.6)."""
    return tuple((url.text or "").strip() for url in children(element, "BaseURL"))


def descriptors(element: _Element, local: str) -> tuple[Descriptor, ...]:
    return tuple(
        Descriptor(d.get("schemeIdUri", ""), d.get("value")) for d in children(element, local)
    )


def content_type_of(mime_type: str | None, codecs: str | None) -> str | None:
    """video, audio, text, image or application from a MIME type (and codecs)."""
    if mime_type is None:
        return None
    major, _, _ = mime_type.partition("/")
    if major in _MEDIA_TYPES:
        return major
    if mime_type in _TEXT_MIME_TYPES or (codecs or "").startswith(_TEXT_CODECS):
        return "text"
    return "application" if major == "application" else None
