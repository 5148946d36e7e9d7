"""The origin manifest cache: freshness from the origin's headers, ETag/Last-Modified
revalidation, one origin fetch per URL however many viewers ask at once (single-flight),
bounded stale-if-error, and a cap on entries and bytes.

A fetch runs in its own task; each waiter awaits it through ``asyncio.shield`` so a viewer
who disconnects cancels nobody else's request, and the fetch still fills the cache.
"""

import asyncio
import gzip
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cachetools import LRUCache
from multidict import CIMultiDict

from edge_assembler.core.errors import OriginError
from edge_assembler.core.freshness import CachePolicy, freshness
from edge_assembler.metrics import Metrics
from edge_assembler.origin.client import Fetched
from edge_assembler.tasks import spawn

log = logging.getLogger(__name__)

Fetch = Callable[[int, str, Sequence[tuple[str, str]]], Awaitable[Fetched]]

# Origin headers kept with a cached manifest and repeated to clients.
_KEPT_HEADERS = (
    "Content-Type",
    "Cache-Control",
    "Last-Modified",
    "Expires",
    "Content-Language",
)
_ENTRY_OVERHEAD = 512


class CacheStatus(StrEnum):
    HIT = "HIT"
    MISS = "MISS"
    EXPIRED = "EXPIRED"  # was cached, refetched in full
    REVALIDATED = "REVALIDATED"  # was cached, origin said 304
    STALE = "STALE"  # origin failed; served within stale-if-error


@dataclass(slots=True)
class Entry:
    status: int
    headers: CIMultiDict[str]
    body: bytes
    store: bool
    stored_at: float
    fresh_until: float
    stale_until: float
    etag: str = field(init=False)
    _gzipped: bytes | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        digest = hashlib.blake2b(self.body, digest_size=12).hexdigest()
        self.etag = f'"{digest}"'

    def gzipped(self) -> bytes:
        """The body gzip-compressed, computed once per entry."""
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped

    @property
    def size(self) -> int:
        return len(self.body) + len(self._gzipped or b"") + _ENTRY_OVERHEAD


@dataclass(frozen=True, slots=True)
class Lookup:
    entry: Entry
    status: CacheStatus
    origin_seconds: float | None  # None when no origin request was made for this answer


class ManifestCache:
    def __init__(
        self,
        fetch: Fetch,
        policy: CachePolicy,
        *,
        max_entries: int,
        max_bytes: int,
        clock: Callable[[], float],
        metrics: Metrics,
        user_agent: str,
    ) -> None:
        self._fetch = fetch
        self._policy = policy
        self._max_entries = max_entries
        self._entries: LRUCache[str, Entry] = LRUCache(max_bytes, getsizeof=_entry_size)
        self._inflight: dict[str, asyncio.Task[Lookup]] = {}
        self._clock = clock
        self._metrics = metrics
        self._user_agent = user_agent

    def age(self, entry: Entry) -> float:
        """Seconds since the entry was fetched or last revalidated."""
        return self._clock() - entry.stored_at

    async def get(self, origin: int, url: str) -> Lookup:
        """The manifest at ``url``, from the cache when fresh, else from one shared fetch."""
        entry = self._entries.get(url)
        if entry is not None and self._clock() < entry.fresh_until:
            self._metrics.cache_lookups.labels("hit").inc()
            return Lookup(entry, CacheStatus.HIT, None)
        task = self._inflight.get(url)
        if task is None:
            task = spawn(self._refresh(origin, url, entry))
            self._inflight[url] = task
            task.add_done_callback(lambda done: self._forget(url, done))
            return await asyncio.shield(task)
        self._metrics.coalesced.inc()
        return await asyncio.shield(task)

    def _forget(self, url: str, task: "asyncio.Task[Lookup]") -> None:
        if self._inflight.get(url) is task:
            del self._inflight[url]
        if not task.cancelled():
            task.exception()  # retrieved here too, in case every waiter went away

    def adopt(self, url: str, fetched: Fetched) -> Lookup:
        """Store a response fetched elsewhere (a manifest found by its content type)."""
        entry = self._store(url, fetched)
        self._metrics.cache_lookups.labels("miss").inc()
        return Lookup(entry, CacheStatus.MISS, fetched.elapsed)

    async def _refresh(self, origin: int, url: str, previous: Entry | None) -> Lookup:
        headers = [("User-Agent", self._user_agent), *_validators(previous)]
        try:
            fetched = await self._fetch(origin, url, headers)
        except OriginError as exc:
            return self._stale_or_raise(previous, exc)
        if previous is not None and fetched.status == 304:
            entry = self._revalidated(url, previous, fetched)
            self._metrics.cache_lookups.labels("revalidated").inc()
            return Lookup(entry, CacheStatus.REVALIDATED, fetched.elapsed)
        if fetched.status >= 500 and previous is not None:
            stale = self._stale(previous, f"origin answered {fetched.status}")
            if stale is not None:
                return Lookup(stale, CacheStatus.STALE, fetched.elapsed)
        entry = self._store(url, fetched)
        result = CacheStatus.MISS if previous is None else CacheStatus.EXPIRED
        self._metrics.cache_lookups.labels(result.lower()).inc()
        return Lookup(entry, result, fetched.elapsed)

    def _stale_or_raise(self, previous: Entry | None, exc: OriginError) -> Lookup:
        stale = self._stale(previous, str(exc)) if previous is not None else None
        if stale is None:
            raise exc
        return Lookup(stale, CacheStatus.STALE, None)

    def _stale(self, previous: Entry, why: str) -> Entry | None:
        if self._clock() >= previous.stale_until:
            return None
        self._metrics.cache_lookups.labels("stale").inc()
        log.warning("serving stale manifest: %s", why)
        return previous

    def _store(self, url: str, fetched: Fetched) -> Entry:
        entry = self._entry(fetched.status, fetched.headers, fetched.body)
        self._put(url, entry)
        return entry

    def _revalidated(self, url: str, previous: Entry, fetched: Fetched) -> Entry:
        # RFC 9111 §4.3.4: freshen the stored headers with those the 304 carries.
        headers = previous.headers.copy()
        for name in (*_KEPT_HEADERS, "ETag", "Date", "Age"):
            if (value := fetched.headers.get(name)) is not None:
                headers[name] = value
        entry = self._entry(previous.status, headers, previous.body)
        self._put(url, entry)
        return entry

    def _entry(self, status: int, origin: Mapping[str, str], body: bytes) -> Entry:
        fresh = freshness(
            status,
            origin.get("Cache-Control"),
            self._policy,
            expires=origin.get("Expires"),
            date=origin.get("Date"),
            age=origin.get("Age"),
        )
        now = self._clock()
        return Entry(
            status=status,
            headers=_kept(origin),
            body=body,
            store=fresh.store,
            stored_at=now,
            fresh_until=now + fresh.ttl,
            stale_until=now + fresh.ttl + fresh.stale_if_error,
        )

    def _put(self, url: str, entry: Entry) -> None:
        if entry.store:
            self._entries[url] = entry
            while len(self._entries) > self._max_entries:
                self._entries.popitem()
        else:
            self._entries.pop(url, None)
        self._metrics.cache_entries.set(len(self._entries))
        self._metrics.cache_bytes.set(self._entries.currsize)


def _entry_size(entry: Entry) -> int:
    return entry.size


def _kept(headers: Mapping[str, str]) -> CIMultiDict[str]:
    """The origin headers an entry keeps (its validators and what clients are told)."""
    return CIMultiDict(
        (k, v) for k in (*_KEPT_HEADERS, "ETag") if (v := headers.get(k)) is not None
    )


def _validators(entry: Entry | None) -> list[tuple[str, str]]:
    if entry is None:
        return []
    out = []
    if origin_etag := entry.headers.get("ETag"):
        out.append(("If-None-Match", origin_etag))
    if modified := entry.headers.get("Last-Modified"):
        out.append(("If-Modified-Since", modified))
    return out
