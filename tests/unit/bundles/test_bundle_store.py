"""BundleStore on a real directory: original bytes, the ``current`` link, pruning, and the
state file (BUNDLES §4.7)."""

import os
from pathlib import Path

from edge_assembler.bundles.store import BundleStore

SHA = "ab" * 32


def test_bundles_are_kept_byte_for_byte_and_current_is_a_relative_symlink(tmp_path: Path):
    store = BundleStore(tmp_path)
    path = store.write_bundle("n", 7, SHA, b"original bytes")
    store.point_current("n", path)

    link = tmp_path / "store" / "n" / "current"
    assert os.readlink(link) == f"7-{SHA[:12]}.tar.gz"
    assert store.read_current("n") == b"original bytes"
    assert store.names() == ["n"]
    store.point_current("n", None)
    assert store.read_current("n") is None
    assert store.names() == []


def test_prune_keeps_the_newest_three_and_the_current_one(tmp_path: Path):
    store = BundleStore(tmp_path)
    paths = {r: store.write_bundle("n", r, f"{r:064x}", b"x") for r in range(1, 7)}
    store.point_current("n", paths[1])  # e.g. pointed back by hand for a rollback
    (tmp_path / "store" / "n" / ".tmp-left-by-a-crash").write_bytes(b"")

    store.prune("n")

    left = sorted(p.name for p in (tmp_path / "store" / "n").iterdir())
    assert left == sorted(["current", *(paths[r].name for r in (1, 4, 5, 6))])


def test_state_is_replaced_atomically_and_a_bad_one_is_moved_aside(tmp_path: Path):
    store = BundleStore(tmp_path)
    assert store.read_state() is None
    store.write_state(b'{"names": {}}')
    store.write_state(b'{"names": {"a": {}}}')
    assert store.read_state() == b'{"names": {"a": {}}}'
    assert sorted(p.name for p in store.state_dir.iterdir()) == ["state.json", "state.lock"]

    aside = store.quarantine_state()

    assert aside is not None
    assert aside.read_bytes() == b'{"names": {"a": {}}}'
    assert store.read_state() is None
    assert store.quarantine_state() is None


def test_atomic_writes_leave_no_temporary_file(tmp_path: Path):
    store = BundleStore(tmp_path)
    store.write_bundle("n", 1, SHA, b"a")
    store.write_bundle("n", 1, SHA, b"b")  # a re-signed copy of the same content
    assert [p.name for p in (tmp_path / "store" / "n").iterdir()] == [f"1-{SHA[:12]}.tar.gz"]
    assert store.read_current("n") is None
