"""A real Redis for the live tests: Debian's ``redis-server`` on a free loopback port, no
persistence. ``make test`` installs it; outside CI a missing ``redis-server`` skips these
tests with that hint, with ``CI`` set it is a failure."""

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

MISSING_REDIS = (
    "redis-server not found on PATH: run `make test` (it installs redis-server with apt) "
    "to run the Redis tests"
)
START_TIMEOUT = 5.0


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


class RedisServer:
    """A ``redis-server`` process that a test can stop, pause and start again on the
    same port (a Redis outage and its recovery)."""

    def __init__(self, binary: str, directory: Path, password: str | None = None) -> None:
        self.binary = binary
        self.directory = directory
        self.password = password
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.directory)]
        if self.password:
            args += ["--requirepass", self.password]
        log_path = self.directory / "redis.log"
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._pong():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"redis-server did not start:\n{log_path.read_text()}")
            time.sleep(0.01)

    def _pong(self) -> bool:
        auth = f"AUTH {self.password}\r\n" if self.password else ""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as conn:
                conn.sendall(f"{auth}PING\r\n".encode())
                reply = b""
                while chunk := conn.recv(64):
                    reply += chunk
                    if b"+PONG" in reply or b"-" in reply:
                        break
        except OSError:
            return False
        return b"+PONG" in reply

    def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGCONT)  # a paused server cannot shut down
        self.process.terminate()
        self.process.wait(timeout=START_TIMEOUT)

    def pause(self) -> None:
        """Freeze the server: connections stay open and nothing answers (a hung Redis)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture(scope="session")
def redis_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        if _in_ci():
            pytest.fail(MISSING_REDIS)
        pytest.skip(MISSING_REDIS)
    return path


@pytest.fixture
def redis_server(redis_binary: str, tmp_path: Path) -> Iterator[RedisServer]:
    """A running Redis; the test may stop and restart it."""
    server = RedisServer(redis_binary, tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url
