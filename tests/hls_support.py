"""Shared checks for tests of HLS output: the m3u8 library as an independent reader."""

import difflib
from pathlib import Path

import m3u8

from edge_assembler.core.hls import MediaPlaylist, parse


def assert_m3u8_agrees(data: bytes) -> None:
    """The `m3u8` library reads ``data`` and agrees with our parser on segment count,
    durations and discontinuities (DESIGN §4: the independent cross-check)."""
    ours = parse(data)
    theirs = m3u8.loads(data.decode("utf-8").removeprefix("\ufeff"))
    if not isinstance(ours, MediaPlaylist):
        assert len(theirs.playlists) == len(ours.variants)
        return
    assert not theirs.is_variant
    assert len(theirs.segments) == len(ours.segments)
    for mine, other in zip(ours.segments, theirs.segments, strict=True):
        assert abs(mine.duration - float(other.duration)) < 1e-6, (mine.uri, other.duration)
        assert mine.discontinuity == bool(other.discontinuity), mine.uri
        assert mine.uri == other.uri


def check_golden(expected_path: Path, actual: bytes, update: bool) -> None:
    """Compare ``actual`` with a reviewed golden file byte for byte (a full diff on
    failure); ``pytest --update-golden`` rewrites the file instead."""
    if update or not expected_path.exists():
        if not update:
            raise AssertionError(f"missing golden file {expected_path}; run with --update-golden")
        expected_path.parent.mkdir(parents=True, exist_ok=True)
        expected_path.write_bytes(actual)
        return
    expected = expected_path.read_bytes()
    if actual != expected:
        diff = "\n".join(
            difflib.unified_diff(
                expected.decode().splitlines(),
                actual.decode().splitlines(),
                "expected",
                "actual",
                lineterm="",
            )
        )
        raise AssertionError(f"{expected_path} differs:\n{diff}")
