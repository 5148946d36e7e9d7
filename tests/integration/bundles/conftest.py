"""Fixtures for the node side of rule bundles: real keys, real signed archives, a fake clock,
managers on real directories."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_assembler.bundles.manager import BundleManager
from edge_assembler.config import Bundles
from edge_assembler.core.bundle import public_raw, trust_entry
from edge_assembler.metrics import Metrics
from tests.bundle_support import KEY_A, BundleFactory

T0 = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)
NAME = "prod-global"
RULES_DOC = b"""
[[assets]]
id = "ad"
kind = "ad"
hls = "/vod/ad/{rendition}"
dash = "/dash/ad/manifest.mpd"
duration = 10

[[rules]]
id = "preroll"
match = { live = false }
actions = [{ kind = "ad_break", slot = "pre", pod = ["ad"] }]
"""


class FakeClock:
    """An aware UTC clock that only moves when told to."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Factory:
    """Signed bundles (``BundleFactory``, real rules) and trust files written to ``root``."""

    root: Path
    key: Ed25519PrivateKey = KEY_A

    def bundle(
        self,
        revision: int,
        *,
        name: str = NAME,
        keys: Sequence[Ed25519PrivateKey] | None = None,
        created: datetime = T0,
        valid: timedelta = timedelta(days=14),
        rules: bytes = RULES_DOC,
    ) -> bytes:
        files = {"rules/main.toml": rules + f"# revision {revision}\n".encode()}
        return BundleFactory(
            name=name,
            revision=revision,
            created=created,
            expires=created + valid,
            files=files,
            signers=tuple(keys) if keys is not None else (self.key,),
        ).build()

    def write_trust(
        self,
        *keys: Ed25519PrivateKey,
        status: Mapping[Ed25519PrivateKey, str] | None = None,
        version: int = 1,
        raw: bytes | None = None,
    ) -> Path:
        """Replace trust.json atomically (with ``raw`` bytes, or a document of ``keys``)."""
        entries = []
        for key in keys or (self.key,):
            entry = trust_entry(public_raw(key))
            entry["status"] = (status or {}).get(key, "active")
            entries.append(entry)
        doc = {"version": version, "policies": [], "keys": entries}
        path = self.root / "trust.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(raw if raw is not None else json.dumps(doc).encode())
        tmp.replace(path)
        return path


@pytest.fixture
def factory(tmp_path: Path) -> Factory:
    f = Factory(tmp_path)
    f.write_trust()
    return f


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + timedelta(hours=1))


def settings_for(root: Path, **overrides: Any) -> Bundles:
    base: dict[str, Any] = {
        "sources": [str(root / "drop")],
        "trust": str(root / "trust.json"),
        "state_dir": str(root / "node"),
    }
    return Bundles(**(base | overrides))


ManagerFactory = Callable[..., Awaitable[BundleManager]]


@pytest.fixture
async def make_manager(
    tmp_path: Path, factory: Factory, clock: FakeClock
) -> AsyncIterator[ManagerFactory]:
    async def make(*, metrics: Metrics | None = None, **overrides: Any) -> BundleManager:
        manager = BundleManager(
            settings_for(tmp_path, **overrides), metrics=metrics or Metrics(), clock=clock
        )
        await manager.start()
        return manager

    return make


def metric(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value
