"""Bundles and state on disk (BUNDLES §4.7).

Layout under the state root::

    store/<name>/<revision>-<sha256[:12]>.tar.gz   original bytes, never rewritten
    store/<name>/current                           symlink to one of them, swapped with os.replace
    state/state.json                               floors, active record, history, ETag
    state/state.lock                               fcntl.flock guard for state.json writers
    state/writer.lock                              held by the one writing process of a node
    state/writer.json                              the writer's check times, for the others

Every write is tmp file + fsync + ``os.replace`` + fsync of the directory, so a crash
leaves either the old or the new file, never a torn one. Errors are ``OSError``.
"""

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

KEEP = 3  # bundles kept per name, for forensics and manual rollback
_BUNDLE_FILE = re.compile(r"^(?P<revision>\d+)-(?P<sha>[0-9a-f]{12})\.tar\.gz$")
_TMP_PREFIX = ".tmp-"


class BundleStore:
    def __init__(self, root: Path, *, keep: int = KEEP) -> None:
        self.store_dir = root / "store"
        self.state_dir = root / "state"
        self.state_file = self.state_dir / "state.json"
        self.writer_file = self.state_dir / "writer.json"
        self._lock_file = self.state_dir / "state.lock"
        self._writer_lock = self.state_dir / "writer.lock"
        self._writer_fd: int | None = None
        self._keep = keep

    # -- bundles -------------------------------------------------------------------------

    def bundle_path(self, name: str, revision: int, sha256: str) -> Path:
        return self.store_dir / name / f"{revision}-{sha256[:12]}.tar.gz"

    def write_bundle(self, name: str, revision: int, sha256: str, blob: bytes) -> Path:
        """Persist the original bytes (BUNDLES §4.7 step 2). ``sha256`` is the manifest
        digest, so a re-signed copy of the same content replaces the file in one rename."""
        path = self.bundle_path(name, revision, sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, blob)
        return path

    def point_current(self, name: str, target: Path | None) -> None:
        """Swap ``store/<name>/current`` to ``target`` (or remove it) in one rename."""
        link = self.store_dir / name / "current"
        if target is None:
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            _fsync_dir(link.parent)
            return
        _publish(link, lambda tmp: os.symlink(target.name, tmp))

    def current_target(self, name: str) -> Path | None:
        link = self.store_dir / name / "current"
        try:
            return link.parent / os.readlink(link)
        except OSError:
            return None

    def read_current(self, name: str) -> bytes | None:
        target = self.current_target(name)
        if target is None:
            return None
        try:
            return target.read_bytes()
        except FileNotFoundError:
            return None

    def names(self) -> list[str]:
        """Names with a ``current`` bundle."""
        if not self.store_dir.is_dir():
            return []
        return sorted(d.name for d in self.store_dir.iterdir() if (d / "current").is_symlink())

    def prune(self, name: str) -> None:
        """Keep the newest ``keep`` bundles of ``name`` and always the current one; drop
        temporary files a crash may have left."""
        folder = self.store_dir / name
        current = self.current_target(name)
        kept: list[tuple[int, Path]] = []
        for path in folder.iterdir():
            if path.name.startswith(_TMP_PREFIX):
                path.unlink(missing_ok=True)
            elif match := _BUNDLE_FILE.fullmatch(path.name):
                kept.append((int(match["revision"]), path))
        kept.sort(reverse=True)
        for _, path in kept[self._keep :]:
            if current is None or path.name != current.name:
                path.unlink(missing_ok=True)

    # -- state ---------------------------------------------------------------------------

    def read_state(self) -> bytes | None:
        """The bytes of state.json, or None when there is none yet."""
        with self._locked(fcntl.LOCK_SH):
            try:
                return self.state_file.read_bytes()
            except FileNotFoundError:
                return None

    def write_state(self, data: bytes) -> None:
        """Replace state.json atomically, under an exclusive lock (BUNDLES §4.6)."""
        with self._locked(fcntl.LOCK_EX):
            atomic_write(self.state_file, data)

    def quarantine_state(self) -> Path | None:
        """Move an unreadable state.json aside (kept for inspection); returns its new path."""
        with self._locked(fcntl.LOCK_EX):
            aside = self.state_file.with_name(f"state.json.bad-{time.time_ns()}")
            try:
                os.replace(self.state_file, aside)
            except FileNotFoundError:
                return None
            _fsync_dir(self.state_dir)
            return aside

    # -- the writer ----------------------------------------------------------------------

    def claim_writer(self) -> bool:
        """Take the writer lock if no other process (or store) holds it; held until
        :meth:`release_writer` or the process exits. True when held."""
        if self._writer_fd is not None:
            return True
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._writer_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._writer_fd = fd
        return True

    def release_writer(self) -> None:
        if self._writer_fd is not None:
            os.close(self._writer_fd)
            self._writer_fd = None

    def write_writer(self, data: bytes) -> None:
        """Replace writer.json (status only: renamed into place, not synced)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.writer_file.with_name(f"{_TMP_PREFIX}writer.json-{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, self.writer_file)

    @contextlib.contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """tmp file in the same directory, fsync, ``os.replace``, fsync of the directory."""

    def write(tmp: Path) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    _publish(path, write)


def _publish(path: Path, make: Callable[[Path], None]) -> None:
    """``make`` a temporary sibling of ``path``, rename it over ``path`` and fsync the
    directory; the temporary file is removed when any step fails."""
    tmp = path.with_name(f"{_TMP_PREFIX}{path.name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        make(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
