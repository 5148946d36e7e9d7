"""Background tasks that cannot be garbage-collected while they run."""

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, T]) -> "asyncio.Task[T]":
    """Start ``coro`` as a task and keep a reference until it finishes (the event loop
    holds only weak references to tasks)."""
    task = asyncio.create_task(coro)  # noqa: TID251
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task
