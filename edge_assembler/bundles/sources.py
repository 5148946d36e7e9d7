"""Where bundles come from (BUNDLES §4.9): a watched file or directory, and an HTTP(S) poll.
Both only fetch bytes and hand them to :meth:`BundleManager.offer`; the manager decides.
The trust file is watched the same way (BUNDLES §4.4 hot reload)."""

import asyncio
import hashlib
import logging
import os
import random
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import aiohttp

from edge_assembler import __version__
from edge_assembler.bundles.manager import BundleManager, Result
from edge_assembler.config import Bundles
from edge_assembler.core.bundle import BundleError
from edge_assembler.tasks import spawn

log = logging.getLogger("edge_assembler.bundles")

_CHUNK = 64 * 1024
_FAILED_REMEMBERED = 64
Stamp = tuple[int, int, int]


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _stamp(path: Path) -> Stamp | None:
    """(inode, size, mtime_ns) of what ``path`` resolves to: an atomic rename or a symlink
    swap both change it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class FileSource:
    """Polls ``stat`` of a bundle file, or of every ``*.tar.gz`` in a directory (Kubernetes
    ConfigMap ``..data`` swaps resolve through the symlinks). A changed file is read once it
    has stopped changing for ``debounce`` seconds. A content whose sha256 was already refused
    is not offered again until it changes."""

    def __init__(self, path: Path, manager: BundleManager, settings: Bundles) -> None:
        self.path = path
        self.manager = manager
        self.interval = settings.watch_interval
        self.debounce = settings.debounce
        self.cap = settings.max_compressed
        self._seen: dict[Path, Stamp] = {}
        self._offered: dict[Path, str] = {}
        self._failed: OrderedDict[str, None] = OrderedDict()

    async def run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.interval)

    async def check(self) -> None:
        """One pass: offer every candidate file whose stat changed since the last pass."""
        for path in await asyncio.to_thread(self._candidates):
            stamp = await self._settled(path)
            if stamp is None or self._seen.get(path) == stamp:
                continue
            self._seen[path] = stamp
            try:
                blob = await asyncio.to_thread(_read_capped, path, self.cap)
            except OSError as exc:
                log.warning("cannot read bundle %s: %s", path, exc)
                continue
            digest = hashlib.sha256(blob).hexdigest()
            if digest in self._failed or self._offered.get(path) == digest:
                continue
            self.manager.note_download()
            outcome = await self.manager.offer(blob, f"file:{path}")
            self._offered[path] = digest
            if outcome.result is Result.REJECTED:
                self._failed[digest] = None
                while len(self._failed) > _FAILED_REMEMBERED:
                    self._failed.popitem(last=False)

    def _candidates(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.glob("*.tar.gz") if p.is_file())
        return [self.path]

    async def _settled(self, path: Path) -> Stamp | None:
        stamp = _stamp(path)
        if stamp is None or self._seen.get(path) == stamp:
            return stamp
        while True:
            await asyncio.sleep(self.debounce)
            again = _stamp(path)
            if again == stamp:
                return stamp
            stamp = again


def _read_capped(path: Path, cap: int) -> bytes:
    """At most ``cap + 1`` bytes: enough for verification to say ``too_large``."""
    with path.open("rb") as f:
        return f.read(cap + 1)


class HttpSource:
    """Polls a URL with ``If-None-Match`` (BUNDLES §4.9). Bytes are counted as they arrive
    (no transparent decompression), the ETag is committed only when the manager activated
    the body or found it unchanged, and failures back off exponentially up to a cap."""

    def __init__(
        self,
        url: str,
        manager: BundleManager,
        settings: Bundles,
        *,
        rand: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.url = url
        self.manager = manager
        self.settings = settings
        self.cap = settings.max_compressed
        self.etag: str | None = manager.committed_etag()
        self.failures = 0
        self._rand = rand

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(
            total=self.settings.total_timeout, connect=self.settings.connect_timeout
        )
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
            while True:
                await self.poll(session)
                await asyncio.sleep(self.next_delay())

    def next_delay(self) -> float:
        """Jittered interval when healthy; exponential backoff after failures, capped."""
        s = self.settings
        if not self.failures:
            return self._rand(s.poll_min, s.poll_max)
        backoff = min(s.backoff_max, s.poll_min * 2 ** min(self.failures, 32))
        return self._rand(backoff / 2, backoff)

    async def poll(self, session: aiohttp.ClientSession) -> Result | None:
        """One request. Returns the manager's result, or None when nothing was offered."""
        try:
            result = await self._poll(session)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("bundle poll of %s failed: %r", self.url, exc)
            result = None
        ok = result in (Result.ACTIVATED, Result.NOT_MODIFIED)
        self.failures = 0 if ok else self.failures + 1
        return result

    async def _poll(self, session: aiohttp.ClientSession) -> Result | None:
        headers = {
            "Accept-Encoding": "identity",
            "User-Agent": f"edge-assembler/{__version__}",
        }
        if self.etag:
            headers["If-None-Match"] = self.etag
        async with session.get(self.url, headers=headers, allow_redirects=True) as response:
            if response.status == 304:
                # A 304 keeps the committed ETag, with or without an ETag header.
                self.manager.note_unchanged()
                return Result.NOT_MODIFIED
            if response.status != 200:
                log.warning("bundle poll of %s: HTTP %d", self.url, response.status)
                return None
            try:
                blob = await self._read(response)
            except BundleError as err:
                response.close()  # drop the connection rather than drain a huge body
                return self.manager.reject(err, self.url).result
            etag = response.headers.get("ETag")
        self.manager.note_download()
        outcome = await self.manager.offer(blob, self.url, etag=etag)
        if outcome.result in (Result.ACTIVATED, Result.NOT_MODIFIED):
            self.etag = etag
        return outcome.result

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        length = response.content_length
        if length is not None and length > self.cap:
            raise BundleError("too_large", f"Content-Length {length} > {self.cap} bytes")
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > self.cap:
                raise BundleError("too_large", f"body exceeds {self.cap} bytes")
        return bytes(body)


class TrustWatcher:
    """Reloads the trust file whenever its stat changes."""

    def __init__(self, manager: BundleManager, interval: float) -> None:
        self.manager = manager
        self.interval = interval

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.manager.reload_trust()


# How often a follower looks at the writer's state (seconds): one stat of two files.
FOLLOW_INTERVAL = 0.5


def _sources(manager: BundleManager) -> list[FileSource | HttpSource]:
    settings = manager.settings
    return [
        HttpSource(s, manager, settings) if is_url(s) else FileSource(Path(s), manager, settings)
        for s in settings.sources
    ]


async def run(manager: BundleManager) -> None:
    """The trust watcher always; the bundle sources once this process is the writer of the
    state directory, following the writer until then (taking over when it is gone)."""
    settings = manager.settings
    tasks = [spawn(TrustWatcher(manager, settings.trust_reload_interval).run())]
    try:
        while not manager.is_writer:
            await asyncio.sleep(FOLLOW_INTERVAL)
            if await asyncio.to_thread(manager.store.claim_writer):
                await manager.take_over()
            else:
                await manager.follow()
        tasks += [spawn(source.run()) for source in _sources(manager)]
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
