"""``serve --workers N``: a supervisor and N worker processes sharing the listen ports.

The supervisor binds every listen address first (a clear error, ports resolved once for
``:0``), and keeps those bound, never listening, sockets so a restarted worker can always
bind again. Each worker is a fresh interpreter running the edge app on uvloop, listening with
SO_REUSEPORT, so the kernel spreads new connections over the workers. The supervisor sends
the effective configuration on the worker's stdin and keeps that pipe open: its end tells a
worker the supervisor is gone. Worker metrics go to a private prometheus_client multiprocess
directory, which ``{admin_prefix}/metrics`` of any worker merges.

A worker that exits unasked is restarted, at once after a stable run and with an
exponential backoff while it keeps failing fast. SIGTERM or SIGINT is forwarded to every
worker; each drains as a single process does, and the supervisor exits 0 once all did.
"""

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass, field

import msgspec
import uvloop
from prometheus_client.multiprocess import mark_process_dead

from edge_assembler.config import ConfigError, NodeConfig, Session
from edge_assembler.metrics import MULTIPROC_DIR_ENV
from edge_assembler.server import logs, runner

log = logging.getLogger("edge_assembler.server")

WORKER_COMMAND = (sys.executable, "-m", "edge_assembler.server.workers")
# A worker that ran this long (seconds) before exiting is restarted at once.
STABLE_RUN = 10.0
RESTART_BACKOFF_MIN = 0.5
RESTART_BACKOFF_MAX = 30.0
# Beyond drain_timeout, how long workers get to exit before they are killed (seconds).
STOP_GRACE = 5.0
SESSION_KEY_ID = "local"


def run(config: NodeConfig) -> int:
    """Supervise ``config.worker_count()`` workers until SIGTERM or SIGINT; the exit status."""
    sockets, listen = _reserve(config)
    config = msgspec.structs.replace(config, listen=listen, session=_shared_keys(config.session))
    directory = tempfile.mkdtemp(prefix="edge-assembler-metrics-")
    try:
        return uvloop.run(Supervisor(config, directory).run())
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        for sock in sockets:
            sock.close()


def _reserve(config: NodeConfig) -> tuple[list[socket.socket], tuple[str, ...]]:
    """Bind (SO_REUSEPORT, no listen) every listen address; the addresses with their ports
    resolved. The probe makes a port another process holds (another edge on the same port
    included) an error rather than a port silently shared with it."""
    sockets: list[socket.socket] = []
    listen: list[str] = []
    try:
        for i, (host, port) in enumerate(config.listen_addresses()):
            try:
                port = runner.bind(sockets, host, port, share=True, probe=True)
            except OSError as exc:
                raise ConfigError(
                    f"$.listen[{i}]: cannot listen on {config.listen[i]!r}: {exc.strerror or exc}"
                ) from None
            listen.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets, tuple(listen)


def _shared_keys(session: Session) -> Session:
    """With no session keys configured, one random key for every worker, so a token made by
    one worker verifies on the others (README "Sessions and context")."""
    if session.keys:
        return session
    log.warning(
        "no [session] keys configured: the workers sign session tokens with a random key of "
        "this node (tokens do not survive a restart nor reach other nodes)"
    )
    return msgspec.structs.replace(
        session, keys={SESSION_KEY_ID: secrets.token_urlsafe(32)}, active_key=SESSION_KEY_ID
    )


@dataclass
class Supervisor:
    """Keeps ``config.worker_count()`` workers running until SIGTERM or SIGINT."""

    config: NodeConfig
    metrics_dir: str
    stop_signal: signal.Signals | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    workers: dict[int, asyncio.subprocess.Process] = field(default_factory=dict)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop, sig)
        count = self.config.worker_count()
        log.info("starting %d workers on %s", count, ", ".join(self.config.listen))
        if self.config.live.history == "memory":
            log.warning(
                'live.history is "memory": each worker records the breaks it sees itself; '
                "a redis:// history gives the workers (and nodes) one record per break"
            )
        slots = [asyncio.ensure_future(self._slot(i)) for i in range(count)]
        await self.stopping.wait()
        _, late = await asyncio.wait(slots, timeout=self.config.drain_timeout + STOP_GRACE)
        for index, proc in self.workers.items():
            if proc.returncode is None:
                log.error("worker %d (pid %d) did not stop: killing it", index, proc.pid)
                proc.kill()
        clean = all(slot.result() for slot in slots if slot not in late)
        if late:
            await asyncio.wait(late)
        log.info("stopped")
        return 0 if clean and not late else 1

    def _stop(self, sig: signal.Signals) -> None:
        if self.stop_signal is not None:
            return
        log.info("%s: stopping %d workers", sig.name, len(self.workers))
        self.stop_signal = sig
        self.stopping.set()
        for proc in self.workers.values():
            if proc.returncode is None:
                proc.send_signal(sig)

    async def _slot(self, index: int) -> bool:
        """Keep worker ``index`` running until the supervisor stops; True when its last run
        ended cleanly (exit 0, or the stop signal before it could handle it)."""
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                code = await self._run_worker(index)
            except OSError as exc:
                log.error("worker %d cannot start: %s", index, exc)
                code = 1
            if self.stop_signal is not None:
                return code in (0, -self.stop_signal)
            failures = 0 if loop.time() - started >= STABLE_RUN else failures + 1
            delay = (
                0.0
                if failures <= 1
                else min(RESTART_BACKOFF_MIN * 2 ** (failures - 2), RESTART_BACKOFF_MAX)
            )
            log.log(
                logging.INFO if code == 0 else logging.WARNING,
                "worker %d %s: restarting it in %.1f s",
                index,
                _exit_reason(code),
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            if self.stopping.is_set():
                return True

    async def _run_worker(self, index: int) -> int:
        """Start worker ``index`` and wait for its exit status."""
        proc = await asyncio.create_subprocess_exec(
            *WORKER_COMMAND,
            stdin=asyncio.subprocess.PIPE,
            env={**os.environ, MULTIPROC_DIR_ENV: self.metrics_dir},
            start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor only
        )
        self.workers[index] = proc
        if self.stop_signal is not None:
            proc.send_signal(self.stop_signal)
        log.info("worker %d started (pid %d)", index, proc.pid)
        assert proc.stdin is not None
        proc.stdin.write(msgspec.json.encode(self.config) + b"\n")
        with contextlib.suppress(ConnectionError):
            await proc.stdin.drain()
        code = await proc.wait()
        proc.stdin.close()
        mark_process_dead(proc.pid, self.metrics_dir)  # type: ignore[no-untyped-call]
        return code


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def main() -> int:
    """A worker: the configuration from the first line of stdin, then serve."""
    config = msgspec.json.decode(sys.stdin.buffer.readline(), type=NodeConfig)
    access_log_class = logs.configure(config.log)
    uvloop.run(runner.serve(config, access_log_class, worker=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
