"""BundleManager on real directories: activation, refusals, persistence, restart, trust reload,
stale policy and concurrent offers (BUNDLES §4.6-4.8; §6 rows 21, 29-32, 35)."""

import asyncio
import errno
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from edge_assembler.bundles.manager import BundleManager, Outcome, Result, Serving
from edge_assembler.config import Bundles
from edge_assembler.core.bundle import parse_state
from edge_assembler.core.bundle.rules import rules_compiler
from edge_assembler.metrics import Metrics
from tests.bundle_support import KEY_A, KEY_B, KEY_C, kid
from tests.integration.bundles.conftest import (
    NAME,
    T0,
    Factory,
    FakeClock,
    ManagerFactory,
    metric,
    settings_for,
)

ACTIVATIONS = "edge_assembler_bundle_activations_total"


def floor(manager: BundleManager) -> int:
    return manager.state.names[NAME].floor_revision


def disk_floor(manager: BundleManager) -> int:
    data = manager.store.read_state()
    assert data is not None
    return parse_state(data).names[NAME].floor_revision


def refused(outcome: Outcome, code: str) -> None:
    assert outcome == Outcome(Result.REJECTED, code=code, revision=outcome.revision)


async def test_first_offer_activates_persists_and_counts(
    make_manager: ManagerFactory, factory: Factory, clock: FakeClock
):
    metrics = Metrics()
    manager = await make_manager(metrics=metrics)
    assert manager.current is None
    assert manager.status()["status"] == "waiting"
    blob = factory.bundle(10)

    outcome = await manager.offer(blob, "test")

    assert outcome == Outcome(Result.ACTIVATED, revision=10)
    active = manager.current
    assert active is not None
    assert (active.name, active.revision, active.signer_keyids) == (NAME, 10, (kid(KEY_A),))
    target = manager.store.current_target(NAME)
    assert target is not None
    assert target.name == f"10-{active.sha256[:12]}.tar.gz"
    assert target.read_bytes() == blob  # the original bytes, never rewritten
    assert disk_floor(manager) == 10
    assert metric(metrics, ACTIVATIONS, result="activated", code="") == 1
    assert metric(metrics, "edge_assembler_bundle_active_revision") == 10
    assert metric(metrics, "edge_assembler_bundle_expiry_seconds") == pytest.approx(
        (active.expires - clock.now).total_seconds()
    )
    assert manager.status()["status"] == "ok"


async def test_the_same_bundle_again_is_not_modified_and_nothing_swaps(
    make_manager: ManagerFactory, factory: Factory
):
    metrics = Metrics()
    manager = await make_manager(metrics=metrics)
    blob = factory.bundle(10)
    await manager.offer(blob, "a")
    before = manager.current

    outcome = await manager.offer(blob, "b", etag='"v1"')

    assert outcome == Outcome(Result.NOT_MODIFIED, revision=10)
    assert manager.current is before
    assert manager.committed_etag() == '"v1"'  # committed on NOT_MODIFIED (BUNDLES §4.9)
    assert metric(metrics, ACTIVATIONS, result="not_modified", code="") == 1


@pytest.mark.parametrize(
    ("make", "code"),
    [
        pytest.param(lambda f: f.bundle(9), "rollback", id="lower-revision"),
        pytest.param(lambda f: f.bundle(10, rules=b"# other\n"), "equivocation", id="same-rev"),
        pytest.param(lambda f: b"not a bundle", "bad_archive", id="garbage"),
        pytest.param(lambda f: f.bundle(11, keys=[KEY_C]), "signature_invalid", id="stranger"),
        pytest.param(lambda f: f.bundle(11, name="staging-x"), "wrong_name", id="name"),
        pytest.param(
            lambda f: f.bundle(11, rules=b"[[rules]]\nid = 1\n"), "rules_invalid", id="rules"
        ),
    ],
)
async def test_a_refused_offer_keeps_the_last_good_bundle(
    make_manager: ManagerFactory, factory: Factory, make: Any, code: str
):
    metrics = Metrics()
    manager = await make_manager(metrics=metrics, names=["prod-*"])
    await manager.offer(factory.bundle(10), "a")
    before = manager.current

    outcome = await manager.offer(make(factory), "b")

    refused(outcome, code)
    assert manager.current is before
    assert disk_floor(manager) == 10
    error = manager.last_error
    assert error is not None
    assert (error.code, error.origin) == (code, "b")
    assert metric(metrics, ACTIVATIONS, result="rejected", code=code) == 1
    status = manager.status()
    assert status["status"] == "ok"
    assert status["active_revision"] == 10


# -- restart (rows 21, 31) -------------------------------------------------------------


async def test_restart_reloads_the_persisted_bundle_and_keeps_the_floor(
    make_manager: ManagerFactory, factory: Factory
):
    first = await make_manager()
    await first.offer(factory.bundle(11), "a")

    second = await make_manager()

    assert second.current is not None
    assert second.current.revision == 11
    assert second.current.sha256 == first.current.sha256  # type: ignore[union-attr]
    refused(await second.offer(factory.bundle(10), "replay"), "rollback")  # row 21
    assert second.current.revision == 11


async def test_replay_after_restart_once_the_stored_bundle_expired_is_rollback(
    make_manager: ManagerFactory, factory: Factory, clock: FakeClock
):
    first = await make_manager()
    await first.offer(factory.bundle(11, valid=timedelta(days=1)), "a")
    clock.advance(days=3)

    second = await make_manager()

    assert second.current is not None
    assert second.current.revision == 11
    assert second.status()["status"] == "stale"
    fresh_old = factory.bundle(10, created=clock.now - timedelta(hours=1))
    refused(await second.offer(fresh_old, "replay"), "rollback")
    assert second.current.revision == 11


@pytest.mark.parametrize(
    "content", [b"{not json", b"", b'{"names": {"x": {"floor_revision": -1}}}']
)
async def test_startup_with_corrupt_state_reverifies_and_sets_the_floor(
    make_manager: ManagerFactory, factory: Factory, content: bytes
):
    first = await make_manager()
    await first.offer(factory.bundle(12), "a")
    first.store.state_file.write_bytes(content)

    second = await make_manager()

    assert second.current is not None
    assert second.current.revision == 12
    assert floor(second) == 12
    assert disk_floor(second) == 12
    assert any(p.name.startswith("state.json.bad-") for p in second.store.state_dir.iterdir())
    assert second.last_error is not None
    assert second.last_error.code == "bad_state"
    refused(await second.offer(factory.bundle(11), "replay"), "rollback")


async def test_startup_with_missing_state_uses_the_persisted_revision_as_floor(
    make_manager: ManagerFactory, factory: Factory
):
    first = await make_manager()
    await first.offer(factory.bundle(12), "a")
    first.store.state_file.unlink()

    second = await make_manager()

    assert second.current is not None
    assert floor(second) == 12
    refused(await second.offer(factory.bundle(11), "replay"), "rollback")


async def test_startup_with_state_lost_and_min_revision_above_the_store_is_degraded(
    make_manager: ManagerFactory, factory: Factory
):
    first = await make_manager()
    await first.offer(factory.bundle(12), "a")
    first.store.state_file.unlink()

    second = await make_manager(min_revision=20)

    assert second.current is None
    assert second.status()["status"] == "degraded"
    assert second.last_error is not None
    assert second.last_error.code == "rollback"
    assert (await second.offer(factory.bundle(21), "new")).result is Result.ACTIVATED


async def test_startup_with_the_signer_revoked_is_degraded_not_a_crash(
    make_manager: ManagerFactory, factory: Factory
):
    first = await make_manager()
    await first.offer(factory.bundle(12), "a")
    factory.write_trust(KEY_A, KEY_B, status={KEY_A: "revoked"})

    second = await make_manager()

    assert second.current is None
    status = second.status()
    assert status["status"] == "degraded"
    assert second.last_error is not None
    assert second.last_error.code in {"signature_invalid", "threshold_not_met"}
    assert second.last_error.revision == 12
    # Recovery (BUNDLES §4.4 compromise runbook): a good key re-signs at floor + 1.
    assert (await second.offer(factory.bundle(13, keys=[KEY_B]), "ci")).result is Result.ACTIVATED


async def test_startup_without_a_trust_file_is_degraded(
    make_manager: ManagerFactory, factory: Factory
):
    first = await make_manager()
    await first.offer(factory.bundle(12), "a")
    factory.root.joinpath("trust.json").unlink()

    second = await make_manager()

    assert second.current is None
    assert second.status()["status"] == "degraded"
    assert second.status()["trust"]["error"] is not None  # type: ignore[index]
    refused(await second.offer(factory.bundle(13), "a"), "bad_trust")


@pytest.mark.parametrize(
    ("policy", "max_stale", "expected"),
    [
        ("serve", 86_400.0, Serving.RULES),
        ("serve", 3_600.0, Serving.PASSTHROUGH),  # stale for longer than max_stale
        ("serve", 0.0, Serving.RULES),  # 0: no limit
        ("passthrough", 86_400.0, Serving.PASSTHROUGH),
        ("fail", 86_400.0, Serving.FAIL),
    ],
)
async def test_a_persisted_expired_bundle_follows_the_stale_policy(
    make_manager: ManagerFactory,
    factory: Factory,
    clock: FakeClock,
    policy: str,
    max_stale: float,
    expected: Serving,
):
    first = await make_manager()
    await first.offer(factory.bundle(12, valid=timedelta(days=1)), "a")
    clock.advance(days=1, hours=2)  # expired 3 h ago (the bundle was created at T0)

    metrics = Metrics()
    second = await make_manager(metrics=metrics, stale_policy=policy, max_stale=max_stale)

    snap = second.current
    assert snap is not None
    assert snap.revision == 12
    assert second.serving(snap) is expected
    status = second.status()
    assert (status["status"], status["stale"], status["serving"]) == ("stale", True, expected.value)
    assert metric(metrics, "edge_assembler_bundle_stale") == 1
    assert metric(metrics, "edge_assembler_bundle_expiry_seconds") == -3 * 3600
    assert metric(metrics, "edge_assembler_bundle_stale_requests_total", action=expected.value) == 1


async def test_an_active_bundle_becomes_stale_in_place(
    make_manager: ManagerFactory, factory: Factory, clock: FakeClock
):
    manager = await make_manager(stale_policy="passthrough")
    await manager.offer(factory.bundle(12, valid=timedelta(days=1)), "a")
    snap = manager.current
    assert manager.serving(snap) is Serving.RULES
    clock.advance(days=1)
    assert manager.serving(snap) is Serving.PASSTHROUGH
    assert manager.current is snap  # expiry never unloads it (BUNDLES §4.6)


# -- persistence failures (rows 29, 30) ------------------------------------------------


def _enospc(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device", str(args[-1]) if args else "")


@pytest.mark.parametrize("how", ["os.open", "os.replace", "os.fsync", "state-dir-is-a-file"])
async def test_persist_failure_refuses_and_keeps_the_old_bundle(
    make_manager: ManagerFactory, factory: Factory, monkeypatch: pytest.MonkeyPatch, how: str
):
    metrics = Metrics()
    manager = await make_manager(metrics=metrics)
    await manager.offer(factory.bundle(10), "a")
    before = manager.current
    link_before = manager.store.current_target(NAME)
    if how.startswith("os."):
        monkeypatch.setattr(os, how.removeprefix("os."), _enospc)
    elif how == "state-dir-is-a-file":
        state_dir = manager.store.state_dir
        for p in state_dir.iterdir():
            p.unlink()
        state_dir.rmdir()
        state_dir.write_bytes(b"")

    outcome = await manager.offer(factory.bundle(11), "b")

    monkeypatch.undo()
    refused(outcome, "persist_failed")
    assert manager.current is before
    assert manager.store.current_target(NAME) == link_before
    assert floor(manager) == 10
    assert metric(metrics, ACTIVATIONS, result="rejected", code="persist_failed") == 1
    if how != "state-dir-is-a-file":
        # Nothing was activated, so the same bundle is retried and now succeeds.
        assert (await manager.offer(factory.bundle(11), "b")).result is Result.ACTIVATED


class Crash(Exception):
    """Stands for the process dying at one step of the persist sequence."""


@pytest.fixture
def crash_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Arm a crash at the k-th persistence syscall (fsync, replace, symlink, write)."""
    calls = {"n": 0, "at": -1}
    real = {name: getattr(os, name) for name in ("fsync", "replace", "symlink", "write")}

    def wrap(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] - 1 == calls["at"]:
                raise Crash(f"{name} #{calls['at']}")
            return real[name](*args, **kwargs)

        return call

    for name in real:
        monkeypatch.setattr(os, name, wrap(name))

    def arm(k: int) -> dict[str, int]:
        calls["n"], calls["at"] = 0, k
        return calls

    return arm


async def test_a_crash_at_any_persist_step_restarts_with_old_or_new(
    tmp_path: Path, factory: Factory, clock: FakeClock, crash_at: Any
):
    old, new = factory.bundle(10), factory.bundle(11)

    async def node(root: Path) -> BundleManager:
        manager = BundleManager(_settings(root), metrics=Metrics(), clock=clock)
        await manager.start()
        return manager

    # Count the syscalls of one clean activation, then crash at each of them in turn.
    counter = crash_at(-1)
    probe = await node(tmp_path / "probe")
    await probe.offer(old, "a")
    crash_at(-1)
    await probe.offer(new, "a")
    steps = counter["n"]
    assert steps >= 8

    for k in range(steps):
        root = tmp_path / f"k{k}"
        crash_at(-1)
        first = await node(root)
        await first.offer(old, "a")
        crash_at(k)
        with pytest.raises(Crash):
            await first.offer(new, "a")
        crash_at(-1)

        second = await node(root)

        active = second.current
        assert active is not None, k
        assert active.revision in (10, 11), k
        assert floor(second) >= active.revision, k
        assert disk_floor(second) >= active.revision, k
        again = await second.offer(new, "a")
        assert again.result in (Result.ACTIVATED, Result.NOT_MODIFIED), (k, again)
        assert second.current is not None
        assert second.current.revision == 11


def _settings(root: Path) -> Bundles:
    return settings_for(root.parent, state_dir=str(root))


# -- trust reload (row 32, fast-forward recovery) --------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"version": 2, "keys": [', id="invalid-json"),
        pytest.param(None, id="duplicate-keyid"),
    ],
)
async def test_an_invalid_trust_reload_keeps_the_old_trust(
    make_manager: ManagerFactory, factory: Factory, raw: bytes | None
):
    metrics = Metrics()
    manager = await make_manager(metrics=metrics)
    await manager.offer(factory.bundle(10), "a")
    if raw is None:
        factory.write_trust(KEY_A, KEY_A, version=2)
    else:
        factory.write_trust(raw=raw)

    assert await manager.reload_trust() is False

    trust_status = manager.status()["trust"]
    assert trust_status["error"] is not None  # type: ignore[index]
    assert trust_status["error"].code == "bad_trust"  # type: ignore[index]
    assert metric(metrics, "edge_assembler_bundle_trust_reloads_total", result="error") == 1
    assert manager.current is not None
    assert manager.current.revision == 10
    # The old trust still verifies new bundles.
    assert (await manager.offer(factory.bundle(11), "a")).result is Result.ACTIVATED
    factory.write_trust(KEY_A, version=3)
    assert await manager.reload_trust() is True
    assert manager.status()["trust"]["error"] is None  # type: ignore[index]


async def test_revoking_the_signer_of_a_fast_forward_recovers_the_floor(
    make_manager: ManagerFactory, factory: Factory
):
    factory.write_trust(KEY_A, KEY_B)
    manager = await make_manager()
    await manager.offer(factory.bundle(10), "ci")
    # A leaked key B pushes a huge revision: the floor jumps.
    assert (
        await manager.offer(factory.bundle(10**9, keys=[KEY_B]), "x")
    ).result is Result.ACTIVATED
    refused(await manager.offer(factory.bundle(11), "ci"), "rollback")

    factory.write_trust(KEY_A, KEY_B, status={KEY_B: "revoked"}, version=2)
    assert await manager.reload_trust() is True

    assert floor(manager) == 10
    assert disk_floor(manager) == 10
    assert manager.current is None  # the revoked key's bundle is no longer served
    assert manager.last_error is not None
    assert manager.last_error.revision == 10**9
    assert (await manager.offer(factory.bundle(11), "ci")).result is Result.ACTIVATED
    assert await manager.reload_trust() is False  # unchanged file: nothing to do


# -- concurrency (row 35) --------------------------------------------------------------


async def test_concurrent_offers_are_serialized_and_the_highest_wins(
    tmp_path: Path, factory: Factory, clock: FakeClock
):
    inside, most = 0, 0
    guard = threading.Lock()

    def counting_compiler(manifest: Any, files: Any) -> Any:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        try:
            return rules_compiler(manifest, files)
        finally:
            with guard:
                inside -= 1

    metrics = Metrics()
    manager = BundleManager(
        _settings(tmp_path / "node"), metrics=metrics, clock=clock, compile=counting_compiler
    )
    await manager.start()
    r11, r12, r10 = factory.bundle(11), factory.bundle(12), factory.bundle(10)

    same = await asyncio.gather(manager.offer(r11, "http"), manager.offer(r11, "file"))
    assert sorted(o.result.value for o in same) == ["activated", "not_modified"]
    assert metric(metrics, ACTIVATIONS, result="activated", code="") == 1

    mixed = await asyncio.gather(
        manager.offer(r12, "http"), manager.offer(r10, "file"), manager.offer(r11, "file")
    )
    assert [o.result for o in mixed] == [Result.ACTIVATED, Result.REJECTED, Result.REJECTED]
    assert [o.code for o in mixed] == ["", "rollback", "rollback"]
    assert metric(metrics, ACTIVATIONS, result="activated", code="") == 2
    assert manager.current is not None
    assert manager.current.revision == 12
    assert most == 1  # one verification at a time


async def test_status_document_fields(make_manager: ManagerFactory, factory: Factory):
    manager = await make_manager()
    await manager.offer(factory.bundle(10), "a", etag='"e1"')
    status = manager.status()
    assert status["name"] == NAME
    assert status["active_revision"] == 10
    assert status["floor"] == {NAME: 10}
    assert status["etag"] == '"e1"'
    assert status["signer_keyids"] == [kid(KEY_A)]
    assert status["expires"] == T0 + timedelta(days=14)
    assert status["last_error"] is None
    assert status["seconds_since_last_check"] is not None
