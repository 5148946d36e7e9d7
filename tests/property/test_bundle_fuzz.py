"""Fuzz: BUNDLES §6 row 36. Random bytes and mutated valid bundles reach every parser; the only
exception that ever escapes is ``BundleError`` with a known reason code, and a refused bundle leaves
the caller's last good result as it was.

Mutations are applied at three depths so the checks behind the gzip CRC are reached too: the
compressed bytes, the tar stream (re-gzipped), and the manifest/envelope bytes (re-signed).
"""

import gzip

from hypothesis import example, given, strategies as st

from edge_assembler.core.bundle import (
    REASON_CODES,
    BundleError,
    Limits,
    NameState,
    Verified,
    parse_manifest,
    parse_state,
    parse_trust,
)
from tests.bundle_support import BundleFactory, gz, verify_blob

GOOD = BundleFactory()
GOOD_BLOB = GOOD.build()
GOOD_TAR = gzip.decompress(GOOD_BLOB)
GOOD_MANIFEST = GOOD.manifest()
GOOD_MEMBERS = GOOD.members()
SMALL = Limits(max_uncompressed=256 * 1024, max_members=20, max_file=64 * 1024)
STATE = NameState(floor_revision=5)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """Cut a slice and splice in random bytes, or flip bits, one to three times (mitmproxy's
    ``mutations()``)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()) and out:
            i = draw(st.integers(0, len(out) - 1))
            out[i] ^= 1 << draw(st.integers(0, 7))
        else:
            start = draw(st.integers(0, len(out)))
            end = draw(st.integers(start, min(len(out), start + 64)))
            out[start:end] = draw(st.binary(max_size=64))
    return bytes(out)


def _offer(blob: bytes) -> None:
    last_good = GOOD
    active: object = last_good
    code = None
    try:
        active = verify_blob(blob, state=STATE, limits=SMALL)
    except BundleError as err:
        code = err.code
    if code is None:
        assert isinstance(active, Verified)
    else:
        assert code in REASON_CODES
        assert active is last_good


@given(st.binary(max_size=4096))
@example(b"")
@example(b"\x1f\x8b")
@example(gz(b"\0" * 1024))
def test_random_bytes(blob: bytes) -> None:
    _offer(blob)


@given(mutated(GOOD_BLOB))
def test_mutated_compressed_bundle(blob: bytes) -> None:
    _offer(blob)


@given(mutated(GOOD_TAR))
def test_mutated_tar_stream(tar: bytes) -> None:
    _offer(gz(tar))


@given(mutated(GOOD_MANIFEST))
def test_mutated_manifest_resigned(manifest: bytes) -> None:
    _offer(GOOD.build(manifest=manifest))


@given(mutated(GOOD_MEMBERS["manifest.sig"]))
def test_mutated_envelope(sig: bytes) -> None:
    _offer(GOOD.build(sig=sig))


@given(st.binary(max_size=512) | mutated(GOOD_MANIFEST))
@example(b'{"\x80": 1}')  # msgspec raised UnicodeDecodeError for an unknown non-UTF-8 key
def test_parsers_only_raise_bundle_error(data: bytes) -> None:
    for parse in (parse_manifest, parse_trust, parse_state):
        code = None
        try:
            parse(data)
        except BundleError as err:
            code = err.code
        assert code is None or code in REASON_CODES
