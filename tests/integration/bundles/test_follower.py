"""One writer per state directory: the process holding the writer lock verifies, persists and
counts offers; the others follow what it recorded (re-verified in full, never written) and
report its checks and errors. Real managers on one real directory."""

import os
from datetime import timedelta
from pathlib import Path

import pytest

from edge_assembler.bundles.manager import BundleManager, Result
from edge_assembler.bundles.store import BundleStore
from edge_assembler.metrics import Metrics
from tests.bundle_support import KEY_B
from tests.integration.bundles.conftest import NAME, Factory, FakeClock, metric, settings_for

ACTIVATIONS = "edge_assembler_bundle_activations_total"


def manager(root: Path, clock: FakeClock, metrics: Metrics | None = None) -> BundleManager:
    return BundleManager(settings_for(root), metrics=metrics or Metrics(), clock=clock)


def files_of(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under the node's state directory with its inode and mtime."""
    out = {}
    for path in (root / "node").rglob("*"):
        st = path.lstat()
        out[str(path.relative_to(root))] = (st.st_ino, st.st_mtime_ns)
    return out


@pytest.fixture
async def pair(tmp_path: Path, clock: FakeClock) -> tuple[BundleManager, BundleManager, Metrics]:
    """A writer and a follower of one state directory; the follower's metrics returned."""
    writer, follower_metrics = manager(tmp_path, clock), Metrics()
    follower = manager(tmp_path, clock, follower_metrics)
    assert writer.store.claim_writer()
    assert not follower.store.claim_writer()
    await writer.start(writer=True)
    await follower.start(writer=False)
    return writer, follower, follower_metrics


def test_the_writer_lock_is_held_by_one_store_at_a_time(tmp_path: Path):
    first, second = BundleStore(tmp_path), BundleStore(tmp_path)
    assert first.claim_writer()
    assert first.claim_writer()  # held already
    assert not second.claim_writer()
    first.release_writer()
    assert second.claim_writer()
    assert not first.claim_writer()
    second.release_writer()


async def test_the_follower_serves_what_the_writer_activated_without_writing(
    tmp_path: Path, factory: Factory, pair: tuple[BundleManager, BundleManager, Metrics]
):
    writer, follower, follower_metrics = pair
    assert follower.current is None
    assert not follower.is_writer
    for revision in (10, 11):
        outcome = await writer.offer(factory.bundle(revision), "test")
        assert outcome.result is Result.ACTIVATED
        before = files_of(tmp_path)
        await follower.follow()
        assert files_of(tmp_path) == before  # nothing moved, nothing rewritten
        active, mine = follower.current, writer.current
        assert active is not None
        assert mine is not None
        assert (active.name, active.revision, active.sha256) == (NAME, revision, mine.sha256)
        assert active.rules is not mine.rules  # compiled by the follower itself
    assert follower.has_activated
    # The node counts each offer once: the follower counts none.
    assert metric(follower_metrics, ACTIVATIONS, result="activated", code="") == 0
    status = follower.status()
    assert status["active_revision"] == 11
    assert status["writer"] == {"pid": os.getpid(), "self": False}
    assert writer.status()["writer"] == {"pid": os.getpid(), "self": True}
    assert status["last_successful_check"] == writer.status()["last_successful_check"]


async def test_the_follower_reports_the_writers_refusals_and_checks(
    factory: Factory, clock: FakeClock, pair: tuple[BundleManager, BundleManager, Metrics]
):
    writer, follower, follower_metrics = pair
    await writer.offer(factory.bundle(10), "test")
    await follower.follow()
    clock.advance(minutes=5)
    refused = await writer.offer(factory.bundle(9), "drop")  # below the floor
    assert refused.code == "rollback"
    await follower.follow()
    status = follower.status()
    error = status["last_error"]
    assert error is not None
    assert getattr(error, "code", None) == "rollback"
    assert status["active_revision"] == 10
    assert status["status"] == "ok"
    clock.advance(minutes=5)
    writer.note_unchanged()
    await follower.follow()
    check = writer.status()["last_successful_check"]
    assert follower.status()["last_successful_check"] == check
    assert follower.status()["seconds_since_last_check"] == 0
    assert metric(
        follower_metrics, "edge_assembler_bundle_last_success_timestamp"
    ) == pytest.approx(clock.now.timestamp())


async def test_the_follower_waits_out_a_swap_in_progress(
    tmp_path: Path, factory: Factory, pair: tuple[BundleManager, BundleManager, Metrics]
):
    """The writer points ``current`` at the new bundle before it records it in state.json:
    in between, the follower keeps what it serves and looks again at its next step."""
    writer, follower, _ = pair
    await writer.offer(factory.bundle(10), "test")
    await follower.follow()
    ahead = factory.bundle(11)
    store = writer.store
    store.point_current(NAME, store.write_bundle(NAME, 11, "b" * 64, ahead))
    state_before = store.read_state()
    await follower.follow()
    current = follower.current
    assert current is not None
    assert current.revision == 10
    # The writer completes the swap (its own offer of the same bytes).
    assert (await writer.offer(ahead, "test")).result is Result.ACTIVATED
    assert store.read_state() != state_before
    await follower.follow()
    current = follower.current
    assert current is not None
    assert current.revision == 11


async def test_a_tampered_store_is_refused_and_the_last_good_kept(
    factory: Factory, pair: tuple[BundleManager, BundleManager, Metrics]
):
    writer, follower, _ = pair
    await writer.offer(factory.bundle(10), "test")
    await follower.follow()
    # Revision 11 recorded as active, but the bytes behind `current` were altered on disk.
    await writer.offer(factory.bundle(11), "test")
    target = writer.store.current_target(NAME)
    assert target is not None
    blob = bytearray(target.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    target.write_bytes(bytes(blob))
    await follower.follow()
    current = follower.current
    assert current is not None
    assert current.revision == 10
    error = follower.last_error
    assert error is not None
    assert error.origin == f"store:{NAME}"
    assert follower.status()["status"] == "ok"


async def test_a_follower_drops_a_bundle_the_trust_no_longer_vouches_for(
    factory: Factory, pair: tuple[BundleManager, BundleManager, Metrics], tmp_path: Path
):
    writer, follower, _ = pair
    await writer.offer(factory.bundle(10), "test")
    await follower.follow()
    before = files_of(tmp_path)
    factory.write_trust(KEY_B)  # the signer is no longer trusted
    assert await follower.reload_trust()
    assert follower.current is None
    assert files_of(tmp_path) == before  # floors are the writer's to store
    await follower.follow()
    assert follower.current is None  # and it does not come back from the store


async def test_a_follower_takes_over_when_the_writer_is_gone(
    tmp_path: Path,
    factory: Factory,
    clock: FakeClock,
    pair: tuple[BundleManager, BundleManager, Metrics],
):
    writer, follower, follower_metrics = pair
    await writer.offer(factory.bundle(10), "test")
    await writer.offer(factory.bundle(11), "test")  # not followed yet
    writer.store.release_writer()  # the writer process exits
    assert follower.store.claim_writer()
    await follower.take_over()
    assert follower.is_writer
    current = follower.current
    assert current is not None
    assert current.revision == 11
    clock.advance(minutes=1)
    assert (await follower.offer(factory.bundle(12), "test")).result is Result.ACTIVATED
    assert metric(follower_metrics, ACTIVATIONS, result="activated", code="") == 1
    restarted = manager(tmp_path, clock)
    await restarted.start(writer=False)
    current = restarted.current
    assert current is not None
    assert current.revision == 12
    assert restarted.status()["writer"] == {"pid": os.getpid(), "self": False}
    follower.store.release_writer()


async def test_an_expired_bundle_is_followed_under_the_stale_policy(
    factory: Factory, clock: FakeClock, pair: tuple[BundleManager, BundleManager, Metrics]
):
    writer, follower, _ = pair
    await writer.offer(factory.bundle(10, valid=timedelta(hours=2)), "test")
    clock.advance(hours=3)
    await follower.follow()
    current = follower.current
    assert current is not None
    assert current.revision == 10
    assert follower.status()["status"] == "stale"
