"""Archive reading under caps and member policy: BUNDLES §6 rows 6-9, 11 (§4.1, §4.5 steps 1-2)."""

import gzip
import io
import tarfile
import time
import tracemalloc
import zipfile
import zlib

import pytest

from edge_assembler.core.bundle import BundleError, Limits, build_archive, read_archive
from tests.bundle_support import (
    BundleFactory,
    gz,
    raw_member,
    raw_tar,
    refused,
    verify_blob,
)

MiB = 1024 * 1024


def _zero_gzip(prefix: bytes, zeros: int, *, corrupt_trailer: bool = False) -> bytes:
    """gzip of ``prefix`` + ``zeros`` zero bytes, compressed chunk by chunk (never held whole)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [comp.compress(prefix)]
    chunk = b"\0" * MiB
    for _ in range(zeros // MiB):
        parts.append(comp.compress(chunk))
    parts.append(comp.flush())
    blob = b"".join(parts)
    if corrupt_trailer:  # a reader that got to the end would fail on the CRC: bad_archive
        blob = blob[:-8] + bytes(b ^ 0xFF for b in blob[-8:])
    return blob


def test_valid_bundle_reads_back_its_members() -> None:
    members = BundleFactory().members()
    assert read_archive(build_archive(members), Limits()) == members


def test_directory_entries_are_ignored() -> None:
    members = BundleFactory().members()
    tar = raw_tar(
        [raw_member("rules", type=tarfile.DIRTYPE)]
        + [raw_member(n, d) for n, d in sorted(members.items())]
    )
    assert read_archive(gz(tar), Limits()) == members


# Row 6: path traversal and names outside the grammar.
UNSAFE_NAMES = [
    "../x",
    "a/../../x",
    "/etc/x",
    "a//b",
    "a\\b",
    "./a",
    "rules/./a.json",
    "rules/..",
    "Rules/a.json",
    "._x",
    ".DS_Store",
    "rules/._ads.json",
    "a" * 201,
    "/".join(["d"] * 9),
    "rules/a b.json",
    "rules/\u00e9.json",
]


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_row6_unsafe_member_names(name: str) -> None:
    members = [raw_member(n, d) for n, d in sorted(BundleFactory().members().items())]
    refused("unsafe_member", gz(raw_tar([*members, raw_member(name, b"x")])))


def test_row6_limits_on_length_and_depth_are_inclusive() -> None:
    long_name = "rules/" + "a" * 194
    deep = "/".join(["d"] * 8)
    files = {long_name: b"1", deep: b"2"}
    assert read_archive(build_archive(files), Limits()) == files


# Row 7: every member type but REG/DIR.
LINKS_AND_DEVICES = [
    pytest.param(tarfile.SYMTYPE, "/etc/passwd", id="symlink"),
    pytest.param(tarfile.LNKTYPE, "rules/ads.json", id="hardlink"),
    pytest.param(tarfile.CHRTYPE, "", id="char-device"),
    pytest.param(tarfile.BLKTYPE, "", id="block-device"),
    pytest.param(tarfile.FIFOTYPE, "", id="fifo"),
    pytest.param(tarfile.CONTTYPE, "", id="contiguous"),
]


@pytest.mark.parametrize(("kind", "target"), LINKS_AND_DEVICES)
def test_row7_non_regular_members(kind: bytes, target: str) -> None:
    members = [raw_member(n, d) for n, d in sorted(BundleFactory().members().items())]
    refused(
        "unsafe_member",
        gz(raw_tar([*members, raw_member("rules/x.json", type=kind, linkname=target)])),
    )


def test_row7_gnu_sparse_member() -> None:
    info, _ = raw_member("rules/sparse.json", size=0)
    info.type = tarfile.GNUTYPE_SPARSE
    header = info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")
    tar = header + b"\0" * (2 * tarfile.BLOCKSIZE)
    refused("unsafe_member", gz(tar))


def test_row7_pax_sparse_member() -> None:
    info, _ = raw_member("rules/sparse.json", b"")
    info.pax_headers = {"GNU.sparse.map": "0,0", "GNU.sparse.size": "10"}
    refused("unsafe_member", gz(raw_tar([(info, b"")])))


def test_row8_duplicate_member_names() -> None:
    members = [raw_member(n, d) for n, d in sorted(BundleFactory().members().items())]
    refused(
        "duplicate_member",
        gz(raw_tar([*members, raw_member("rules/ads.json", b'{"rules": []}')])),
    )


# Row 9: caps enforced while streaming.
def test_row9_compressed_size_cap() -> None:
    blob = BundleFactory().build()
    refused("too_large", blob, limits=Limits(max_compressed=len(blob) - 1))
    refused("too_large", b"\0" * (16 * MiB + 1))


def test_row9_member_announcing_64_mib_is_refused_from_its_header() -> None:
    """A ~65 kB gzip that inflates to 64 MiB: refused after one header block, nothing buffered.

    The gzip trailer is corrupted, so a reader that went on to the end would say bad_archive.
    """
    header = raw_member("rules/bomb.json", size=64 * MiB)[0].tobuf(
        tarfile.PAX_FORMAT, "utf-8", "surrogateescape"
    )
    blob = _zero_gzip(header, 64 * MiB, corrupt_trailer=True)
    assert len(blob) < 100_000
    tracemalloc.start()
    started = time.perf_counter()
    try:
        err = refused("too_large", blob)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "rules/bomb.json" in err.message
    assert peak < 2 * MiB
    assert time.perf_counter() - started < 1.0


def test_row9_decompressed_stream_cap_stops_the_reader() -> None:
    """65 MiB of zeros (an empty tar then padding): the counting reader trips at 64 MiB + 1 byte
    and never reaches the corrupted trailer; memory stays flat."""
    blob = _zero_gzip(b"", 65 * MiB, corrupt_trailer=True)
    tracemalloc.start()
    try:
        err = refused("too_large", blob)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "decompressed" in err.message
    assert peak < 2 * MiB


def test_row9_total_size_over_several_members() -> None:
    files = {f"rules/part{i}.json": bytes(400 * 1024) for i in range(3)}
    blob = BundleFactory(files=files).build()
    refused("too_large", blob, limits=Limits(max_uncompressed=1 * MiB))


def test_row9_member_count_cap() -> None:
    files = {f"rules/r{i:04}.json": b"{}" for i in range(1001)}
    refused("too_large", build_archive(files))
    refused("too_large", BundleFactory().build(), limits=Limits(max_members=4))


@pytest.mark.parametrize(
    ("name", "limits"),
    [
        ("rules/big.json", Limits(max_file=1024)),
        ("manifest.json", Limits(max_manifest=1024)),
        ("manifest.sig", Limits(max_envelope=1024)),
    ],
)
def test_row9_per_member_caps(name: str, limits: Limits) -> None:
    members = BundleFactory().members()
    members[name] = b" " * 1025
    err = refused("too_large", build_archive(members), limits=limits)
    assert name in err.message


def test_row9_default_caps_on_manifest_and_envelope() -> None:
    members = BundleFactory().members()
    refused("too_large", build_archive({**members, "manifest.json": b" " * (MiB + 1)}))
    refused("too_large", build_archive({**members, "manifest.sig": b" " * (64 * 1024 + 1)}))


def test_row9_huge_pax_header_is_refused_before_tarfile_reads_it() -> None:
    info, _ = raw_member("rules/a.json")
    info.pax_headers = {"comment": "x" * (128 * 1024)}
    refused("too_large", gz(raw_tar([(info, b"")])))


# Row 11: truncated, empty, not gzip, zip.
def test_row11_truncated_at_every_offset() -> None:
    blob = BundleFactory().build()
    for end in range(len(blob)):
        refused("bad_archive", blob[:end])


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not a gzip file at all", id="text"),
        pytest.param(b"\x1f\x8b", id="gzip-magic-only"),
        pytest.param(gz(b"not a tar archive" * 40), id="gzip-not-tar"),
        pytest.param(gz(b""), id="gzip-empty"),
        pytest.param(BundleFactory().build() + b"trailing garbage", id="garbage-after-gzip"),
    ],
)
def test_row11_not_a_bundle_archive(blob: bytes) -> None:
    refused("bad_archive", blob)


def test_row11_zip_and_uncompressed_tar() -> None:
    members = BundleFactory().members()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    refused("bad_archive", out.getvalue())
    refused("bad_archive", gzip.decompress(build_archive(members)))


def test_row11_member_shorter_than_its_header_says() -> None:
    header, _ = raw_member("rules/a.json", size=4096)
    tar = header.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + b"{}"
    refused("bad_archive", gz(tar))


def test_build_archive_refuses_unsafe_names() -> None:
    with pytest.raises(BundleError, match="unsafe_member"):
        build_archive({"../escape": b""})


def test_valid_bundle_verifies() -> None:
    v = verify_blob(BundleFactory().build())
    assert v.name == "prod-global"
    assert v.revision == 10
    assert not v.not_modified
    assert v.rules == dict(BundleFactory().files)
