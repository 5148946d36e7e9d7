"""The image's command line, run outside a container: the project's wheel, built from what
deploy/Dockerfile's build stage copies, installed alone in a fresh venv at the image's venv
path under a stand-in root; then the default stage's ENTRYPOINT + CMD with the image's
environment, the mounts of deploy/compose.yaml's edges as temporary files, in front of the
demo origin (generated media) on loopback. The bundle is made by the compose stack's own
bundle step (deploy/compose/demo-bundle.sh)."""

import asyncio
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from edge_assembler.demo.origin import create_origin_app
from edge_assembler.server.runner import urls
from tests.conftest import free_port
from tests.integration.container_support import (
    DEPLOY,
    compose,
    dockerignore_rules,
    ignored,
    mounted_file,
    parse_dockerfile,
)

pytestmark = pytest.mark.media

REPO = DEPLOY.parent
IMAGE = parse_dockerfile()
NODE = IMAGE.default_stage
EDGE_SERVICE = compose()["services"]["edge-1"]
BUNDLE_SCRIPT = DEPLOY / "compose" / "demo-bundle.sh"
# The paths of the image and of its mounts that the stand-in root holds.
CONTAINER_ROOTS = ("/opt/edge-assembler", "/etc/edge-assembler", "/var/lib/edge-assembler")
TOKEN_URI = re.compile(r"(/[^\s\"?]+)\?eas=[\w.-]+")
START_TIMEOUT = 20.0


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy of exactly what the build stage COPYs (less
    what Dockerfile.dockerignore leaves out of the build context)."""
    context = tmp_path_factory.mktemp("build-context")
    rules = dockerignore_rules()
    for sources, destination in IMAGE.stages["build"].copies:
        for source in sources:
            _copy_context(source, context / destination, rules)
    wheelhouse = tmp_path_factory.mktemp("wheels")
    # The build stage resolves the build backend from the index; here the project venv's
    # setuptools builds it, offline.
    pip = [sys.executable, "-m", "pip", "--quiet"]
    build = ["wheel", "--no-deps", "--no-index", "--no-build-isolation", "--wheel-dir"]
    subprocess.run([*pip, *build, str(wheelhouse), str(context)], check=True, capture_output=True)
    (built,) = wheelhouse.glob("edge_assembler-*.whl")
    return built


def _copy_context(source: str, destination: Path, rules: list[str]) -> None:
    """COPY ``source`` (relative to the repository, the build context) to ``destination``:
    a file into a directory, or a directory's contents into one."""
    path = REPO / source
    assert path.exists(), source
    if path.is_file():
        destination.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination / path.name)
        return
    for file in path.rglob("*"):
        relative = file.relative_to(REPO).as_posix()
        if file.is_file() and not ignored(relative, rules):
            target = destination / file.relative_to(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)


@pytest.fixture(scope="session")
def image_root(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for the image's file system: the venv at <root>/opt/edge-assembler, made
    as the runtime stage makes it (no pip in it; another pip installs the wheel there).

    The image installs the dependencies from wheels its build stage downloads. No index is
    reachable here, so the fresh venv gets only the project's wheel, and a .pth file puts
    the project venv's site-packages (where `make` installed the pinned dependencies) after
    its own: a plain path line adds that directory and runs nothing in it, so the editable
    install's import hook there stays off and `edge_assembler` is the wheel's."""
    root = tmp_path_factory.mktemp("image-root")
    venv = root / NODE.env["VIRTUAL_ENV"].lstrip("/")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--quiet", "--python", str(python)]
    install = ["install", "--no-index", "--no-deps", str(wheel)]
    subprocess.run([*pip, *install], check=True, capture_output=True)
    (site,) = (venv / "lib").glob("python3.*/site-packages")
    (site / "edge-assembler-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run(
        [python, "-c", "import edge_assembler; print(edge_assembler.__file__)"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert Path(where.strip()).is_relative_to(site), where
    return root


def on_host(value: str, image_root: Path, mounts: Path) -> str:
    """``value`` with the image's paths moved under the stand-in root and the mounts'
    paths under ``mounts``."""
    for container_path in CONTAINER_ROOTS:
        base = image_root if container_path.startswith("/opt/") else mounts
        value = value.replace(container_path, f"{base}{container_path}")
    return value


@pytest.fixture
async def origin_url(demo_media: Path) -> AsyncIterator[str]:
    """The demo origin (its media made by ffmpeg), without the live encoder."""
    runner = web.AppRunner(create_origin_app(demo_media), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield urls(runner)[0]
    await runner.cleanup()


def make_bundle(env: dict[str, str], mounts: Path) -> Path:
    """The compose stack's bundle step, run with the wheel's `edge-assembler`: the key
    and trust store in their mounts, the signed bundle in a staging directory."""
    staging = mounts / "staging"
    keys, trust = mounts / "keys", mounts / "etc/edge-assembler/trust"
    for directory in (staging, keys, trust):
        directory.mkdir(parents=True)
    subprocess.run(
        [
            "/bin/sh",
            str(BUNDLE_SCRIPT),
            str(REPO / "rules/demo"),
            str(keys),
            str(trust),
            str(staging),
        ],
        env=env,
        cwd=mounts,
        check=True,
        capture_output=True,
    )
    (bundle,) = staging.glob("*.tar.gz")
    return bundle


def run_healthcheck(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command, as the runtime runs it: exec form, the container's
    environment, a timeout."""
    return subprocess.run(
        list(NODE.healthcheck),
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=float(NODE.healthcheck_options["timeout"].removesuffix("s")) + 5,
    )


async def poll(session: aiohttp.ClientSession, url: str, status: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last: object = None
    while time.monotonic() < deadline:
        try:
            async with session.get(url) as r:
                last = r.status
                if r.status == status:
                    return
        except aiohttp.ClientConnectionError as exc:
            last = exc
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url}: no {status} in {START_TIMEOUT} s (last: {last!r})")


async def ready_gauge(session: aiohttp.ClientSession, url: str) -> float:
    async with session.get(url) as r:
        text = await r.text()
    (value,) = (
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "edge_assembler_ready"
    )
    return value


@dataclass(frozen=True)
class Container:
    """What the runtime would give the process: its environment and its mounts."""

    env: dict[str, str]
    mounts: Path
    port: int
    bundle: Path  # signed, not yet in the mounted bundle directory
    bundles: Path  # the mounted bundle directory


@pytest.fixture
def container(image_root: Path, origin_url: str, tmp_path: Path) -> Container:
    mounts = tmp_path / "mounts"
    (mounts / "tmp").mkdir(parents=True)
    port = free_port()
    # The image's environment, the compose edge's own, and loopback stand-ins for what the
    # stack's network provides: the published port, the origin service and Redis (the
    # break history is the live tests' subject; nothing here reads it).
    env = {name: on_host(value, image_root, mounts) for name, value in NODE.env.items()}
    env["EDGE_ASSEMBLER_HEALTHCHECK_URL"] = env["EDGE_ASSEMBLER_HEALTHCHECK_URL"].replace(
        "127.0.0.1:8080", f"127.0.0.1:{port}"
    )
    env |= {name: str(value) for name, value in EDGE_SERVICE["environment"].items()}
    env |= {
        "EDGE_ASSEMBLER_LISTEN": f"127.0.0.1:{port}",
        "EDGE_ASSEMBLER_ORIGIN": origin_url,
        "EDGE_ASSEMBLER__LIVE__HISTORY": "memory",
        "TMPDIR": str(mounts / "tmp"),  # the /tmp tmpfs
    }
    # The compose edges' config file, its paths moved as the mounts are.
    config = Path(env["EDGE_ASSEMBLER_CONFIG"])
    config.parent.mkdir(parents=True)
    text = mounted_file(EDGE_SERVICE, NODE.env["EDGE_ASSEMBLER_CONFIG"]).read_text()
    config.write_text(on_host(text, image_root, mounts))
    bundles = mounts / "etc/edge-assembler/bundles"
    bundles.mkdir(parents=True)
    (mounts / "var/lib/edge-assembler").mkdir(parents=True)
    return Container(env, mounts, port, make_bundle(env, mounts), bundles)


async def test_the_image_command_serves_the_origin_and_gates_readiness_on_the_bundle(
    container: Container, image_root: Path, demo_media: Path, tmp_path: Path
) -> None:
    env, mounts, port = container.env, container.mounts, container.port
    command = NODE.command
    assert Path(shutil.which(command[0], path=env["PATH"]) or "").is_relative_to(image_root)

    edge = f"http://127.0.0.1:{port}"
    admin = f"{edge}/_edge"
    log = (tmp_path / "edge.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=mounts, stdin=subprocess.DEVNULL, stdout=log, stderr=log
    )
    try:
        async with aiohttp.ClientSession() as session:
            # Up, and not ready while the bundle directory is empty.
            await poll(session, f"{admin}/healthz", 200)
            async with session.get(f"{admin}/readyz") as r:
                assert r.status == 503
            assert await ready_gauge(session, f"{admin}/metrics") == 0
            healthcheck = await asyncio.to_thread(run_healthcheck, env, mounts)
            assert healthcheck.returncode == 0, healthcheck.stderr

            # The bundle lands in the mounted directory (as a ConfigMap update would).
            container.bundle.rename(container.bundles / container.bundle.name)
            await poll(session, f"{admin}/readyz", 200)
            for _ in range(50):  # the workers store the gauge every few seconds
                if await ready_gauge(session, f"{admin}/metrics") == 1:
                    break
                await asyncio.sleep(0.2)
            assert await ready_gauge(session, f"{admin}/metrics") == 1
            # The writable mounts are where the node writes: the bundle state, and the
            # workers' metrics files in /tmp.
            assert (mounts / "var/lib/edge-assembler/state").is_dir()
            assert list((mounts / "tmp").glob("edge-assembler-metrics-*"))

            # A new viewer's master: the origin's, with each child URI tokened for the
            # session, decided by the bundle.
            path = "/vod/content/master.m3u8"
            async with session.get(edge + path) as r:
                assert r.status == 200
                assert r.headers["X-Edge-Decision"].startswith("rev=")
                master = await r.read()
            assert _untokened(master, path) == (demo_media / "hls/content/master.m3u8").read_bytes()
            segment = "/vod/content/720p/seg_003.ts"
            async with session.get(edge + segment) as r:
                assert r.status == 200
                body = await r.read()
            assert body == (demo_media / "hls" / segment.removeprefix("/vod/")).read_bytes()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
        log.close()
    logged = (tmp_path / "edge.log").read_text(errors="replace")[-4000:]
    assert proc.returncode == 0, logged
    # Nothing answers once the node is gone: the check reports it.
    healthcheck = await asyncio.to_thread(run_healthcheck, env, mounts)
    assert healthcheck.returncode != 0


def _untokened(manifest: bytes, path: str) -> bytes:
    """``manifest`` with its tokened edge child URIs made relative to ``path`` again."""
    folder = path.rpartition("/")[0] + "/"
    return TOKEN_URI.sub(lambda m: m[1].removeprefix(folder), manifest.decode()).encode()
