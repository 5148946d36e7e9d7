"""The manifests a personalised answer is made from (README "Personalisation pipeline"
2 and 4, "Ads with their own ladder"): parsed origin body versions, shared by every viewer
of them, and the asset manifests a plan needs, fetched through the manifest cache.

An asset is an edge path (fetched through its route) or an absolute URL under one of the
edge's origins; no other host is asked. An HLS asset named by its multivariant playlist
plays the rendition that matches the content media playlist, found in the session's master
(``core.hls.ladder``); content subtitles whose ad has none get empty WebVTT documents the
edge serves (``server.subtitles``).
"""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeVar
from urllib.parse import urljoin

from cachetools import LRUCache

from edge_assembler.config import Personalise
from edge_assembler.core.dash import invariants as dash_invariants
from edge_assembler.core.dash.model import Mpd
from edge_assembler.core.dash.parse import parse as parse_mpd
from edge_assembler.core.errors import BadRequest, EdgeError, OriginError, OriginTimeout
from edge_assembler.core.hls import invariants as hls_invariants, ladder
from edge_assembler.core.hls.model import MediaPlaylist, MultivariantPlaylist, Playlist
from edge_assembler.core.hls.parse import parse as parse_playlist
from edge_assembler.core.routing import Router, Upstream
from edge_assembler.core.target import parse_target
from edge_assembler.metrics import Metrics
from edge_assembler.origin.cache import Entry, ManifestCache

T = TypeVar("T")
EMPTY_VTT_PATH = "/empty.vtt"  # below the admin prefix (server.subtitles)

Reason = Literal[
    "rules_error",
    "asset_missing",
    "asset_timeout",
    "edit_error",
    "invariant",
    "deadline",
    "bad_manifest",
    "history",
]
Model = Playlist | Mpd


class FailOpen(Exception):
    """Why this request gets the origin manifest (or loses an asset)."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


@dataclass(slots=True)
class Version:
    """One parsed origin body version, shared by every viewer of it."""

    model: Model
    _problems: frozenset[str] | None = None

    def problems(self) -> frozenset[str]:
        """The invariant rules the origin itself breaks (an edit is blamed only for new
        ones; ``core.hls.invariants``)."""
        if self._problems is None:
            self._problems = frozenset(map(rule_of, check(self.model)))
        return self._problems


class Content(NamedTuple):
    """The manifest a request personalises, as its sources need it."""

    path: str  # its raw edge path: relative asset URLs resolve against it
    master: str  # the session's master (``path`` itself for a request without a session)
    model: Model


class Manifests:
    """The parsed models of one node (``personalise.parsed_models`` kept, with the ad
    renditions made from them) and the way to its assets."""

    def __init__(
        self, settings: Personalise, metrics: Metrics, router: Router, admin_prefix: str
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._router = router
        self._admin_prefix = admin_prefix
        self._models: LRUCache[tuple[str, str], Version] = LRUCache(settings.parsed_models)

    def version(self, entry: Entry, fmt: str) -> Version:
        """The parsed model of one origin body, shared by every viewer (DESIGN §4)."""
        key = (fmt, entry.etag)
        version = self._models.get(key)
        if version is not None:
            self._metrics.parsed_models.labels("hit").inc()
            return version
        self._metrics.parsed_models.labels("miss").inc()
        try:
            model: Model = parse_mpd(entry.body) if fmt == "dash" else parse_playlist(entry.body)
        except EdgeError as exc:  # ManifestError
            raise FailOpen("bad_manifest", str(exc)) from exc
        version = self._models[key] = Version(model)
        return version

    async def live(self, master: MultivariantPlaylist, path: str, cache: ManifestCache) -> bool:
        """Whether the presentation of ``master`` (at the edge ``path``) is live, as its
        first variant's media playlist says (RFC 8216bis §4.4.3.4, §4.4.3.5): a
        multivariant playlist does not say it. That playlist is the one a player asks for
        next, so the fetch warms the cache for it. ``FailOpen`` when it cannot be read in
        ``asset_timeout``: a presentation whose first variant is missing does not play."""
        variants = master.variants
        if not variants:
            return False  # nothing to play: no rule about liveness can matter
        uri = variants[0].uri
        name = f"first variant {uri}"
        entry = await self._within(name, self._manifest(uri, urljoin(path, uri), cache))
        model = self.version(entry, "hls").model
        if not isinstance(model, MediaPlaylist):
            raise FailOpen("bad_manifest", f"first variant {uri}: not a media playlist")
        return model.live

    async def source(
        self, url: str, content: Content, cache: ManifestCache
    ) -> tuple[str, Version] | FailOpen:
        """(body version, parsed model) of one asset manifest, or why it is unusable. Every
        fetch the asset takes (an ad master: its rendition too) is within ``asset_timeout``."""
        try:
            return await self._within(url, self._asset(url, content, cache))
        except FailOpen as exc:
            return exc

    async def _within(self, name: str, fetch: Awaitable[T]) -> T:
        """``fetch`` (of the asset ``name``) within ``asset_timeout``: late is
        ``FailOpen("asset_timeout")``."""
        try:
            async with asyncio.timeout(self._settings.asset_timeout):
                return await fetch
        except (TimeoutError, OriginTimeout):
            raise FailOpen("asset_timeout", f"{name}: no answer in time") from None

    async def _asset(self, url: str, content: Content, cache: ManifestCache) -> tuple[str, Version]:
        path = urljoin(content.path, url)
        entry = await self._manifest(url, path, cache)
        dash = isinstance(content.model, Mpd)
        try:
            version = self.version(entry, "dash" if dash else "hls")
        except FailOpen as exc:
            raise FailOpen("rules_error", f"{url}: not a manifest: {exc}") from None
        if isinstance(version.model, MultivariantPlaylist) and isinstance(
            content.model, MediaPlaylist
        ):
            return await self._matched(url, path, entry.etag, version.model, content, cache)
        if not dash and not isinstance(version.model, MediaPlaylist):
            raise FailOpen("rules_error", f"{url}: not a media playlist")
        return entry.etag, version

    async def _manifest(self, name: str, path: str, cache: ManifestCache) -> Entry:
        """The 2xx answer for the edge ``path``, through the manifest cache (an
        ``OriginTimeout`` goes up: the asset is late)."""
        upstream = self._asset_upstream(path)
        if upstream is None:
            raise FailOpen("asset_missing", f"{name}: not served by any origin of this edge")
        try:
            lookup = await cache.get(upstream.route.index, upstream.url)
        except OriginTimeout:
            raise
        except OriginError as exc:
            raise FailOpen("asset_missing", f"{name}: {exc}") from None
        entry = lookup.entry
        if not 200 <= entry.status < 300:
            raise FailOpen("asset_missing", f"{name}: origin answered {entry.status}")
        return entry

    async def _matched(
        self,
        url: str,
        path: str,
        etag: str,
        ad: MultivariantPlaylist,
        content: Content,
        cache: ManifestCache,
    ) -> tuple[str, Version]:
        """The playlist of the ad master ``ad`` (``url``, at ``path``, version ``etag``)
        that plays in place of the content's media playlist, chosen through the session's
        master (``core.hls.ladder``); for content subtitles whose ad has none, the padding
        made of the ad's video segments. Its version covers the ad master, the choice and
        the chosen playlist. Without a session's master (a media playlist requested on its
        own) nothing can be matched: the asset is missing."""
        playlist = content.model
        assert isinstance(playlist, MediaPlaylist)  # only media playlists get here (_asset)
        if content.master == content.path:
            raise FailOpen(
                "asset_missing",
                f"{url}: a multivariant playlist, whose rendition is matched through the "
                f"session's master; {content.path} was requested without one",
            )
        entry = await self._manifest(f"{url}: the session's master", content.master, cache)
        try:
            master = self.version(entry, "hls").model
        except FailOpen as exc:
            raise FailOpen("asset_missing", f"{url}: the session's master: {exc}") from None
        if not isinstance(master, MultivariantPlaylist):
            raise FailOpen("asset_missing", f"{url}: {content.master} is not a master playlist")
        track = ladder.identify(master, content.master, content.path, playlist)
        if track is None:
            raise FailOpen(
                "asset_missing",
                f"{url}: {content.path} is neither listed in {content.master} nor subtitles",
            )
        chosen = ladder.choose(track, ad, path)
        padded = chosen is None and track.kind == "subtitles"
        if padded:
            chosen = ladder.reference(ad, path)
        if chosen is None:
            raise FailOpen("asset_missing", f"{url}: no {track.kind} rendition for {content.path}")
        media = await self._manifest(f"{url}: {chosen}", chosen, cache)
        version = self._rendition_version(media, chosen, padded)
        return f"{etag} {'padding of' if padded else 'as'} {chosen} {media.etag}", version

    def _rendition_version(self, entry: Entry, url: str, padded: bool) -> Version:
        """The ad playlist at ``url`` as a splice reads it: its URIs resolved against its
        own URL, or the empty-WebVTT padding made of it; kept with the parsed models."""
        key = (f"{'padding' if padded else 'rebased'} {url}", entry.etag)
        version = self._models.get(key)
        if version is not None:
            return version
        try:
            model = self.version(entry, "hls").model
        except FailOpen as exc:
            raise FailOpen("rules_error", f"{url}: not a manifest: {exc}") from None
        if not isinstance(model, MediaPlaylist):
            raise FailOpen("rules_error", f"{url}: not a media playlist")
        if padded:
            edited = ladder.padding(model, f"{self._admin_prefix}{EMPTY_VTT_PATH}")
        else:
            edited = ladder.rebased(model, url)
        version = self._models[key] = Version(edited)
        return version

    def _asset_upstream(self, url: str) -> Upstream | None:
        """Where the edge fetches an asset: an edge path by its route, an absolute URL
        when it lies under one of the edge's origins (never another host)."""
        if url.startswith(("http://", "https://")):
            return self._router.for_url(url)
        try:
            target = parse_target(url)
        except BadRequest:
            return None
        return self._router.resolve(target)


def check(model: Model) -> list[str]:
    if isinstance(model, Mpd):
        return dash_invariants.check(model)
    if isinstance(model, MediaPlaylist):
        return hls_invariants.check(model)
    return []


def rule_of(problem: str) -> str:
    """The rule a problem message names ("SPEC_RULES 17: line 9 ..." -> "SPEC_RULES 17")."""
    return problem.partition(":")[0]
