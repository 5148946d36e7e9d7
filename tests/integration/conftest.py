"""Fixtures for tests that need ffmpeg and the generated demo media, and for the tests of
personalising edges (``node_factory``, ``http``)."""

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from edge_assembler.demo.media import ensure_media
from tests.conftest import Origin
from tests.integration.personalise_support import NodeFactory, Nodes

REPO_ROOT = Path(__file__).resolve().parents[2]
MISSING_FFMPEG = (
    "ffmpeg not found on PATH: install it (apt-get install ffmpeg, or `make test`) "
    "to run the demo media tests"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    """Path to ffmpeg; skips outside CI and fails under CI when it is missing."""
    path = shutil.which("ffmpeg")
    if path is None:
        if _in_ci():
            pytest.fail(MISSING_FFMPEG)
        pytest.skip(MISSING_FFMPEG)
    return path


@pytest.fixture(scope="session")
def media_cache_root() -> Path:
    """EDGE_ASSEMBLER_MEDIA_CACHE if set, else <repo>/.cache/demo-media."""
    configured = os.environ.get("EDGE_ASSEMBLER_MEDIA_CACHE")
    return Path(configured) if configured else REPO_ROOT / ".cache" / "demo-media"


@pytest.fixture(scope="session")
def demo_media(ffmpeg: str, media_cache_root: Path) -> Path:
    """The generated VOD demo media, shared by the whole session (and across runs)."""
    return ensure_media(media_cache_root)


@pytest.fixture
async def node_factory(origin: Origin, tmp_path: Path) -> AsyncIterator[NodeFactory]:
    """Edges with the demo rules in front of ``origin`` (``personalise_support.Nodes``)."""
    nodes = Nodes(origin, tmp_path)
    yield nodes.make
    await nodes.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:  # decompresses gzip answers
        yield session
