"""Running an operation's requests side by side, and stopping them all when one fails."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


async def gather_all(work: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Results in order; on the first failure the others are cancelled and that error is raised as it is.

    Unlike asyncio.gather, nothing keeps running against clients the caller closes next;
    unlike a bare TaskGroup, callers see calsync's error, not an ExceptionGroup.
    """
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(item) for item in work]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]
