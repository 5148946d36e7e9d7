"""The benchmark's wait for idle CPUs between load phases: it reads the machine's busy time
and lasts as long as another process keeps a CPU busy."""

import asyncio
import sys
import time

from bench.stack import IDLE_TIMEOUT, busy_seconds, idle

SPIN = """
import sys, time
print("spinning", flush=True)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    pass
"""


def test_busy_seconds_count_this_process_spinning() -> None:
    before = busy_seconds()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
    assert busy_seconds() - before >= 0.2


async def test_idle_lasts_until_a_busy_process_is_done() -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SPIN, "0.8", stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    assert await child.stdout.readline() == b"spinning\n"
    waited = await idle()
    assert await asyncio.wait_for(child.wait(), 5) == 0
    assert 0.6 <= waited < IDLE_TIMEOUT
