"""End-to-end fixtures: the real demo stack, headless Debian Chromium and a harness page.

Everything here is real and on loopback: ``edge-assembler demo`` runs as a subprocess
(origin, live encoder, edge), Chromium is ``/usr/bin/chromium`` driven by Python playwright
(never ``playwright install``), and the players are hls.js and dash.js from ``node_modules``
(``npm ci``, pinned in package-lock.json). ``make test`` installs all of it. Outside CI a
missing tool skips these tests with what to install; with ``CI`` set it is a failure.

The session-scoped async fixtures live in the session event loop, so every test in this
directory runs in that loop too (``pytest_collection_modifyitems``).

Fixture contract (the demo page test uses it): ``demo_stack`` (``edge_url``, ``origin_url``,
base URLs without a trailing slash), ``browser`` (a playwright ``Browser``, session) and
``page`` (a fresh ``Page`` per test, closed afterwards).
"""

import asyncio
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
import pytest_asyncio
from aiohttp import web

from edge_assembler.demo.media import ensure_media
from edge_assembler.server.runner import urls
from tests.conftest import free_port

if TYPE_CHECKING:  # playwright is imported lazily: without it the tests skip or fail
    from playwright.async_api import Browser, Page

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
E2E_DIR: Final = Path(__file__).resolve().parent
HARNESS_DIR: Final = E2E_DIR / "harness"
CHROMIUM: Final = "/usr/bin/chromium"
# The player builds the pages load; `npm ci` puts them here (package-lock.json pins them).
PLAYER_FILES: Final = {
    "hls.min.js": REPO_ROOT / "node_modules/hls.js/dist/hls.min.js",
    "dash.all.min.js": REPO_ROOT / "node_modules/dashjs/dist/modern/umd/dash.all.min.js",
}
# REALCLIENT.md §5: Playwright adds --headless, --no-sandbox and a fresh profile itself; the
# /usr/bin/chromium wrapper's /dev/shm probe is broken on these VMs, so pass it ourselves.
CHROMIUM_ARGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
)
BANNER_END: Final = "Stop with Ctrl-C."
# First run generates the media (~30 s on 2 cores); the fixture does that before starting.
DEMO_START_TIMEOUT: Final = 60.0
E2E_DEADLINE: Final = 1.0  # seconds: [personalise].deadline of the demo stack
DEMO_STOP_TIMEOUT: Final = 15.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if Path(str(item.path)).is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)
            if asyncio.iscoroutinefunction(getattr(item, "function", None)):
                item.add_marker(session_loop, append=False)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def _missing(what: str) -> None:
    message = f"{what}; run `make test` (it installs ffmpeg, chromium, playwright, npm packages)"
    if _in_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def e2e_media() -> Path:
    """The generated demo media (shared cache with the integration tests and `make run`)."""
    if shutil.which("ffmpeg") is None:
        _missing("ffmpeg not found on PATH")
    return ensure_media(media_cache_root())


def media_cache_root() -> Path:
    configured = os.environ.get("EDGE_ASSEMBLER_MEDIA_CACHE")
    return Path(configured) if configured else REPO_ROOT / ".cache" / "demo-media"


@dataclass(frozen=True, slots=True)
class DemoStack:
    """A running `edge-assembler demo`: edge and origin base URLs, and its log file."""

    edge_url: str
    origin_url: str
    log: Path
    media: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def demo_stack(
    e2e_media: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DemoStack]:
    """`edge-assembler demo` as a real process on loopback, with the live encoder."""
    edge_port, origin_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    # A file, not a pipe: the access log of a whole session must never block the server.
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "edge_assembler", "demo",
            "--listen", f"127.0.0.1:{edge_port}",
            "--origin-listen", f"127.0.0.1:{origin_port}",
            "--media-cache", str(media_cache_root()),
            # The players are under test here, not the deadline (test_fault_playback.py is):
            # a busy machine can take the demo's 50 ms over a plan's first composition.
            "--set", f"personalise.deadline={E2E_DEADLINE}",
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        banner = await _wait_for_banner(proc, log)
        origin = re.search(r"demo origin: +(http://\S+)/ ", banner)
        assert origin, banner
        yield DemoStack(f"http://127.0.0.1:{edge_port}", origin[1], log, e2e_media)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), DEMO_STOP_TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, f"demo exited {proc.returncode}:\n{log.read_text()[-4000:]}"


async def _wait_for_banner(proc: asyncio.subprocess.Process, log: Path) -> str:
    deadline = time.monotonic() + DEMO_START_TIMEOUT
    while time.monotonic() < deadline:
        text = await asyncio.to_thread(log.read_text, errors="replace")
        if BANNER_END in text:
            return text
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.1)
    raise AssertionError(f"demo did not start (rc={proc.returncode}):\n{text[-4000:]}")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def harness_url() -> AsyncIterator[str]:
    """Base URL of a loopback server with the harness pages and the player builds."""
    for name, path in PLAYER_FILES.items():
        if not path.is_file():
            _missing(f"{path.relative_to(REPO_ROOT)} missing ({name}): run `npm ci`")
    app = web.Application()
    for name, path in PLAYER_FILES.items():
        app.router.add_get(f"/{name}", _file(path))
    for path in sorted(HARNESS_DIR.iterdir()):
        app.router.add_get(f"/{path.name}", _file(path))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield urls(runner)[0].rstrip("/")
    finally:
        await runner.cleanup()


def _file(path: Path) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    types = {".html": "text/html", ".js": "text/javascript"}

    async def handler(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers={"Content-Type": types[path.suffix]})

    return handler


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator["Browser"]:
    """Headless Debian Chromium (`/usr/bin/chromium`) under playwright, for the session."""
    _require_chromium()
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _missing("Python playwright is not installed (pip install -e '.[dev]')")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield chromium
        finally:
            await chromium.close()


def _require_chromium() -> None:
    if not Path(CHROMIUM).is_file():
        _missing(f"{CHROMIUM} not found (apt-get install chromium)")


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: "Browser") -> AsyncIterator["Page"]:
    """A fresh page (own browser context) per test, closed afterwards."""
    context = await browser.new_context()
    try:
        yield await context.new_page()
    finally:
        await context.close()
