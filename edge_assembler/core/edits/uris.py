"""URI rewriting (SPEC_RULES 7; RFC 8216 §4.1, BIS §4.1): a URI in a playlist is relative
to the playlist's own URL (RFC 3986 §5.2), so a playlist served from somewhere else needs
its URIs rewritten.

* ``ProxyChildUris``: a multivariant playlist's child playlists are fetched through the
  edge, with the viewer's session token appended (per viewer, so the rewrite is prepared
  once per playlist and the token is joined in: ``ProxyTemplate``).
* ``SegmentBase``: a media playlist's segments (and keys, init sections, parts, preload
  hints) are fetched from a CDN host instead of the origin.
* ``ResolveUris``: every URI made absolute, for a playlist inlined elsewhere.

``data:`` and ``skd:`` URIs (any scheme but http/https) and URIs with a variable reference
(``{$name}``, BIS §4.3) are never touched. EXT-X-RENDITION-REPORT URIs stay relative: BIS
§4.4.5.4 requires them relative to the containing playlist.
"""

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Annotated, NamedTuple
from urllib.parse import quote, urlsplit

import msgspec

from edge_assembler.core.edits.base import Edit
from edge_assembler.core.edits.seams import EditError
from edge_assembler.core.hls.attributes import parse_attributes
from edge_assembler.core.hls.lines import Line, classify, is_uri, tag, tag_name
from edge_assembler.core.hls.model import (
    Item,
    MediaPlaylist,
    MultivariantPlaylist,
    Playlist,
    Segment,
    Variant,
)
from edge_assembler.core.hls.render import render

# An absolute http(s) URL without blanks, controls or quotes (it goes into quoted-strings,
# RFC 8216 §4.2); the base forms take no query or fragment.
Url = Annotated[str, msgspec.Meta(pattern=r'^https?://[^\x00-\x20\x7f"/?#]+[^\x00-\x20\x7f"]*$')]
BaseUrl = Annotated[
    str, msgspec.Meta(pattern=r'^https?://[^\x00-\x20\x7f"/?#]+(/[^\x00-\x20\x7f"?#]*)?$')
]
EdgeBase = Annotated[
    str, msgspec.Meta(pattern=r'^(https?://[^\x00-\x20\x7f"/?#]+)?(/[^\x00-\x20\x7f"?#]*)?$')
]
ParamName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._~-]+$")]

# Where the token goes while a template waits for it: never in a parsed playlist, which
# refuses control characters (RFC 8216 §4.1).
SLOT = "\x00"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_DEFAULT_PORTS = {"http": 80, "https": 443}

Rewrite = Callable[[str], str | None]
# Tag name -> the attributes holding a URI.
MEDIA_URIS: Mapping[str, tuple[str, ...]] = {
    "EXT-X-KEY": ("URI",),
    "EXT-X-MAP": ("URI",),
    "EXT-X-PART": ("URI",),
    "EXT-X-PRELOAD-HINT": ("URI",),
}
# BIS App. D.2: a relative X-ASSET-LIST resolves against the playlist carrying it.
INLINED_MEDIA_URIS = {**MEDIA_URIS, "EXT-X-DATERANGE": ("X-ASSET-LIST", "X-ASSET-URI")}
CHILD_URIS: Mapping[str, tuple[str, ...]] = {
    "EXT-X-MEDIA": ("URI",),
    "EXT-X-I-FRAME-STREAM-INF": ("URI",),
}
ORIGIN_URIS: Mapping[str, tuple[str, ...]] = {
    "EXT-X-SESSION-DATA": ("URI",),
    "EXT-X-SESSION-KEY": ("URI",),
    "EXT-X-CONTENT-STEERING": ("SERVER-URI",),
}
MULTIVARIANT_URIS = {**CHILD_URIS, **ORIGIN_URIS}


# -- resolution (RFC 3986 §5.2) ----------------------------------------------------------
# Not urllib.parse.urljoin: it drops empty path segments ("a//b" becomes "a/b") and empty
# queries, and reads ";" as RFC 1808 parameters, so it names another object than the one
# the origin (an object store, say) wrote.

# RFC 3986 Appendix B: scheme, authority, path, query, fragment (None when absent).
_REFERENCE = re.compile(r"(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.S)


def resolve(base: str, ref: str) -> str:
    """RFC 3986 §5.2.2: the target URI of ``ref`` against the absolute ``base`` (strict)."""
    scheme, authority, path, query, fragment = _parts(ref)
    base_scheme, base_authority, base_path, base_query, _ = _parts(base)
    if scheme is None:
        if authority is None:
            if not path:
                path, query = base_path, base_query if query is None else query
            elif path.startswith("/"):
                path = remove_dot_segments(path)
            else:
                path = remove_dot_segments(_merge(base_authority, base_path, path))
            authority = base_authority
        else:
            path = remove_dot_segments(path)
        scheme = base_scheme
    else:
        path = remove_dot_segments(path)
    # RFC 3986 §5.3: recomposition.
    out = f"{scheme}:" if scheme is not None else ""
    out += f"//{authority}" if authority is not None else ""
    out += path + (f"?{query}" if query is not None else "")
    return out + (f"#{fragment}" if fragment is not None else "")


def _parts(uri: str) -> tuple[str | None, str | None, str, str | None, str | None]:
    match = _REFERENCE.fullmatch(uri)
    assert match is not None  # every group is optional: any string matches
    scheme, authority, path, query, fragment = match.groups()
    return scheme, authority, path, query, fragment


def _merge(base_authority: str | None, base_path: str, path: str) -> str:
    """RFC 3986 §5.2.3."""
    if base_authority is not None and not base_path:
        return "/" + path
    return base_path[: base_path.rfind("/") + 1] + path


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, step by step (A to E)."""
    if "." not in path:
        return path
    out: list[str] = []
    while path:
        if path.startswith(("../", "./")):  # A
            path = path[path.index("/") + 1 :]
        elif path.startswith("/./") or path == "/.":  # B
            path = "/" + path[3:]
        elif path.startswith("/../") or path == "/..":  # C
            path = "/" + path[4:]
            if out:
                out.pop()
        elif path in (".", ".."):  # D
            path = ""
        else:  # E
            end = path.find("/", 1)
            segment = path if end == -1 else path[:end]
            out.append(segment)
            path = path[len(segment) :]
    return "".join(out)


def _plain(ref: str) -> bool:
    """A relative path with no scheme, authority, dot segment or variable: RFC 3986 §5.2
    resolves it to the base's directory followed by the reference as it is."""
    return (
        bool(ref)
        and ref[0] not in "/?#."
        and ":" not in ref
        and "/." not in ref
        and "{$" not in ref
    )


class Resolver:
    """Resolves references against one base URL; the common plain relative path is a
    string join."""

    __slots__ = ("base", "directory")

    def __init__(self, base: str) -> None:
        self.base = base
        self.directory = resolve(base, "x")[:-1]

    def __call__(self, ref: str) -> str | None:
        """The absolute http(s) URL ``ref`` stands for; None for one kept as it is."""
        if _plain(ref):
            return self.directory + ref
        scheme = _SCHEME.match(ref)
        if scheme:
            return ref if scheme.group()[:-1].lower() in _DEFAULT_PORTS else None
        if "{$" in ref:
            return None
        return resolve(self.base, ref)


class Root(NamedTuple):
    """An origin (scheme, host[:port], RFC 6454) and a path prefix ("" or "/a/b")."""

    scheme: str
    netloc: str
    path: str


def root_of(url: str, *, with_path: bool) -> Root:
    parts = urlsplit(url)
    path = parts.path.rstrip("/") if with_path else ""
    return Root(parts.scheme.lower(), _netloc(parts.scheme, parts.hostname, parts.port), path)


def _netloc(scheme: str, host: str | None, port: int | None) -> str:
    host = (host or "").lower()
    return host if port is None or port == _DEFAULT_PORTS.get(scheme.lower()) else f"{host}:{port}"


def under(base: Root, url: str) -> str | None:
    """What follows ``base`` in the absolute ``url`` (path, query, fragment), or None when
    ``url`` is elsewhere."""
    scheme, authority, path, query, fragment = _parts(url)
    if scheme is None or authority is None:
        return None
    try:
        parts = urlsplit(f"{scheme}://{authority}")
        netloc = _netloc(scheme, parts.hostname, parts.port)
    except ValueError:  # a malformed port or IPv6 host: not ours
        return None
    if (scheme.lower(), netloc) != (base.scheme, base.netloc):
        return None
    path = path or "/"
    if base.path and path != base.path and not path.startswith(base.path + "/"):
        return None
    rest = path[len(base.path) :] or "/"
    rest += f"?{query}" if query is not None else ""
    return rest + (f"#{fragment}" if fragment is not None else "")


class Rebase:
    """Resolves against ``playlist_url``, then moves what is on the playlist's own origin
    under ``base``; what is on other hosts stays absolute."""

    __slots__ = ("base", "directory", "origin", "resolve")

    def __init__(self, playlist_url: str, base: str) -> None:
        self.resolve = Resolver(playlist_url)
        self.origin = root_of(playlist_url, with_path=False)
        self.base = base.rstrip("/")
        self.directory = self.base + (under(self.origin, self.resolve.directory) or "/")

    def __call__(self, ref: str) -> str | None:
        if _plain(ref):
            return self.directory + ref
        absolute = self.resolve(ref)
        if absolute is None:
            return None
        rest = under(self.origin, absolute)
        return absolute if rest is None else self.base + rest


# -- rewriting lines ---------------------------------------------------------------------


def _rewrite_raw(
    raw: str, uris: Mapping[str, tuple[str, ...]], rewrite: Rewrite, crlf: bool
) -> str:
    """``raw`` with its URI (a URI line, or the URI attributes of a tag) rewritten; the same
    string when nothing changes."""
    if is_uri(raw):
        old = raw.strip()
        new = rewrite(old)
        return raw if new is None or new == old else new + ("\r" if crlf else "")
    names = uris.get(tag_name(raw))
    if not names:
        return raw
    line = classify(raw)
    attrs = parse_attributes(line.value, line.number)
    changes: dict[str, str | None] = {}
    for name in names:
        old_value = attrs.get(name)
        new_value = rewrite(old_value) if old_value else None
        if new_value is not None and new_value != old_value:
            changes[name] = new_value
    return tag(line.name, attrs.replace(changes).format(), crlf=crlf) if changes else raw


def _rewrite_line(
    line: Line, uris: Mapping[str, tuple[str, ...]], rewrite: Rewrite, crlf: bool
) -> Line:
    raw = _rewrite_raw(line.raw, uris, rewrite, crlf)
    return line if raw is line.raw else classify(raw)


def _rewrite_item(
    item: Item, uris: Mapping[str, tuple[str, ...]], rewrite: Rewrite, crlf: bool
) -> Item:
    if isinstance(item, Variant):
        uri_line = _rewrite_line(item.uri_line, uris, rewrite, crlf)
        return item if uri_line is item.uri_line else item._replace(uri_line=uri_line)
    return _rewrite_line(item, uris, rewrite, crlf)


def _rewrite_segment(
    segment: Segment, uris: Mapping[str, tuple[str, ...]], rewrite: Rewrite, crlf: bool
) -> Segment:
    raw, uri, duration, title, discontinuity, number = segment
    if len(raw) == 2:  # EXTINF and URI: the common case, kept short (runs per segment)
        new = rewrite(uri)
        if new is None or new == uri:
            return segment
        pair = (raw[0], new + "\r" if crlf else new)
        return Segment(pair, new, duration, title, discontinuity, number)
    lines = tuple(_rewrite_raw(line, uris, rewrite, crlf) for line in raw)
    if lines == raw:
        return segment
    return Segment(lines, lines[-1].strip(), duration, title, discontinuity, number)


def _rewrite_media(
    playlist: MediaPlaylist, uris: Mapping[str, tuple[str, ...]], rewrite: Rewrite
) -> MediaPlaylist:
    crlf = playlist.crlf
    head = tuple(_rewrite_raw(raw, uris, rewrite, crlf) for raw in playlist.head)
    segments = tuple(_rewrite_segment(s, uris, rewrite, crlf) for s in playlist.segments)
    tail = tuple(_rewrite_raw(raw, uris, rewrite, crlf) for raw in playlist.tail)
    if (head, segments, tail) == (playlist.head, playlist.segments, playlist.tail):
        return playlist
    return playlist.evolve(head=head, segments=segments, tail=tail)


def _rewrite_multivariant(
    playlist: MultivariantPlaylist, uris: Mapping[str, tuple[str, ...]], rewrite: Rewrite
) -> MultivariantPlaylist:
    items = tuple(_rewrite_item(item, uris, rewrite, playlist.crlf) for item in playlist.items)
    return playlist if items == playlist.items else playlist.evolve(items=items)


def _check_ports(*urls: str | None) -> None:
    for url in urls:
        try:
            _ = urlsplit(url or "").port
        except ValueError as exc:  # a port out of range or not a number
            raise EditError(f"{url}: {exc}") from None


# -- SegmentBase, ResolveUris ------------------------------------------------------------


class SegmentBase(Edit, tag="segment_base", frozen=True):
    """Point a media playlist's segments, EXT-X-KEY, EXT-X-MAP, EXT-X-PART and
    EXT-X-PRELOAD-HINT URIs at ``base`` (a CDN host, optionally with a path prefix): each is
    resolved against ``playlist_url`` and, when on the playlist's own origin, its path and
    query are put under ``base``. URIs on other hosts (an ad CDN, a key server) are left
    absolute as they are."""

    playlist_url: Url
    base: BaseUrl

    def __post_init__(self) -> None:
        _check_ports(self.playlist_url, self.base)


def apply_segment_base(playlist: MediaPlaylist, edit: SegmentBase) -> MediaPlaylist:
    return _rewrite_media(playlist, MEDIA_URIS, Rebase(edit.playlist_url, edit.base))


class ResolveUris(Edit, tag="resolve_uris", frozen=True):
    """Make every relative URI absolute against ``playlist_url``: in a media playlist the
    ones ``SegmentBase`` covers plus EXT-X-DATERANGE X-ASSET-LIST/X-ASSET-URI, in a
    multivariant playlist the variant, rendition, I-frame, session data, session key and
    content steering URIs."""

    playlist_url: Url

    def __post_init__(self) -> None:
        _check_ports(self.playlist_url)


def apply_resolve_uris(playlist: Playlist, edit: ResolveUris) -> Playlist:
    resolve = Resolver(edit.playlist_url)
    if isinstance(playlist, MediaPlaylist):
        return _rewrite_media(playlist, INLINED_MEDIA_URIS, resolve)
    return _rewrite_multivariant(playlist, MULTIVARIANT_URIS, resolve)


# -- ProxyChildUris ----------------------------------------------------------------------


class ProxyChildUris(Edit, tag="proxy_child_uris", frozen=True):
    """Send a multivariant playlist's child playlists through the edge with the session
    token (DESIGN §2: session propagation).

    Every variant, rendition and I-frame playlist URI is resolved against ``playlist_url``.
    One under ``origin_base`` (default: the origin of ``playlist_url``) becomes
    ``edge_base`` + the rest of its path, its query kept, with ``token_param=token``
    appended in place of any parameter of that name. Others stay absolute, untouched.
    Session data, session key and content steering URIs stay on the origin, made absolute.
    """

    playlist_url: Url
    edge_base: EdgeBase
    token_param: ParamName
    token: Annotated[str, msgspec.Meta(min_length=1)]
    origin_base: BaseUrl | None = None

    def __post_init__(self) -> None:
        _check_ports(self.playlist_url, self.edge_base, self.origin_base)


def apply_proxy_child_uris(
    playlist: MultivariantPlaylist, edit: ProxyChildUris
) -> MultivariantPlaylist:
    template = proxy_template(
        playlist, edit.playlist_url, edit.edge_base, edit.token_param, edit.origin_base
    )
    return template.fill(edit.token)


class ProxyTemplate(NamedTuple):
    """A proxied playlist waiting for its token: ``playlist`` has SLOT where the token
    goes, on the items at ``slots``; ``chunks`` is its rendering split at SLOT."""

    playlist: MultivariantPlaylist
    slots: tuple[int, ...]
    chunks: tuple[bytes, ...]

    def fill(self, token: str) -> MultivariantPlaylist:
        if not self.slots:
            return self.playlist
        value = quote(token, safe="")
        items = list(self.playlist.items)
        for i in self.slots:
            items[i] = _fill(items[i], value)
        return self.playlist.evolve(items=tuple(items))

    def render(self, token: str) -> bytes:
        """``render(self.fill(token))``, as one join."""
        return quote(token, safe="").encode().join(self.chunks)


def _fill(item: Item, value: str) -> Item:
    # Plain constructors rather than _replace: this runs per viewer and per child URI.
    if isinstance(item, Variant):
        return Variant(item.tag, item.between, _fill_line(item.uri_line, value))
    return _fill_line(item, value)


def _fill_line(line: Line, value: str) -> Line:
    raw, text = line.raw.replace(SLOT, value), line.value.replace(SLOT, value)
    return Line(raw, line.kind, line.name, text, line.number)


@lru_cache(maxsize=256)
def proxy_template(
    playlist: MultivariantPlaylist,
    playlist_url: str,
    edge_base: str,
    token_param: str,
    origin_base: str | None = None,
) -> ProxyTemplate:
    """The per-playlist part of ``ProxyChildUris`` (cached: it does not depend on the
    viewer)."""
    resolve = Resolver(playlist_url)
    if origin_base is None:
        base = root_of(playlist_url, with_path=False)
    else:
        base = root_of(origin_base, with_path=True)
    child = _Proxy(resolve, base, edge_base, token_param)
    crlf = playlist.crlf
    items: list[Item] = []
    for item in playlist.items:
        if isinstance(item, Variant) or item.name in CHILD_URIS:
            items.append(_rewrite_item(item, CHILD_URIS, child, crlf))
        else:
            items.append(_rewrite_item(item, ORIGIN_URIS, resolve, crlf))
    proxied = playlist.evolve(items=tuple(items))
    slots = tuple(i for i, item in enumerate(items) if SLOT in _uri_text(item))
    return ProxyTemplate(proxied, slots, tuple(render(proxied).split(SLOT.encode())))


def _uri_text(item: Item) -> str:
    return item.uri_line.raw if isinstance(item, Variant) else item.raw


class _Proxy:
    __slots__ = ("edge", "param", "resolve", "root")

    def __init__(self, resolve: Resolver, root: Root, edge_base: str, param: str) -> None:
        self.resolve = resolve
        self.root = root
        self.edge = edge_base.rstrip("/")
        self.param = param

    def __call__(self, ref: str) -> str | None:
        absolute = self.resolve(ref)
        if absolute is None:
            return None
        rest = under(self.root, absolute)
        return absolute if rest is None else self.edge + _with_token(rest, self.param)


def _with_token(path: str, param: str) -> str:
    """``path`` with ``param=SLOT`` as its last query parameter, replacing any other."""
    path, hash_, fragment = path.partition("#")
    path, _, query = path.partition("?")
    pairs = [pair for pair in query.split("&") if pair.split("=", 1)[0] != param] if query else []
    pairs.append(f"{param}={SLOT}")
    return f"{path}?{'&'.join(pairs)}{hash_}{fragment}"
