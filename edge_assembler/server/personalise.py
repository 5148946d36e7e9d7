"""Per-viewer manifests: the personalisation pipeline of the manifest route (DESIGN §2, §4).

One request, with the active rules snapshot and a 2xx origin manifest::

    session (token or request) -> parsed model (shared per origin body version) -> facts
    -> decide -> fetch needs (manifest cache, concurrently, each with asset_timeout)
    -> cohort output (apply -> invariant check -> render, once per equal plan) -> answer

* Session (DESIGN §2 "Session propagation"): a request carrying the token parameter is
  the session the token describes (a bad token is a 403 naming the reason); any other
  starts a session from its own query and headers. A multivariant playlist sends every
  child playlist through the edge with the session's token.
* Cohorts (DESIGN §4 "Cohort output cache"): equal plans over the same origin version and
  asset versions share one apply, check and render; only the token is per viewer (a join
  of the rendered chunks).
* Fail open (DESIGN §4): a malformed origin manifest, an error in decide or apply, a new
  kind of invariant violation, or a request past ``[personalise].deadline`` serves the
  origin manifest (a multivariant one still with proxied, tokened child URIs). An asset
  that is missing, late or not a manifest drops the edits that need it and keeps the
  rest. Each is counted in ``fail_open{reason}`` and logged once per reason and stream.
* Interstitials (``with_asset_lists``): an interstitial asset named by an edge path is
  scheduled through an asset list the edge serves (``server.interstitials``).
* Sources (``server.sources``): the parsed models and the asset manifests, an ad's
  rendition matched to the content's.
"""

import asyncio
import gzip
import hashlib
import logging
import posixpath
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, TypeVar
from urllib.parse import unquote, urlencode

import msgspec
from aiohttp import web
from cachetools import LRUCache

from edge_assembler.bundles.manager import ActiveBundle
from edge_assembler.config import NodeConfig
from edge_assembler.core.dash import edits as dash_edits
from edge_assembler.core.dash.model import Mpd
from edge_assembler.core.dash.render import render as render_mpd
from edge_assembler.core.edits import AnyEdit, apply, needs
from edge_assembler.core.edits.interstitials import AddInterstitial
from edge_assembler.core.edits.live_replace import LiveReplace
from edge_assembler.core.edits.uris import ProxyTemplate, proxy_template
from edge_assembler.core.freshness import parse_cache_control
from edge_assembler.core.hls.model import MediaPlaylist, MultivariantPlaylist
from edge_assembler.core.hls.render import render as render_playlist
from edge_assembler.core.routing import OriginRoute, Router, Upstream
from edge_assembler.core.rules import Decision, ManifestFacts, dash_facts, decide, hls_facts
from edge_assembler.core.session import TokenError, issue_token, read_token
from edge_assembler.core.viewer import (
    CHOICE_PREFIX,
    QUERY_PARAMS,
    ContextInputs,
    context as viewer_context,
    inputs_from_request,
)
from edge_assembler.metrics import Metrics
from edge_assembler.origin.cache import Entry, Lookup, ManifestCache
from edge_assembler.server.live import LiveBreaks, LivePlan, without_replacements
from edge_assembler.server.sources import (
    Content,
    FailOpen,
    Manifests,
    Model,
    Reason,
    Version,
    check,
    rule_of,
)

log = logging.getLogger("edge_assembler.personalise")

_M = TypeVar("_M", MediaPlaylist, Mpd)
_DASH_TYPE = "application/dash+xml"
_LOGGED_KEPT = 10_000  # (reason, stream) pairs remembered as logged
# RFC 8216 §6.3.3: a player starts no closer to the live edge than three target durations.
HOLD_BACK_TARGETS = 3
ASSET_LIST_PATH = "/interstitials/assets.json"  # below the admin prefix (server.interstitials)


@dataclass(frozen=True, slots=True)
class Session:
    """The viewer of one manifest request; ``token`` is the one the request carried."""

    inputs: ContextInputs
    token: str | None


@dataclass(slots=True)
class Rendered:
    """A personalised body, gzip-compressed at most once."""

    body: bytes
    _gzipped: bytes | None = field(default=None, init=False)

    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped


@dataclass(frozen=True, slots=True)
class Answer:
    """How the manifest route answers. ``rendered`` replaces the origin's body (None: the
    origin's body); ``cache_control`` replaces the origin's caching headers and validators
    (None: the origin's stay, an empty plan), with ``etag`` as the only validator.
    ``plan`` is the rules' decision, when they decided (its trace is computed only when
    read: the debug endpoint); ``vary``, the request headers its context came from.

    Caching (RFC 9111 §5.2.2.7, RFC 9110 §12.5.5): an answer to a request with a session
    token depends on the token alone, but the token is the session's: ``private``. One
    without a token is decided by its URL and the context headers, so unless the session
    id chose part of the plan (a cohort, a rotation), every viewer sending the same URL and
    headers gets it: ``public`` with ``Vary`` on those headers. A degraded answer (an
    asset dropped, or fail open) is ``no-store``."""

    decision: str  # the X-Edge-Decision value
    rendered: Rendered | None = None
    etag: str | None = None
    cache_control: str | None = None
    plan: Decision | None = None
    vary: tuple[str, ...] = ()  # request headers the answer depends on


# A cohort's output: the bytes, or a multivariant playlist waiting for the viewer's token.
_Output = Rendered | ProxyTemplate
# (origin URL, origin body version, plan fingerprint, (source key, version or None)...)
_CohortKey = tuple[str, str, str, tuple[tuple[str, str | None], ...]]


@dataclass(frozen=True, slots=True)
class _Sources:
    models: dict[str, Model]
    versions: tuple[tuple[str, str | None], ...]
    dropped: tuple[tuple[str, Reason], ...]  # (source key, why)


class _Budget:
    """The request's deadline over its CPU stages; fetches do not count (they have their
    own timeouts)."""

    __slots__ = ("deadline", "since", "spent")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.spent = 0.0
        self.since: float | None = time.perf_counter()

    def pause(self) -> None:
        if self.since is not None:
            self.spent += time.perf_counter() - self.since
            self.since = None

    def resume(self) -> None:
        self.since = time.perf_counter()

    def check(self, stage: str) -> None:
        self.pause()
        self.resume()
        if self.spent > self.deadline:
            raise FailOpen(
                "deadline", f"{self.spent * 1000:.1f} ms after {stage}, over the deadline"
            )


class Personaliser:
    """The pipeline of one node: its caches, session keys and settings."""

    def __init__(self, config: NodeConfig, metrics: Metrics, router: Router) -> None:
        self._settings = config.personalise
        self._session = config.session
        self._metrics = metrics
        self._admin_prefix = config.admin_prefix
        self._keys = config.session.keyring()
        self._active = config.session.active_key
        self._manifests = Manifests(self._settings, metrics, router, config.admin_prefix)
        self._cohorts: LRUCache[_CohortKey, _Output] = LRUCache(self._settings.cohort_renders)
        self._live = LiveBreaks(config.live, metrics)
        self._logged: LRUCache[tuple[str, str], bool] = LRUCache(_LOGGED_KEPT)

    async def close(self) -> None:
        await self._live.close()

    # -- session -------------------------------------------------------------------------

    def _keyring(self) -> Mapping[str, bytes]:
        """The session keys; with none configured, a random key of this process, made on
        first use."""
        if not self._keys:
            self._active = "local"
            self._keys = {self._active: secrets.token_bytes(32)}
            log.warning(
                "no [session] keys configured: signing session tokens with a random key of "
                "this process (tokens do not survive a restart nor reach other nodes)"
            )
        return self._keys

    def session(self, request: web.Request) -> Session:
        """The request's session: from its token, else from its own query and headers.
        A token that does not check out is a 403 naming the reason (never a 500)."""
        now = datetime.now(UTC)
        token = request.query.get(self._session.param)
        if token is not None:
            try:
                inputs = read_token(token, self._keyring(), now=int(now.timestamp()))
            except TokenError as exc:
                self._metrics.rejected.labels(exc.reason).inc()
                log.info("refused session token for %s: %s", request.path[:200], exc)
                raise web.HTTPForbidden(
                    text=f"403 {exc}\n",
                    headers={"X-Edge-Error": exc.reason, "Cache-Control": "no-store"},
                ) from None
            return Session(inputs, token)
        inputs = inputs_from_request(
            _raw_path(request),
            request.query,
            request.headers,
            geo_header=self._session.geo_header,
            now=now,
            new_sid=secrets.token_urlsafe(12),
        )
        return Session(inputs, None)

    def origin_upstream(
        self, upstream: Upstream, session: Session | None = None, path: str = ""
    ) -> Upstream:
        """``upstream`` without the edge's own query parameters (the token and the context
        parameters): the origin never sees them, and viewers share its cache entries. A
        session's LL-HLS parameters for the playlist at ``path`` are translated to the
        origin's numbering (``LiveBreaks.origin_query``)."""
        url, _, query = upstream.url.partition("?")
        if not query:
            return upstream
        kept = [pair for pair in query.split("&") if not self._edge_param(pair)]
        if session is not None and session.token is not None:
            kept = self._live.origin_query(session.token, path, kept)
        return Upstream(upstream.route, f"{url}?{'&'.join(kept)}" if kept else url)

    def _vary(self, request: web.Request) -> tuple[str, ...]:
        """The headers a session started by ``request`` took facts from: those its query
        did not override (``core.viewer``), and the geo header."""
        query = request.query
        vary = [] if "lang" in query else ["Accept-Language"]
        if "device" not in query:
            vary.append("User-Agent")
        vary.append(self._session.geo_header)
        return tuple(vary)

    def _edge_param(self, pair: str) -> bool:
        name = unquote(pair.partition("=")[0])
        return name == self._session.param or name in QUERY_PARAMS or name.startswith(CHOICE_PREFIX)

    # -- the pipeline --------------------------------------------------------------------

    async def answer(
        self,
        request: web.Request,
        upstream: Upstream,
        lookup: Lookup,
        snap: ActiveBundle,
        session: Session,
        cache: ManifestCache,
    ) -> Answer | None:
        """The personalised answer to a manifest request; None when the origin's answer is
        not a 2xx (it is passed on as it is)."""
        entry = lookup.entry
        if not 200 <= entry.status < 300:
            return None
        version: Version | None = None
        token: str | None = None
        try:
            version = self._manifests.version(entry, _format(request.path, entry))
            if isinstance(version.model, MultivariantPlaylist):
                token = session.token or self._issue(session.inputs)
            return await self._personalise(
                request, upstream, entry, version, snap, session, token, cache
            )
        except FailOpen as exc:
            self._fail_open(exc, request.path)
            return self._origin_answer(snap, exc.reason, upstream, entry, version, token)

    async def _personalise(
        self,
        request: web.Request,
        upstream: Upstream,
        entry: Entry,
        version: Version,
        snap: ActiveBundle,
        session: Session,
        token: str | None,
        cache: ManifestCache,
    ) -> Answer:
        budget = _Budget(self._settings.deadline)
        try:
            model = version.model
            raw_path = _raw_path(request)
            live = False
            if isinstance(model, MultivariantPlaylist):
                budget.pause()
                live = await self._manifests.live(model, raw_path, cache)
                budget.resume()
            rendition = _rendition(raw_path, session.inputs.master)
            facts = _facts(model, request.path, rendition, live)
            ctx = viewer_context(session.inputs, path=request.path, now=datetime.now(UTC))
            try:
                decision = decide(facts, ctx, snap.rules)
            except Exception as exc:
                raise FailOpen("rules_error", f"decide failed: {exc!r}") from exc
            budget.check("decide")
            budget.pause()
            if isinstance(model, MediaPlaylist) and model.live:
                decision = await self._live_decision(decision, model, entry, facts, session, snap)
            content = Content(raw_path, session.inputs.master, model)
            sources = await self._fetch(decision.needs, content, request.path, cache)
            budget.resume()
            if session.token is not None:
                self._remember_numbering(session.token, request.path, decision, sources)
            edits = with_asset_lists(_without(decision.edits, sources.dropped), self._admin_prefix)
            # Without a token, the URL and the context headers decide the plan.
            tokened = token is not None or session.token is not None
            vary = () if tokened else self._vary(request)
            if not edits and token is None:
                # An empty plan leaves the origin's body (and, unless another session's
                # plan is not empty, its caching headers).
                decided = _decision(snap, decision, sources)
                if sources.dropped:  # a degraded answer is not stored anywhere
                    return Answer(
                        decided, etag=entry.etag, cache_control="no-store", plan=decision, vary=vary
                    )
                if decision.by_session:
                    return Answer(
                        decided,
                        etag=entry.etag,
                        cache_control=_lifetime(entry, "private"),
                        plan=decision,
                        vary=vary,
                    )
                return Answer(decided, plan=decision, vary=vary)
            key: _CohortKey = (upstream.url, entry.etag, decision.fingerprint, sources.versions)
            output = self._cohorts.get(key)
            if output is None:
                self._metrics.cohort_renders.labels("miss").inc()
                output = self._render(version, edits, sources.models, upstream, budget)
                self._cohorts[key] = output
            else:
                self._metrics.cohort_renders.labels("hit").inc()
        finally:
            budget.pause()
            self._metrics.personalise_duration.observe(budget.spent)
        if isinstance(output, ProxyTemplate):
            assert token is not None  # a multivariant playlist always has one
            rendered = Rendered(output.render(token))
        else:
            rendered = output
        if sources.dropped:
            cache_control = "no-store"
        elif not (tokened or decision.by_session):
            cache_control = _lifetime(entry, "public")
        else:
            cache_control = _lifetime(entry, "private")
        return Answer(
            _decision(snap, decision, sources),
            rendered,
            etag=_etag(entry, snap, key),
            cache_control=cache_control,
            plan=decision,
            vary=vary,
        )

    async def _live_decision(
        self,
        decision: Decision,
        model: MediaPlaylist,
        entry: Entry,
        facts: ManifestFacts,
        session: Session,
        snap: ActiveBundle,
    ) -> Decision:
        """A live media playlist's plan with its breaks replaced from the stream's history
        (``server.live``): a session's, through its token; without one, not at all."""
        edits = without_replacements(decision.edits)
        plan: LivePlan | None = None
        if session.token is not None:
            history = await self._live.history(session.inputs.master, entry.etag, model)
            plan = self._live.plan(
                history,
                facts,
                session.inputs,
                session.token,
                snap.rules,
                snap.revision,
                hold_back=HOLD_BACK_TARGETS * model.target_duration,
            )
        if plan is None:
            if len(edits) == len(decision.edits):
                return decision
            wanted = {k: decision.needs[k] for k in needs(edits) if k in decision.needs}
            return decision.amended(edits, wanted, decision.fired, _fingerprint(edits))
        edits = (plan.edit, *edits)
        known = {**decision.needs, **plan.needs}
        wanted = {k: known[k] for k in needs(edits) if k in known}
        fired = tuple(dict.fromkeys((*decision.fired, *plan.fired)))
        return decision.amended(edits, wanted, fired, _fingerprint(edits))

    def _remember_numbering(
        self, token: str, path: str, decision: Decision, sources: _Sources
    ) -> None:
        for edit in decision.edits:
            if isinstance(edit, LiveReplace) and not sources.dropped:
                self._live.remember(token, path, edit, _only(sources.models, MediaPlaylist))

    def _render(
        self,
        version: Version,
        edits: tuple[AnyEdit, ...],
        sources: Mapping[str, Model],
        upstream: Upstream,
        budget: _Budget,
    ) -> _Output:
        """Apply, check and render one cohort's plan (DESIGN §4 "Invariant check"). Any
        error here, expected (an EditError) or not, fails open: the origin still plays."""
        model = version.model
        try:
            if isinstance(model, Mpd):
                edited: Model = dash_edits.apply(model, edits, _only(sources, Mpd))
            else:
                edited = apply(model, edits, _only(sources, MediaPlaylist))
            budget.check("apply")
            if isinstance(edited, MultivariantPlaylist):
                route = upstream.route
                return proxy_template(
                    edited, upstream.url, _edge_base(route), self._session.param, route.base
                )
            new = [p for p in check(edited) if rule_of(p) not in version.problems()]
            if new:
                raise FailOpen("invariant", "; ".join(new[:3]))
            budget.check("check")
            data = render_mpd(edited) if isinstance(edited, Mpd) else render_playlist(edited)
        except FailOpen:
            raise
        except Exception as exc:
            raise FailOpen("edit_error", f"{type(exc).__name__}: {exc}") from exc
        return Rendered(data)

    # -- sources -------------------------------------------------------------------------

    async def _fetch(
        self, wanted: Mapping[str, str], content: Content, stream: str, cache: ManifestCache
    ) -> _Sources:
        """The manifests the plan needs, concurrently; one that is missing, late or not a
        manifest is dropped (its edits go, the rest stay)."""
        keys = list(wanted)
        if len(keys) == 1:  # the usual plan: one pod source, no task to gather
            results = [await self._manifests.source(wanted[keys[0]], content, cache)]
        else:
            results = await asyncio.gather(
                *(self._manifests.source(wanted[k], content, cache) for k in keys)
            )
        models: dict[str, Model] = {}
        versions: list[tuple[str, str | None]] = []
        dropped: list[tuple[str, Reason]] = []
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, FailOpen):
                self._fail_open(result, stream, source=key)
                dropped.append((key, result.reason))
                versions.append((key, None))
            else:
                models[key] = result[1].model
                versions.append((key, result[0]))
        return _Sources(models, tuple(versions), tuple(dropped))

    # -- shared parses, answers, bookkeeping ---------------------------------------------

    def _issue(self, inputs: ContextInputs) -> str:
        key = self._keyring()[self._active]
        expires = int(time.time() + self._session.ttl)
        return issue_token(inputs, key_id=self._active, key=key, expires=expires)

    def _origin_answer(
        self,
        snap: ActiveBundle,
        reason: Reason,
        upstream: Upstream,
        entry: Entry,
        version: Version | None,
        token: str | None,
    ) -> Answer:
        """The origin manifest, unmodified but for a multivariant playlist's child URIs,
        still sent through the edge with the token when it parsed."""
        decision = f"rev={snap.revision}; fail-open={reason}"
        model = version.model if version is not None else None
        if token is None or not isinstance(model, MultivariantPlaylist):
            return Answer(decision, etag=entry.etag, cache_control="no-store")
        route = upstream.route
        template = proxy_template(
            model, upstream.url, _edge_base(route), self._session.param, route.base
        )
        return Answer(decision, Rendered(template.render(token)), cache_control="no-store")

    def _fail_open(self, exc: FailOpen, stream: str, *, source: str | None = None) -> None:
        self._metrics.fail_open.labels(exc.reason).inc()
        seen = (exc.reason, stream)
        if seen not in self._logged:
            self._logged[seen] = True
            what = f"asset {source} dropped" if source is not None else "origin manifest served"
            log.warning("fail open (%s) for %s: %s: %s", exc.reason, stream[:200], what, exc)


def with_asset_lists(edits: Iterable[AnyEdit], prefix: str) -> tuple[AnyEdit, ...]:
    """``edits`` with every interstitial whose asset URI is an edge path scheduled through
    an asset list of this edge; other edits unchanged."""
    return tuple(_listed(edit, prefix) for edit in edits)


def _listed(edit: AnyEdit, prefix: str) -> AnyEdit:
    if not isinstance(edit, AddInterstitial):
        return edit
    if edit.pod:  # a live break's pod, back to back
        if not all(_edge_path(a.uri) for a in edit.pod):
            return edit
        pairs = [p for a in edit.pod for p in (("uri", a.uri), ("duration", f"{a.duration:g}"))]
        url = f"{prefix}{ASSET_LIST_PATH}?{urlencode(pairs)}"
        return msgspec.structs.replace(edit, pod=(), asset_list=url)
    uri = edit.asset_uri
    if uri is None or not _edge_path(uri):
        return edit
    single = {"uri": uri}
    if edit.duration is not None:
        single["duration"] = f"{edit.duration:g}"
    url = f"{prefix}{ASSET_LIST_PATH}?{urlencode(single)}"
    return msgspec.structs.replace(edit, asset_uri=None, asset_list=url)


def _edge_path(uri: str) -> bool:
    return uri.startswith("/") and not uri.startswith("//")


def _format(path: str, entry: Entry) -> str:
    content_type = (entry.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    is_dash = content_type == _DASH_TYPE or path.lower().endswith(".mpd")
    return "dash" if is_dash else "hls"


def _raw_path(request: web.Request) -> str:
    return request.raw_path.partition("?")[0]


def _rendition(path: str, master: str) -> str | None:
    """The media playlist's path relative to its presentation ("720p/index.m3u8"): below
    the directory of the master the session started at; for a playlist requested
    without a session, below its directory's parent (<presentation>/<rendition>/<file>)."""
    if master != path:
        base = posixpath.dirname(master)
    else:
        base = posixpath.dirname(posixpath.dirname(path))
    prefix = base.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) and len(path) > len(prefix) else None


def _facts(model: Model, path: str, rendition: str | None, live: bool) -> ManifestFacts:
    if isinstance(model, Mpd):
        return dash_facts(model, path=path)
    if isinstance(model, MediaPlaylist):
        return hls_facts(model, path=path, rendition=rendition)
    return hls_facts(model, path=path, live=live)


def _without(
    edits: Sequence[AnyEdit], dropped: Sequence[tuple[str, Reason]]
) -> tuple[AnyEdit, ...]:
    """The edits that need none of the ``dropped`` sources."""
    if not dropped:
        return tuple(edits)
    gone = {key for key, _ in dropped}
    return tuple(e for e in edits if gone.isdisjoint(needs((e,))))


def _only(sources: Mapping[str, Model], kind: type[_M]) -> dict[str, _M]:
    return {k: v for k, v in sources.items() if isinstance(v, kind)}


def _edge_base(route: OriginRoute) -> str:
    """The edge path the route's origin base is served at."""
    return route.prefix.rstrip("/") if route.strip_prefix else ""


def _decision(snap: ActiveBundle, decision: Decision, sources: _Sources) -> str:
    """``X-Edge-Decision``: bundle revision, rules fired, plan fingerprint (12 hex)."""
    fired = ",".join(decision.fired)
    value = f"rev={snap.revision}; rules={fired}; plan={decision.fingerprint[:12]}"
    if not sources.dropped:
        return value
    return f"{value}; dropped={','.join(f'{key}:{why}' for key, why in sources.dropped)}"


def _fingerprint(edits: tuple[AnyEdit, ...]) -> str:
    """The fingerprint of a plan the shell completed (``Decision.fingerprint`` otherwise)."""
    return hashlib.blake2b(msgspec.json.encode(edits), digest_size=16).hexdigest()


def _etag(entry: Entry, snap: ActiveBundle, key: _CohortKey) -> str:
    """A weak validator of the origin version, the bundle revision and the cohort (plan
    and asset versions): viewers of a cohort differ only in their token."""
    cohort = hashlib.blake2b(repr(key[2:]).encode(), digest_size=8).hexdigest()
    return f'W/"{entry.etag.strip(chr(34))}-r{snap.revision}-{cohort}"'


def _lifetime(entry: Entry, scope: Literal["public", "private"]) -> str:
    """``scope`` with the origin's lifetime (its max-age, else the cache's TTL); an origin
    answer that is ``private`` or ``no-store`` stays so."""
    directives = parse_cache_control(entry.headers.get("Cache-Control"))
    if directives.private:
        scope = "private"
    if directives.no_store:
        return f"{scope}, no-store"
    max_age = directives.max_age
    if max_age is None:
        max_age = max(0, int(entry.fresh_until - entry.stored_at))
    return f"{scope}, max-age={max_age}"
