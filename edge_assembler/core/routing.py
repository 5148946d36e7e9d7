"""Which origin serves a path, and what URL the edge asks it for (longest prefix wins)."""

from collections.abc import Sequence
from dataclasses import dataclass

from edge_assembler.core.target import Target

MANIFEST_SUFFIXES = (".m3u8", ".mpd")
MANIFEST_TYPES = frozenset(
    {
        "application/vnd.apple.mpegurl",  # RFC 8216 §4
        "application/x-mpegurl",
        "audio/mpegurl",
        "audio/x-mpegurl",
        "application/dash+xml",  # ISO/IEC 23009-1 Annex C
    }
)


@dataclass(frozen=True, slots=True)
class OriginRoute:
    """One origin mapping: requests under ``prefix`` go to ``base`` (scheme://host[:port]/path)."""

    index: int
    prefix: str
    base: str
    strip_prefix: bool


@dataclass(frozen=True, slots=True)
class Upstream:
    route: OriginRoute
    url: str


class Router:
    def __init__(self, routes: Sequence[OriginRoute]) -> None:
        self._routes = sorted(routes, key=lambda r: len(r.prefix), reverse=True)
        self._by_base = sorted(routes, key=lambda r: len(r.base.rstrip("/")), reverse=True)

    def resolve(self, target: Target) -> Upstream | None:
        """The origin URL for a validated target, or None when no prefix matches."""
        for route in self._routes:
            if _under(target.path, route.prefix):
                path = target.path
                if route.strip_prefix:
                    path = "/" + path[len(route.prefix) :].lstrip("/")
                url = route.base.rstrip("/") + path
                return Upstream(route, f"{url}?{target.query}" if target.query else url)
        return None

    def for_url(self, url: str) -> Upstream | None:
        """The route whose origin base an absolute ``url`` lies under (an asset a rules
        bundle names by its origin URL), asked for as it is; None for any other host:
        the edge fetches only from its own origins."""
        for route in self._by_base:
            base = route.base.rstrip("/")
            if url.startswith((base + "/", base + "?")):
                return Upstream(route, url)
        return None


def _under(path: str, prefix: str) -> bool:
    if prefix.endswith("/"):
        return path.startswith(prefix) or path == prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def is_manifest_path(path: str) -> bool:
    return path.lower().endswith(MANIFEST_SUFFIXES)


def is_manifest_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() in MANIFEST_TYPES
