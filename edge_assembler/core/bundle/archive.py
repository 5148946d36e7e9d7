"""Reading and writing bundle archives in memory (BUNDLES §4.1, §4.5 steps 1-2).

Nothing is ever extracted: regular members are read into a dict. Every cap is enforced while the
gzip stream is decompressed, before the bytes it guards are buffered (opa#920, PR opa#6516).
"""

import gzip
import io
import re
import tarfile
import zlib
from collections.abc import Mapping
from typing import Final

from edge_assembler.core.bundle.errors import BundleError
from edge_assembler.core.bundle.limits import Limits

MANIFEST: Final = "manifest.json"
ENVELOPE: Final = "manifest.sig"

# BUNDLES §4.1: lower-case segments, no leading dot, no empty/"."/".." segments, no backslashes.
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*", re.ASCII)
_MAX_NAME_BYTES: Final = 200
_MAX_DEPTH: Final = 8
# pax/GNU long-name headers are read whole by tarfile itself, so they get their own small cap.
_MAX_META_HEADER: Final = 64 * 1024
_META_TYPES: Final = frozenset(
    {
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    }
)
_REGULAR: Final = frozenset({tarfile.REGTYPE, tarfile.AREGTYPE})
_CHUNK: Final = 64 * 1024
# What the stdlib decoders raise on malformed input (truncation, bad CRC, headers or numbers).
_DECODER_ERRORS: Final = (
    tarfile.TarError,
    EOFError,
    OSError,
    zlib.error,
    ValueError,
    OverflowError,
)


def check_member_name(name: str) -> None:
    """BUNDLES §4.1 member-name grammar: ≤ 200 bytes, ≤ 8 levels; else ``unsafe_member``."""
    if (
        not _NAME.fullmatch(name)
        or len(name.encode("utf-8", "surrogateescape")) > _MAX_NAME_BYTES
        or name.count("/") >= _MAX_DEPTH
    ):
        raise BundleError("unsafe_member", f"member name not allowed: {name!r}")


class _CappedGunzip(io.BufferedIOBase):
    """Decompresses ``blob`` on demand and refuses to produce more than ``cap`` bytes."""

    def __init__(self, blob: bytes, cap: int) -> None:
        self._gz = gzip.GzipFile(fileobj=io.BytesIO(blob), mode="rb")
        self._cap = cap
        self.produced = 0

    def read(self, size: int | None = -1, /) -> bytes:
        # Ask for at most one byte more than the cap allows: an overrun is seen, never buffered.
        room = self._cap - self.produced + 1
        data = self._gz.read(room if size is None or size < 0 else min(size, room))
        self.produced += len(data)
        if self.produced > self._cap:
            raise BundleError("too_large", f"decompressed size exceeds {self._cap} bytes")
        return data

    def drain(self) -> None:
        """Read to the end, under the cap, so the gzip trailer (CRC, length) is checked."""
        while self.read(_CHUNK):
            pass

    def close(self) -> None:
        self._gz.close()
        super().close()


class _CheckedTarInfo(tarfile.TarInfo):
    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> "_CheckedTarInfo":
        info = super().frombuf(buf, encoding, errors)
        if info.type in _META_TYPES and info.size > _MAX_META_HEADER:
            raise BundleError("too_large", f"extended tar header of {info.size} bytes")
        return info


def _member_cap(name: str, limits: Limits) -> int:
    return {MANIFEST: limits.max_manifest, ENVELOPE: limits.max_envelope}.get(name, limits.max_file)


def _read_member(tar: tarfile.TarFile, info: tarfile.TarInfo, limits: Limits) -> bytes:
    cap = _member_cap(info.name, limits)
    if info.size > cap:
        raise BundleError("too_large", f"{info.name}: {info.size} bytes, limit {cap}")
    handle = tar.extractfile(info)  # a regular member always has a file object
    assert handle is not None
    with handle:
        return handle.read()  # tarfile raises ReadError if the stream ends early


def _accept(info: tarfile.TarInfo) -> bool:
    """BUNDLES §4.5 step 2: True for a regular file to read, False for a directory to skip."""
    check_member_name(info.name)
    if info.type == tarfile.DIRTYPE:
        return False
    if info.type not in _REGULAR or info.sparse is not None:
        raise BundleError("unsafe_member", f"{info.name}: member type {info.type!r} not allowed")
    return True


def _read_members(stream: _CappedGunzip, limits: Limits) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    count = 0
    with tarfile.open(fileobj=stream, mode="r|", tarinfo=_CheckedTarInfo) as tar:
        for info in tar:
            count += 1
            if count > limits.max_members:
                raise BundleError("too_large", f"more than {limits.max_members} members")
            if not _accept(info):
                continue
            if info.name in files:
                raise BundleError("duplicate_member", f"{info.name} appears twice")
            files[info.name] = _read_member(tar, info, limits)
    stream.drain()
    return files


def read_archive(blob: bytes, limits: Limits) -> dict[str, bytes]:
    """Decode a bundle ``.tar.gz`` into ``{member name: bytes}`` under every BUNDLES §4.5 cap."""
    if len(blob) > limits.max_compressed:
        raise BundleError("too_large", f"{len(blob)} bytes, limit {limits.max_compressed}")
    try:
        with _CappedGunzip(blob, limits.max_uncompressed) as stream:
            return _read_members(stream, limits)
    except _DECODER_ERRORS as err:
        raise BundleError("bad_archive", f"{type(err).__name__}: {err}") from None


def build_archive(files: Mapping[str, bytes]) -> bytes:
    """Deterministic ``.tar.gz`` (BUNDLES §4.1): sorted, mtime 0, uid/gid 0, mode 0644, gzip
    mtime 0, so the same files always give the same bytes."""
    for name in files:
        check_member_name(name)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[name]))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()
