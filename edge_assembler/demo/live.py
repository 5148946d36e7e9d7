"""A real-time ffmpeg encoder writing a sliding-window live HLS ladder to disk."""

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import IO, Final

from edge_assembler.demo.media import GOP, INSTALL_HINT, SEGMENT_SECONDS, MediaError

START_TIMEOUT: Final = 15.0
STOP_TIMEOUT: Final = 5.0
WINDOW_SEGMENTS: Final = 6
_POLL_SECONDS: Final = 0.1
_STDERR_TAIL: Final = 4000


class LiveEncoder:
    """ffmpeg ``-re`` encoding a live 2-rung HLS ladder (360p/540p) into ``out_dir``.

    The playlist keeps a 6-segment window (``delete_segments``), segments are
    independent, carry ``EXT-X-PROGRAM-DATE-TIME``, and are written via temp files so
    readers never see partial files. ``out_dir`` is wiped at start.
    """

    def __init__(self, out_dir: Path, *, max_seconds: float | None = None) -> None:
        self.out_dir = out_dir
        self.max_seconds = max_seconds
        self._process: asyncio.subprocess.Process | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        """True while the ffmpeg process is alive."""
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        """PID of the ffmpeg process itself (no shell in between), once started."""
        return None if self._process is None else self._process.pid

    async def start(self) -> None:
        """Start ffmpeg; return once the master and a first media playlist exist.

        Raises MediaError if ffmpeg is missing, exits early, or writes no playlist
        within ``START_TIMEOUT`` seconds.
        """
        if self.running:
            raise RuntimeError("LiveEncoder is already running")
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise MediaError(f"ffmpeg not found on PATH; {INSTALL_HINT}")
        shutil.rmtree(self.out_dir, ignore_errors=True)
        self.out_dir.mkdir(parents=True)
        self._close_stderr()
        # An anonymous file, not a pipe: nobody has to drain it while ffmpeg runs.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        try:
            self._process = await asyncio.create_subprocess_exec(
                ffmpeg,
                *self._arguments(),
                cwd=self.out_dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=self._stderr,
            )
        except OSError as exc:
            self._close_stderr()
            raise MediaError(f"could not start {ffmpeg} ({exc}); {INSTALL_HINT}") from exc
        try:
            await self._wait_for_playlists()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Terminate ffmpeg and wait for it, killing it after 5 s. Idempotent."""
        process = self._process
        if process is not None and process.returncode is None:
            try:
                process.terminate()
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except ProcessLookupError:
                pass
            except TimeoutError:
                process.kill()
            await process.wait()
        self._close_stderr()

    def _arguments(self) -> list[str]:
        cap = [] if self.max_seconds is None else ["-t", f"{self.max_seconds:.3f}"]
        # Relative output paths (cwd=out_dir) keep the playlists free of absolute paths.
        return [
            "-v", "error", "-nostdin",
            "-re", "-f", "lavfi", "-i", "testsrc2=size=960x540:rate=25",
            "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            *cap,
            "-filter_complex",
            "[0:v]split=2[a][b];[a]scale=640:360[v0];[b]null[v1];[1:a]asplit=2[a0][a1]",
            "-map", "[v0]", "-map", "[a0]", "-map", "[v1]", "-map", "[a1]",
            "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline",
            "-pix_fmt", "yuv420p",
            "-g", str(GOP), "-keyint_min", str(GOP), "-sc_threshold", "0",
            "-b:v:0", "500k", "-b:v:1", "1000k",
            "-c:a", "aac", "-b:a", "64k", "-ac", "2",
            "-f", "hls", "-hls_time", str(SEGMENT_SECONDS),
            "-hls_list_size", str(WINDOW_SEGMENTS),
            "-hls_flags",
            "delete_segments+independent_segments+program_date_time+temp_file",
            "-hls_segment_filename", "%v/seg_%05d.ts", "-master_pl_name", "master.m3u8",
            "-var_stream_map", "v:0,a:0,name:360p v:1,a:1,name:540p",
            "%v/index.m3u8",
        ]  # fmt: skip

    async def _wait_for_playlists(self) -> None:
        assert self._process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while not self._playlists_ready():
            if self._process.returncode is not None:
                raise MediaError(
                    f"live ffmpeg exited with code {self._process.returncode} before "
                    f"writing a playlist:\n{self._stderr_tail()}"
                )
            if loop.time() > deadline:
                raise MediaError(
                    f"live ffmpeg wrote no playlist in {self.out_dir} within "
                    f"{START_TIMEOUT:g} s:\n{self._stderr_tail()}"
                )
            await asyncio.sleep(_POLL_SECONDS)

    def _playlists_ready(self) -> bool:
        master = self.out_dir / "master.m3u8"
        return master.is_file() and any(self.out_dir.glob("*/index.m3u8"))

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-_STDERR_TAIL:].strip()

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
