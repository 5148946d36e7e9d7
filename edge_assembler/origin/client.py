"""The origin HTTP client: one connection pool per origin, timeouts, and the translation of
aiohttp's exceptions into the edge's error tree at this one boundary."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from edge_assembler.config import NodeConfig, Origin
from edge_assembler.core.errors import OriginError, OriginTimeout, OriginTooLarge
from edge_assembler.metrics import Metrics


@dataclass(frozen=True, slots=True)
class Fetched:
    """A whole (manifest-sized) origin response; the body is decoded from any
    Content-Encoding."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    elapsed: float


@contextmanager
def map_origin_errors(what: str) -> Iterator[None]:
    """Translate client exceptions to OriginError/OriginTimeout with a reason code."""
    try:
        yield
    except TimeoutError as exc:  # includes aiohttp.ServerTimeoutError
        raise OriginTimeout("timeout", f"origin timed out ({what})") from exc
    except aiohttp.ClientConnectorError as exc:
        raise OriginError("connect_failed", f"origin unreachable: {exc.os_error}") from exc
    except aiohttp.ClientPayloadError as exc:
        raise OriginError("bad_body", f"origin sent a broken body: {exc}") from exc
    except aiohttp.ClientResponseError as exc:
        raise OriginError("bad_response", f"origin sent a malformed response: {exc}") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise OriginError("connection_lost", f"origin connection failed: {exc!r}") from exc


class OriginClient:
    """Requests to the configured origins; create with ``await OriginClient.open(config)``."""

    def __init__(
        self,
        config: NodeConfig,
        metrics: Metrics,
        sessions: Sequence[aiohttp.ClientSession],
    ) -> None:
        self._config = config
        self._metrics = metrics
        self._sessions = sessions
        t = config.timeouts
        # Passthrough bodies may be long: bound the connect and every read gap, not the total.
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=t.connect, sock_read=t.idle
        )
        self._manifest_timeout = aiohttp.ClientTimeout(
            total=t.total, sock_connect=t.connect, sock_read=t.first_byte
        )

    @classmethod
    def open(cls, config: NodeConfig, metrics: Metrics) -> "OriginClient":
        return cls(config, metrics, [_session(o) for o in config.origins])

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in self._sessions))

    @asynccontextmanager
    async def stream(
        self, origin: int, method: str, url: str, headers: Sequence[tuple[str, str]]
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """An origin response whose body is still to be read; encoded bytes pass as they are."""
        started = time.perf_counter()
        outcome = "error"
        try:
            with map_origin_errors("response headers"):
                async with asyncio.timeout(self._config.timeouts.first_byte):
                    response = await self._sessions[origin].request(
                        method,
                        url,
                        headers=CIMultiDict(headers),
                        allow_redirects=False,
                        auto_decompress=False,
                        timeout=self._stream_timeout,
                        skip_auto_headers=("Accept-Encoding", "User-Agent"),
                    )
            outcome = _outcome(response.status)
            self._metrics.origin_duration.labels("passthrough").observe(
                time.perf_counter() - started
            )
            async with response:
                yield response
        except OriginError as exc:
            outcome = exc.reason
            raise
        finally:
            self._metrics.origin_fetches.labels("passthrough", outcome).inc()

    async def fetch(self, origin: int, url: str, headers: Sequence[tuple[str, str]]) -> Fetched:
        """A whole GET response, decoded, of at most ``max_manifest_bytes``."""
        started = time.perf_counter()
        outcome = "error"
        try:
            with map_origin_errors("manifest"):
                async with self._sessions[origin].get(
                    url,
                    headers=CIMultiDict(headers),
                    allow_redirects=False,
                    timeout=self._manifest_timeout,
                ) as response:
                    body = await self._read_capped(response)
            elapsed = time.perf_counter() - started
            outcome = _outcome(response.status)
            self._metrics.origin_duration.labels("manifest").observe(elapsed)
            return Fetched(response.status, response.headers, body, elapsed)
        except OriginError as exc:
            outcome = exc.reason
            raise
        finally:
            self._metrics.origin_fetches.labels("manifest", outcome).inc()

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        limit = self._config.max_manifest_bytes
        if response.content_length is not None and response.content_length > limit:
            raise OriginTooLarge("too_large", f"manifest larger than {limit} bytes")
        body = bytearray()
        async for chunk in response.content.iter_chunked(65536):
            body += chunk
            if len(body) > limit:
                raise OriginTooLarge("too_large", f"manifest larger than {limit} bytes")
        return bytes(body)


def _session(origin: Origin) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=origin.max_connections, limit_per_host=0, ttl_dns_cache=60
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=True,
        max_line_size=16384,
        max_field_size=16384,
    )


def _outcome(status: int) -> str:
    if status >= 500:
        return "http_5xx"
    if status >= 400:
        return "http_4xx"
    if status == 304:
        return "not_modified"
    return "ok"
