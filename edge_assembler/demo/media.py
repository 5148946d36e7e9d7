"""Demo VOD media (HLS TS and DASH) made from ffmpeg's lavfi sources, cached on disk.

The cache directory is keyed on this module's source and ``ffmpeg -version``, so a
change to either regenerates. Generation happens in a temporary directory that is
renamed into place once complete, under an advisory file lock, so concurrent and
interrupted runs are safe.
"""

import fcntl
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Final

RECIPE_VERSION: Final = 1
MARKER_NAME: Final = ".complete"
INSTALL_HINT: Final = "run `make run` / apt-get install ffmpeg"
MAX_PARALLEL_JOBS: Final = 2  # the reference machine has 2 cores; libx264 is threaded anyway
FPS: Final = 25
SEGMENT_SECONDS: Final = 2
GOP: Final = FPS * SEGMENT_SECONDS
# The TS muxer starts PTS at 1.4 s (126000 ticks at 90 kHz); WebVTT LOCAL 0 maps to it.
TS_START_PTS: Final = 126000


class MediaError(Exception):
    """ffmpeg is missing or failed; the message says what happened and how to fix it."""


@dataclass(frozen=True, slots=True)
class Asset:
    """One demo asset: a lavfi video source, two audio tones and subtitle labels (en, fr)."""

    name: str
    seconds: int
    video: str
    freq_en: int
    freq_fr: int
    subtitle: str
    subtitle_fr: str


@dataclass(frozen=True, slots=True)
class Rung:
    """One rung of the video ladder."""

    name: str
    width: int
    height: int
    kbps: int


# Told apart in the players by colour and tone (tests/e2e/observe.py): the previous episode
# (recap ranges are cut from it), two alternative scenes for the content's chapter point and
# a spot as long as a break of the live channel (``channel``).
ASSETS: Final = (
    Asset("content", 30, "testsrc2", 440, 660, "Content", "Programme"),
    Asset("ad", 10, "color=c=0xE01010", 1000, 1000, "AD", "PUB"),
    Asset("recap", 6, "color=c=0x1010E0", 1500, 1500, "Recap", "Résumé"),
    Asset("pilot", 12, "color=c=0x10E010", 550, 550, "Previously", "Précédemment"),
    Asset("scene-north", 4, "color=c=0xE0E010", 700, 700, "North", "Nord"),
    Asset("scene-south", 4, "color=c=0xE010E0", 850, 850, "South", "Sud"),
    Asset("spot", 4, "color=c=0xE08010", 1250, 1250, "Spot", "Spot"),
)
LADDER: Final = (
    Rung("360p", 640, 360, 500),
    Rung("540p", 960, 540, 1000),
    Rung("720p", 1280, 720, 2000),
)
AUDIO_PLAYLISTS: Final = ("audio_en/index.m3u8", "audio_fr/index.m3u8")
SUBTITLE_PLAYLIST: Final = "720p/index_vtt.m3u8"
# French subtitles, not in the master: the demo rules add them for French viewers.
FRENCH_SUBTITLES: Final = "subs_fr/index.m3u8"

# ffmpeg 5.1 names renditions "audio_3", omits LANGUAGE on the subtitle rendition and
# puts SUBTITLES= only on the variant carrying subtitles, so the master is rewritten.
_MASTER_HEAD: Final = (
    "#EXTM3U",
    "#EXT-X-VERSION:6",
    "#EXT-X-INDEPENDENT-SEGMENTS",
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,'
    f'AUTOSELECT=YES,CHANNELS="2",URI="{AUDIO_PLAYLISTS[0]}"',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Francais",LANGUAGE="fr",DEFAULT=NO,'
    f'AUTOSELECT=YES,CHANNELS="2",URI="{AUDIO_PLAYLISTS[1]}"',
    '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=NO,'
    f'AUTOSELECT=YES,URI="{SUBTITLE_PLAYLIST}"',
)
_VARIANT_ATTRS_TO_DROP: Final = re.compile(r',?(?:AUDIO|SUBTITLES|FRAME-RATE)=(?:"[^"]*"|[^,]*)')
_SPLIT_LADDER: Final = "[0:v]split=3[a][b][c];[a]scale=640:360[v0];[b]scale=960:540[v1];[c]null[v2]"
_X264: Final = (
    "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main",
    "-pix_fmt", "yuv420p",
    "-g", str(GOP), "-keyint_min", str(GOP), "-sc_threshold", "0",
)  # fmt: skip
# name: only sets directory names, not NAME=. ffmpeg 5.1 rejects a subtitle-only variant
# ("No streams to mux were specified"), so the subtitles ride with the 720p variant.
_VAR_STREAM_MAP: Final = (
    "v:0,agroup:aud,name:360p v:1,agroup:aud,name:540p "
    "v:2,s:0,agroup:aud,sgroup:subs,name:720p "
    "a:0,agroup:aud,language:en,name:audio_en,default:yes "
    "a:1,agroup:aud,language:fr,name:audio_fr"
)


def _ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise MediaError(f"ffmpeg not found on PATH; {INSTALL_HINT}")
    return path


def _ffmpeg_version() -> str:
    try:
        done = subprocess.run(
            [_ffmpeg(), "-version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise MediaError(f"`ffmpeg -version` failed ({exc}); {INSTALL_HINT}") from exc
    return done.stdout.partition("\n")[0].strip()


def media_key() -> str:
    """Hex digest of the generation recipe (this module) and the ffmpeg version line."""
    digest = hashlib.sha256()
    digest.update(f"recipe {RECIPE_VERSION}\n".encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(_ffmpeg_version().encode())
    return digest.hexdigest()


def ensure_media(cache_root: Path, *, log: Callable[[str], None] = print) -> Path:
    """Return <cache_root>/<key[:16]>/ holding the complete VOD demo media.

    The media is generated if absent, in a temp dir beside it that is renamed into place
    atomically with a marker file inside, so concurrent callers (two test processes)
    and interrupted runs are safe. Old key dirs may be left.
    """
    key = media_key()
    final = cache_root / key[:16]
    if (final / MARKER_NAME).is_file():
        return final
    cache_root.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(cache_root / f"{key[:16]}.lock"):
        if (final / MARKER_NAME).is_file():  # another process generated it while we waited
            return final
        # Nobody else holds the lock, so leftovers for this key are from crashed runs.
        for stale in cache_root.glob(f"{key[:16]}.*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():
            shutil.rmtree(final)
        log(f"generating demo media in {final} with ffmpeg (~30 s, cached afterwards)")
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix=f"{key[:16]}.", suffix=".tmp", dir=cache_root))
        try:
            _generate(tmp, log)
            elapsed = time.monotonic() - started
            marker = {
                "key": key,
                "recipe": RECIPE_VERSION,
                "seconds": round(elapsed, 2),
            }
            (tmp / MARKER_NAME).write_text(json.dumps(marker) + "\n")
            tmp.chmod(0o755)  # mkdtemp makes it private; the origin may run as another user
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log(f"demo media ready in {elapsed:.1f} s")
    return final


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _generate(root: Path, log: Callable[[str], None]) -> None:
    jobs: list[tuple[str, Callable[[], None]]] = []
    # Longest jobs first, so the two workers finish at about the same time.
    for asset in ASSETS:
        hls_dir, dash_dir = root / "hls" / asset.name, root / "dash" / asset.name
        jobs.append((f"hls/{asset.name}", partial(_make_hls, asset, hls_dir)))
        jobs.append((f"dash/{asset.name}", partial(_make_dash, asset, dash_dir)))
    _run_parallel(jobs, log)
    _check_relative(root)


def _run_parallel(jobs: list[tuple[str, Callable[[], None]]], log: Callable[[str], None]) -> None:
    def timed(job: Callable[[], None]) -> float:
        started = time.monotonic()
        job()
        return time.monotonic() - started

    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_JOBS) as pool:
        futures: dict[Future[float], str] = {pool.submit(timed, job): label for label, job in jobs}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                if future.exception() is not None:
                    for other in pending:  # jobs not started yet; running ones finish
                        other.cancel()
                log(f"  {futures[future]}: {future.result():.1f} s")


def _run_ffmpeg(args: list[str], cwd: Path, what: str) -> None:
    command = [_ffmpeg(), "-v", "error", "-nostdin", "-y", *args]
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise MediaError(f"could not run ffmpeg for {what} ({exc}); {INSTALL_HINT}") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise MediaError(
            f"ffmpeg failed (exit {done.returncode}) generating {what} in {cwd}:\n"
            f"{tail}\ncommand: {' '.join(command)}\n"
            f"ffmpeg needs libx264 and lavfi (Debian's has both; {INSTALL_HINT})"
        )


def _lavfi_inputs(asset: Asset) -> list[str]:
    video = f"{asset.video}{':' if '=' in asset.video else '='}"
    video += f"size=1280x720:rate={FPS}:duration={asset.seconds}"
    inputs = ["-f", "lavfi", "-i", video]
    for freq in (asset.freq_en, asset.freq_fr):
        tone = f"sine=frequency={freq}:sample_rate=48000:duration={asset.seconds}"
        inputs += ["-f", "lavfi", "-i", tone]
    return inputs


def _vtt_source(seconds: int, text: str) -> str:
    def stamp(s: int) -> str:
        return f"00:{s // 60:02d}:{s % 60:02d}.000"

    cues = (
        f"{stamp(s)} --> {stamp(s + SEGMENT_SECONDS)}\n{text} {s}s\n\n"
        for s in range(0, seconds, SEGMENT_SECONDS)
    )
    return "WEBVTT\n\n" + "".join(cues)


def _make_hls(asset: Asset, out: Path) -> None:
    out.mkdir(parents=True)
    source_vtt = out / "src_en.vtt"
    source_vtt.write_text(_vtt_source(asset.seconds, asset.subtitle))
    rates: list[str] = []
    for i, rung in enumerate(LADDER):
        rates += [
            f"-b:v:{i}",
            f"{rung.kbps}k",
            f"-maxrate:v:{i}",
            f"{rung.kbps * 11 // 10}k",
        ]
        rates += [f"-bufsize:v:{i}", f"{rung.kbps * 2}k"]
    # Relative paths with cwd=out keep every URI in the playlists relative.
    args = [
        *_lavfi_inputs(asset), "-i", source_vtt.name,
        "-filter_complex", _SPLIT_LADDER,
        "-map", "[v0]", "-map", "[v1]", "-map", "[v2]", "-map", "1:a", "-map", "2:a",
        "-map", "3:s",
        *_X264, *rates,
        "-c:a", "aac", "-b:a", "96k", "-ac", "2", "-c:s", "webvtt",
        "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments", "-hls_segment_type", "mpegts",
        "-hls_segment_filename", "%v/seg_%03d.ts", "-master_pl_name", "master.m3u8",
        "-metadata:s:s:0", "language=en", "-var_stream_map", _VAR_STREAM_MAP,
        "%v/index.m3u8",
    ]  # fmt: skip
    _run_ffmpeg(args, out, f"hls/{asset.name}")
    source_vtt.unlink()
    _fix_master(out / "master.m3u8")
    _add_timestamp_map(out / LADDER[-1].name)
    for playlist in (*(f"{r.name}/index.m3u8" for r in LADDER), *AUDIO_PLAYLISTS):
        if not (out / playlist).is_file():
            raise MediaError(f"ffmpeg did not write hls/{asset.name}/{playlist}")
    if not (out / SUBTITLE_PLAYLIST).is_file():
        raise MediaError(f"ffmpeg did not write hls/{asset.name}/{SUBTITLE_PLAYLIST}")
    _add_french_subtitles(out, asset)


def _fix_master(master: Path) -> None:
    lines = master.read_text().splitlines()
    out = list(_MASTER_HEAD)
    variants = 0
    for line, uri in pairwise(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = _VARIANT_ATTRS_TO_DROP.sub("", line)
            out += [f'{attrs},FRAME-RATE={FPS}.000,AUDIO="aud",SUBTITLES="subs"', uri]
            variants += 1
    if variants != len(LADDER):
        raise MediaError(f"{master}: expected {len(LADDER)} variants, ffmpeg wrote {variants}")
    master.write_text("\n".join(out) + "\n")


def _add_timestamp_map(vtt_dir: Path) -> None:
    # ffmpeg 5.1 writes WebVTT segments without X-TIMESTAMP-MAP (RFC 8216 §3.5); players
    # then mis-time cues after a discontinuity.
    segments = sorted(vtt_dir.glob("*.vtt"))
    if not segments:
        raise MediaError(f"ffmpeg wrote no WebVTT segments in {vtt_dir}")
    for segment in segments:
        header, _, rest = segment.read_text().partition("\n")
        stamp = f"X-TIMESTAMP-MAP=MPEGTS:{TS_START_PTS},LOCAL:00:00:00.000"
        segment.write_text(f"{header}\n{stamp}\n{rest}")


def _add_french_subtitles(out: Path, asset: Asset) -> None:
    """``FRENCH_SUBTITLES``: the English WebVTT segments and playlist, the cues relabelled."""
    english = out / SUBTITLE_PLAYLIST
    french = out / FRENCH_SUBTITLES
    french.parent.mkdir()
    for segment in english.parent.glob("*.vtt"):
        text = segment.read_text().replace(asset.subtitle, asset.subtitle_fr)
        (french.parent / segment.name).write_text(text)
    french.write_text(english.read_text())


def _make_dash(asset: Asset, out: Path) -> None:
    out.mkdir(parents=True)
    rates: list[str] = []
    for i, rung in enumerate(LADDER):
        rates += [f"-b:v:{i}", f"{rung.kbps}k"]
    args = [
        *_lavfi_inputs(asset),
        "-filter_complex", _SPLIT_LADDER,
        "-map", "[v0]", "-map", "[v1]", "-map", "[v2]", "-map", "1:a", "-map", "2:a",
        *_X264, *rates,
        "-c:a", "aac", "-b:a", "96k", "-ac", "2",
        "-metadata:s:a:0", "language=en", "-metadata:s:a:1", "language=fr",
        "-f", "dash", "-seg_duration", str(SEGMENT_SECONDS),
        "-use_template", "1", "-use_timeline", "0",
        "-adaptation_sets", "id=0,streams=v id=1,streams=3 id=2,streams=4",
        "-init_seg_name", "init-$RepresentationID$.m4s",
        "-media_seg_name", "chunk-$RepresentationID$-$Number%05d$.m4s",
        "manifest.mpd",
    ]  # fmt: skip
    _run_ffmpeg(args, out, f"dash/{asset.name}")
    if not (out / "manifest.mpd").is_file():
        raise MediaError(f"ffmpeg did not write dash/{asset.name}/manifest.mpd")


def _check_relative(root: Path) -> None:
    """The build dir is renamed afterwards, so no manifest may contain its path."""
    for manifest in (*root.rglob("*.m3u8"), *root.rglob("*.mpd")):
        if str(root) in manifest.read_text():
            raise MediaError(f"{manifest} contains an absolute path to {root}")
