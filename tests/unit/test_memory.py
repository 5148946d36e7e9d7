"""The worker's heap thresholds: freed relay buffers are kept, not faulted in again."""

import os
import platform
import subprocess
import sys

import pytest

from edge_assembler.server.memory import operator_tuned

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

# Allocates and frees the buffers of 16 concurrent segment relays 40 times and prints
# whether the thresholds were set and the page faults the cycles took.
_CHILD = """
import resource, sys
from edge_assembler.server.memory import keep_heap
kept = keep_heap() if sys.argv[1] == "keep" else False
def cycle():
    buffers = [bytearray(300_000) for _ in range(16)]
    del buffers
cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    cycle()
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str, **env: str) -> tuple[bool, int]:
    environ = {k: v for k, v in os.environ.items() if not operator_tuned({k: v})}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, mode],
        env=environ | env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0] == "True", int(out[1])


@glibc
def test_kept_heap_takes_no_faults_where_the_default_one_takes_them_every_cycle() -> None:
    kept, faults = _faults("keep")
    default_kept, default_faults = _faults("default")
    assert kept
    assert not default_kept
    # 16 buffers of 300 kB are about 1,200 pages: the default trims them and faults them in
    # on every cycle; the kept heap reuses them.
    assert default_faults > 40 * 500
    assert faults < 1000


@glibc
@pytest.mark.parametrize(
    "env",
    [
        {"MALLOC_TRIM_THRESHOLD_": "131072"},
        {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"},
    ],
)
def test_an_operators_malloc_settings_win(env: dict[str, str]) -> None:
    kept, faults = _faults("keep", **env)
    assert not kept
    assert faults > 40 * 500


def test_operator_tuned_reads_only_malloc_settings() -> None:
    assert operator_tuned({"MALLOC_ARENA_MAX": "2"}) is True
    assert operator_tuned({"MALLOC_TOP_PAD_": "0"}) is True
    assert operator_tuned({"MY_MALLOC_": "1"}) is False
    assert operator_tuned({"GLIBC_TUNABLES": "glibc.rtld.optional_static_tls=512"}) is False
    assert operator_tuned({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1"}) is True
    assert operator_tuned({"PATH": "/usr/bin"}) is False


def test_freeze_startup_leaves_only_what_comes_after_to_the_collector() -> None:
    """A worker's start-up objects leave the collector's passes (``gc.freeze``); the garbage
    start-up made is collected first, not frozen."""
    child = """
import gc, weakref
from edge_assembler.config import NodeConfig, Origin
from edge_assembler.server.app import create_app
from edge_assembler.server.memory import freeze_startup
class Node:
    pass
app = create_app(NodeConfig(origins=(Origin(url="http://127.0.0.1:9"),)))
garbage = Node()
garbage.me = garbage
dead = weakref.ref(garbage)
del garbage
before = len(gc.get_objects())
freeze_startup()
print(before, gc.get_freeze_count(), len(gc.get_objects()), dead() is None)
"""
    out = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, check=True
    ).stdout.split()
    before, frozen, left = map(int, out[:3])
    assert before > 20_000  # the libraries and the app
    assert frozen > 0.95 * before
    assert left < 100
    assert out[3] == "True"  # the cycle was collected, not frozen
