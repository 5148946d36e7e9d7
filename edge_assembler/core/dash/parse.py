"""Bytes to ``Mpd``. Anything that cannot be understood is a ManifestError naming the line.

Decisions:

* Hardened XML (OWASP XXE prevention): entities are never substituted, no DTD or entity is
  loaded from the network or the disk, documents keep libxml2's default depth and size
  limits (no ``huge_tree``), and a DOCTYPE that declares entities is refused, before libxml2
  reads it where the bytes show it, after otherwise. (lxml's ``collect_ids=False`` makes
  libxml2 read an external DTD subset from disk, so it stays at its default.)
* Undeclared prefixes (``scte35:``, ``mspr:``, ``yt:``, seen in real MPDs): dash.js and Shaka
  read these documents, so the edge does too. The missing ``xmlns:<prefix>`` declarations are
  inserted into the root start tag, bytes otherwise untouched, and that repaired document is
  what ``render`` returns, namespace-well-formed as SPEC_RULES 88 asks of what we emit.
  Well-known prefixes get their usual namespace (``PREFIX_NAMESPACES``), any other prefix
  ``urn:edge-assembler:undeclared:<prefix>``. A document that needed no repair renders byte
  for byte as it came.
* Only an ``MPD`` root is an MPD (ISO/IEC 23009-1 §5.3.1): a Period fragment (an xlink
  target) is refused with "not an MPD".
"""

import re
from collections.abc import Iterator
from typing import Protocol, cast

from lxml import etree

from edge_assembler.core.dash.elements import MPD_NAMESPACES, namespace_of
from edge_assembler.core.dash.model import Mpd
from edge_assembler.core.dash.values import line_of
from edge_assembler.core.errors import ManifestError

PREFIX_NAMESPACES = {
    "scte35": "http://www.scte.org/schemas/35/2016",  # SCTE 35 XML, as MediaPackage writes it
    "mspr": "urn:microsoft:playready",
    "yt": "http://youtube.com/yt/2012/10/10",  # what YouTube declares when it does
    "xlink": "http://www.w3.org/1999/xlink",
    "cenc": "urn:mpeg:cenc:2013",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "dvb": "urn:dvb:dash:extensions:2014",
    "scte214": "urn:scte:dash:scte214-extensions",
}
UNDECLARED_NAMESPACE = "urn:edge-assembler:undeclared:"

_UNDEFINED_PREFIX = re.compile(r"Namespace prefix ([A-Za-z_][\w.\-]*) (?:for \S+ )?on \S+ is not")
# Everything before the root start tag: BOM, XML declaration, PIs, comments, DOCTYPE. Each
# part matches in one way only, so a document without a root fails in linear time.
_PROLOG = re.compile(
    rb"(?:\xef\xbb\xbf)?"
    rb"(?:\s|<\?(?:[^?]|\?(?!>))*\?>|<!--(?:[^-]|-(?!->))*-->|<!DOCTYPE[^\[>]*(?:\[[^\]]*\])?\s*>)*"
    rb"<[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?"
)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_ENTITY_DECLARATION = re.compile(rb"<!DOCTYPE[^\[>]*\[[^\]]*<!ENTITY")
_ENTITIES_REFUSED = "DOCTYPE declares entities (refused: entity expansion, XXE)"


def parse(data: bytes) -> Mpd:
    """Parse an MPD; ``render(parse(data))`` is ``data`` (plus any prefix declarations)."""
    _refuse_entity_declarations(data)
    root, source, repaired = _read_xml(data)
    _refuse_entities(root, source)
    namespace = namespace_of(root).strip("{}")
    if etree.QName(root).localname != "MPD" or namespace not in MPD_NAMESPACES:
        raise ManifestError(line_of(root), f"not an MPD: the root element is {root.tag}")
    return Mpd.of(root, source_bytes=source, repaired_prefixes=repaired)


def declare_prefixes(data: bytes, prefixes: tuple[str, ...]) -> bytes:
    """``data`` with ``xmlns:<prefix>`` declarations added to the root start tag."""
    prolog = _PROLOG.match(data)
    if prolog is None:
        raise ManifestError(1, "cannot find the root element to declare namespace prefixes")
    declarations = b"".join(
        b' xmlns:%s="%s"' % (prefix.encode(), namespace_for(prefix).encode()) for prefix in prefixes
    )
    return data[: prolog.end()] + declarations + data[prolog.end() :]


def namespace_for(prefix: str) -> str:
    return PREFIX_NAMESPACES.get(prefix, UNDECLARED_NAMESPACE + prefix)


def _parser() -> etree.XMLParser:
    # A parser per document: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_blank_text=False,
        remove_comments=False,
        remove_pis=False,
        strip_cdata=False,
    )


def _read_xml(data: bytes) -> tuple[etree._Element, bytes, tuple[str, ...]]:
    parser = _parser()
    try:
        return etree.fromstring(data, parser), data, ()
    except etree.XMLSyntaxError as exc:
        prefixes = _undefined_prefixes(parser)
        if not prefixes:
            raise _syntax_error(exc) from None
    repaired = declare_prefixes(data, prefixes)
    try:
        return etree.fromstring(repaired, _parser()), repaired, prefixes
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc) from None


def _undefined_prefixes(parser: etree.XMLParser) -> tuple[str, ...]:
    # The parser's own log: the exception's log also holds earlier documents' errors.
    found = (_UNDEFINED_PREFIX.match(entry.message) for entry in parser.error_log)
    return tuple(dict.fromkeys(match.group(1) for match in found if match))


def _syntax_error(exc: etree.XMLSyntaxError) -> ManifestError:
    line = exc.lineno if isinstance(exc.lineno, int) else 0
    return ManifestError(max(line, 0), f"not well-formed XML: {exc.msg}")


class _Declarations(Protocol):
    """The part of ``lxml.etree.DTD`` the stubs leave out."""

    def iterentities(self) -> Iterator[object]: ...


def _refuse_entity_declarations(data: bytes) -> None:
    """Refuse entity declarations before libxml2 reads them (what it reads, it may load)."""
    first = _FIRST_ELEMENT.search(data)
    prolog = data if first is None else data[: first.start()]
    index = prolog.find(b"<!DOCTYPE")  # XML 1.0 §2.8: one DOCTYPE, before the root
    if index >= 0 and _ENTITY_DECLARATION.match(prolog, index):
        raise ManifestError(prolog[:index].count(b"\n") + 1, _ENTITIES_REFUSED)


def _refuse_entities(root: etree._Element, source: bytes) -> None:
    """The same check on what libxml2 read, for encodings the byte scan cannot see."""
    dtd = cast(_Declarations | None, root.getroottree().docinfo.internalDTD)
    if dtd is not None and any(True for _ in dtd.iterentities()):
        index = source.find(b"<!DOCTYPE")  # -1 in an encoding the byte scan cannot see
        line = source[:index].count(b"\n") + 1 if index >= 0 else 1
        raise ManifestError(line, _ENTITIES_REFUSED)
