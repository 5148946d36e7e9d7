"""The break history of live streams (DESIGN §4 "Live in-stream ad replacement needs the
break history").

Output numbering of a replaced live stream follows from the breaks seen so far, so every
reload on every node must see the same list: per stream (never per session), each break
as the edge first saw it in the origin window. The first record of a break id wins and
later ones read it back, so two nodes that see a break at once agree on one record.
A break expires ``ttl`` seconds after it was first seen (``seen_at``), and a stream keeps
its ``max_breaks`` latest breaks (by ``start_msn``).

Two backends: ``MemoryHistory`` (one node) and ``RedisHistory`` (several nodes; survives a
node restart). A Redis that is down or slow raises ``HistoryUnavailable`` within the
configured timeout, and the client reconnects by itself once Redis answers again.
"""

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Annotated, Protocol, TypeVar
from urllib.parse import urlsplit

import msgspec
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from edge_assembler.config import REDACTED, Live

T = TypeVar("T")

NonNegative = Annotated[int, msgspec.Meta(ge=0)]


class SeenBreak(msgspec.Struct, frozen=True, kw_only=True):
    """A break as first seen in the origin window: origin MSN of its first segment, the
    number of origin segments it spans, the planned duration of its fill (None: unknown,
    never replaced), the origin's cue lines (text), when it was seen and when its first
    segment reached the live edge (unix seconds; None: when it was seen)."""

    id: str
    start_msn: NonNegative
    replaced: NonNegative
    duration: Annotated[float, msgspec.Meta(ge=0)] | None = None
    cue: str
    seen_at: float
    started: float | None = None


class HistoryUnavailable(Exception):
    """The shared history cannot be read or written now (the request fails open)."""


class BreakHistory(Protocol):
    async def record(self, stream: str, brk: SeenBreak) -> SeenBreak:
        """Store ``brk`` unless the stream already has a live break of that id; returns
        the stored record (the first writer's, possibly another node's)."""
        ...

    async def breaks(self, stream: str) -> tuple[SeenBreak, ...]:
        """The stream's live breaks, ordered by ``start_msn``."""
        ...

    async def close(self) -> None: ...


def _order(brk: SeenBreak) -> tuple[int, str]:
    return brk.start_msn, brk.id


class MemoryHistory:
    """The history in this process: the ``max_streams`` most recently used streams."""

    def __init__(
        self,
        *,
        ttl: float,
        max_breaks: int,
        max_streams: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ttl = ttl
        self._max_breaks = max_breaks
        self._max_streams = max_streams
        self._clock = clock
        self._streams: OrderedDict[str, dict[str, SeenBreak]] = OrderedDict()

    def _live(self, stream: str) -> dict[str, SeenBreak]:
        """The stream's unexpired breaks by id, marked as most recently used."""
        cutoff = self._clock() - self._ttl
        seen = {k: b for k, b in self._streams.pop(stream, {}).items() if b.seen_at >= cutoff}
        self._streams[stream] = seen
        while len(self._streams) > self._max_streams:
            self._streams.popitem(last=False)
        return seen

    async def record(self, stream: str, brk: SeenBreak) -> SeenBreak:
        seen = self._live(stream)
        stored = seen.setdefault(brk.id, brk)
        for oldest in sorted(seen.values(), key=_order)[: max(0, len(seen) - self._max_breaks)]:
            del seen[oldest.id]
        return stored

    async def breaks(self, stream: str) -> tuple[SeenBreak, ...]:
        if stream not in self._streams:
            return ()  # reading an unknown stream must not evict a known one
        return tuple(sorted(self._live(stream).values(), key=_order))

    async def close(self) -> None:
        self._streams.clear()


# KEYS: the stream's hash (break id -> record JSON) and sorted set (break ids by start MSN).
# ARGV: break id, start MSN, record JSON, expiry cutoff (unix s), max breaks, key TTL (ms).
# A live stored record wins; otherwise the expired records go, the new one is added, the
# lowest start MSNs are trimmed to max breaks and both keys get the TTL again.
_RECORD = """
local hash, order = KEYS[1], KEYS[2]
local cutoff = tonumber(ARGV[4])
local stored = redis.call('HGET', hash, ARGV[1])
if stored and cjson.decode(stored).seen_at >= cutoff then
  return stored
end
local entries = redis.call('HGETALL', hash)
for i = 1, #entries, 2 do
  if cjson.decode(entries[i + 1]).seen_at < cutoff then
    redis.call('HDEL', hash, entries[i])
    redis.call('ZREM', order, entries[i])
  end
end
redis.call('HSET', hash, ARGV[1], ARGV[3])
redis.call('ZADD', order, ARGV[2], ARGV[1])
local excess = redis.call('ZCARD', order) - tonumber(ARGV[5])
if excess > 0 then
  local oldest = redis.call('ZRANGE', order, 0, excess - 1)
  redis.call('ZREMRANGEBYRANK', order, 0, excess - 1)
  redis.call('HDEL', hash, unpack(oldest))
end
redis.call('PEXPIRE', hash, ARGV[6])
redis.call('PEXPIRE', order, ARGV[6])
return ARGV[3]
"""


def redis_address(url: str) -> str:
    """The URL without its user info: what messages may name."""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    port = parts.port or 6379
    return f"{parts.scheme}://{host}:{port}{parts.path}"


class RedisHistory:
    """The history in Redis, shared by the nodes. Per stream, under ``key_prefix``: a hash
    of records by break id and a sorted set of break ids by start MSN, written together by
    one Lua script (atomic, so the first writer wins) that refreshes their TTL. Both keys
    share the hash tag ``{stream}`` (one Redis Cluster slot)."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float,
        max_breaks: int,
        timeout: float,
        key_prefix: str,
    ) -> None:
        self._ttl = ttl
        self._ttl_ms = max(1, math.ceil(ttl * 1000))
        self._max_breaks = max_breaks
        self._timeout = timeout
        self._prefix = key_prefix
        self._address = redis_address(url)
        self._password = urlsplit(url).password
        # One immediate retry on a new connection covers connections Redis dropped while
        # it was away; the timeout bounds the whole call, retry included.
        self._client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._record = self._client.register_script(_RECORD)
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(SeenBreak)

    def keys(self, stream: str) -> tuple[str, str]:
        """The stream's hash (records by id) and sorted set (ids by start MSN)."""
        return f"{self._prefix}breaks:{{{stream}}}", f"{self._prefix}order:{{{stream}}}"

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await call
        except (RedisError, OSError, TimeoutError) as exc:
            detail = str(exc) or type(exc).__name__
            if self._password:
                detail = detail.replace(self._password, REDACTED)
            raise HistoryUnavailable(
                f"break history at {self._address} unavailable: {detail}"
            ) from None

    def _decode(self, stream: str, raw: bytes | str) -> SeenBreak:
        try:
            return self._decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise HistoryUnavailable(
                f"break history at {self._address}: a malformed record of {stream!r}: {exc}"
            ) from None

    async def record(self, stream: str, brk: SeenBreak) -> SeenBreak:
        args = (
            brk.id,
            brk.start_msn,
            self._encoder.encode(brk),
            repr(time.time() - self._ttl),
            self._max_breaks,
            self._ttl_ms,
        )
        stored: bytes = await self._call(self._record(keys=self.keys(stream), args=args))
        return self._decode(stream, stored)

    async def breaks(self, stream: str) -> tuple[SeenBreak, ...]:
        hash_key, _ = self.keys(stream)
        raw = await self._call(self._client.hvals(hash_key))
        cutoff = time.time() - self._ttl
        seen = (self._decode(stream, value) for value in raw)
        return tuple(sorted((b for b in seen if b.seen_at >= cutoff), key=_order))

    async def close(self) -> None:
        await self._client.aclose()


def open_history(config: Live) -> BreakHistory:
    """The backend ``config.history`` names: ``"memory"`` or a Redis URL."""
    if config.history == "memory":
        return MemoryHistory(
            ttl=config.history_ttl,
            max_breaks=config.history_max_breaks,
            max_streams=config.history_max_streams,
        )
    return RedisHistory(
        config.history,
        ttl=config.history_ttl,
        max_breaks=config.history_max_breaks,
        timeout=config.redis_timeout,
        key_prefix=config.key_prefix,
    )
