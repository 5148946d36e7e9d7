"""Shared fixtures: a real loopback origin and edges built from real configs."""

import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from hypothesis import settings

from edge_assembler.config import NodeConfig, load_config
from edge_assembler.server.app import create_app
from edge_assembler.server.runner import start, urls
from edge_assembler.server.state import METRICS
from tests.integration.origin_app import OriginState, create_origin

settings.register_profile("ci", max_examples=300, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite golden files from the current output (review the diff before committing)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@dataclass
class Origin:
    state: OriginState
    url: str


@dataclass
class Edge:
    app: web.Application
    config: NodeConfig
    url: str

    def metric(self, name: str, **labels: str) -> float:
        value = self.app[METRICS].registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


EdgeFactory = Callable[..., Awaitable[Edge]]


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def origin(tmp_path: Path) -> AsyncIterator[Origin]:
    files = tmp_path / "files"
    files.mkdir()
    (files / "seg.ts").write_bytes(os.urandom(256 * 1024))
    state = OriginState(files=files)
    runner = web.AppRunner(create_origin(state), handler_cancellation=True, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield Origin(state, urls(runner)[0])
    await runner.cleanup()


@pytest.fixture
async def edge_factory(origin: Origin) -> AsyncIterator[EdgeFactory]:
    runners: list[web.AppRunner] = []

    async def make(*sets: str, origin_url: str | None = None) -> Edge:
        own_origins = any(s.startswith("origins=") for s in sets)
        config = load_config(
            None,
            origin=None if own_origins else origin_url or origin.url,
            listen=["127.0.0.1:0"],
            sets=sets,
        )
        app = create_app(config)
        runner = await start(app, config)
        runners.append(runner)
        return Edge(app, config, urls(runner)[0])

    yield make
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def edge(edge_factory: EdgeFactory) -> Edge:
    return await edge_factory()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session
