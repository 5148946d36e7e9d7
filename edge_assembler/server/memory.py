"""A worker's memory: its C heap keeps freed memory instead of handing it back to the
kernel, and what start-up built stays out of the cyclic collector's passes.

Relaying a segment allocates a few hundred kB of buffers per request and frees them soon
after. With glibc's defaults the heap top is trimmed (and big buffers are mmap'd) as the
number of requests in flight rises and falls, so the next requests fault the same pages in
again: under segment load that came to about 100 page faults per request in spells lasting
seconds, and a quarter less throughput. Fixing the thresholds keeps a worker's heap at its
high-water mark (at most ``TRIM_THRESHOLD`` of it idle) and its throughput steady.

An operator who sets any of glibc's malloc parameters (``MALLOC_*`` environment variables,
``glibc.malloc`` tunables) keeps glibc's own thresholds and those settings.
"""

import ctypes
import gc
import logging
import os
import platform
from collections.abc import Mapping
from typing import Final

log = logging.getLogger("edge_assembler.server")

# mallopt(3) parameters.
M_TRIM_THRESHOLD: Final = -1
M_MMAP_THRESHOLD: Final = -3
# Blocks from this size up get their own mapping; fixing it also stops glibc's sliding
# threshold (mallopt(3)), so it must be at least the relay's largest buffer.
MMAP_THRESHOLD: Final = 4 * 1024 * 1024
# Free memory at the heap top up to this size stays with the process.
TRIM_THRESHOLD: Final = 32 * 1024 * 1024


def operator_tuned(environ: Mapping[str, str]) -> bool:
    """True when the environment sets glibc's malloc parameters itself."""
    return any(name.startswith("MALLOC_") for name in environ) or (
        "glibc.malloc." in environ.get("GLIBC_TUNABLES", "")
    )


def keep_heap() -> bool:
    """Set the thresholds above on glibc unless the operator set malloc parameters; True
    when they were set."""
    if platform.libc_ver()[0] != "glibc" or operator_tuned(os.environ):
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done: bool = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    done = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and done
    if not done:
        log.warning("glibc refused the heap thresholds; the heap is trimmed as by default")
    return done


def freeze_startup() -> None:
    """Collect start-up's garbage, then move every live object (the libraries' modules, the
    app, its routes) out of the cyclic collector's passes (``gc.freeze``). A full pass then
    walks only what serving made since: with the 70,000 objects of start-up in it, each
    took 40-50 ms on a live channel's load, a pause every request in flight waited out."""
    gc.collect()
    gc.freeze()
