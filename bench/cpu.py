"""The worker's own CPU time, apart from the harness that drives it: ``HandlerCpu``.

The benchmarks run the worker (function handlers, engine, clients, the in-process
queue) and the harness (emulator proxies, ``settle()``, uvicorn standing in for the
Functions host) on one event loop, so ``time.process_time()`` of the process mixes
them. ``HandlerCpu`` counts only the CPU the function handlers themselves spend:

- each function handler is wrapped so that every *step* of its coroutine (one
  ``send``/``throw``, the synchronous run between two awaits) is timed with
  ``time.thread_time()``; the awaits themselves (I/O waits, other coroutines) are not;
- a task factory extends that to tasks a handler starts (``asyncio.gather`` of
  coroutines, the in-process queue's session lanes a webhook wakes): a task created
  while a handler runs inherits the mark through its context and is timed the same way;
- steps nested in a timed step are counted once;
- given a ``cProfile.Profile``, it profiles those steps only, so a profile shows the
  worker and not the harness.

Not counted: the event loop's own selector and callbacks (aiohttp and h11 read
sockets in protocol callbacks), uvicorn's HTTP parsing (the Functions host's work in
Azure), the harness. ``process_time()`` is still printed beside it as the upper bound.
"""

from __future__ import annotations

import asyncio
import contextvars
import cProfile
import functools
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

_meter: contextvars.ContextVar[HandlerCpu | None] = contextvars.ContextVar("bench_handler_cpu", default=None)
_inside = [False]  # a timed step is running (steps are synchronous, so one flag for the thread)


class _Timed:
    """Drives ``coro`` step by step, adding each step's thread CPU time to ``meter``."""

    __slots__ = ("coro", "meter")

    def __init__(self, coro: Coroutine[Any, Any, Any], meter: HandlerCpu) -> None:
        self.coro, self.meter = coro, meter

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, send, error = self.coro, None, None
        while True:
            nested = _inside[0]
            profile = None if nested else self.meter.profile
            if profile is not None:
                profile.enable()
            started = 0.0 if nested else time.thread_time()
            _inside[0] = True
            try:
                yielded = coro.send(send) if error is None else coro.throw(error)
            except StopIteration as stop:
                return stop.value
            finally:
                _inside[0] = nested
                if not nested:
                    self.meter.seconds += time.thread_time() - started
                if profile is not None:
                    profile.disable()
            try:
                send, error = (yield yielded), None
            except BaseException as exc:  # cancellation and the like go into the coroutine
                send, error = None, exc


class HandlerCpu:
    """CPU seconds spent in the wrapped function handlers and the tasks they started (see the module docstring)."""

    def __init__(self, profile: cProfile.Profile | None = None) -> None:
        self.seconds = 0.0
        self.calls = 0
        self.profile = profile  # when given, it profiles the timed steps only (the harness stays out)

    def wrap(self, handler: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(handler)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            token = _meter.set(self)
            try:
                result = handler(*args, **kwargs)
                return await _Timed(result, self) if asyncio.iscoroutine(result) else result
            finally:
                _meter.reset(token)

        return timed

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Time tasks started inside a handler too (the loop's task factory)."""

        def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
            context = kwargs.get("context") or contextvars.copy_context()
            meter = context.get(_meter)
            if meter is not None and asyncio.iscoroutine(coro):
                coro = _run_timed(coro, meter)
            return asyncio.Task(coro, loop=loop, **kwargs)

        loop.set_task_factory(factory)

    def read_ms(self) -> float:
        return self.seconds * 1000


async def _run_timed(coro: Coroutine[Any, Any, Any], meter: HandlerCpu) -> Any:
    return await _Timed(coro, meter)


class Span:
    """CPU of the handlers and of the whole process over a span: ``with Span(meter) as s: ...``."""

    def __init__(self, meter: HandlerCpu) -> None:
        self.meter = meter
        self.handler_s = self.process_s = 0.0

    def __enter__(self) -> Span:
        self._h0, self._p0 = self.meter.seconds, time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.handler_s = self.meter.seconds - self._h0
        self.process_s = time.process_time() - self._p0


def descendants_cpu() -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process below this one, by kind (Linux /proc).

    The emulators run as multiprocessing manager processes, Azurite as node: showing their
    CPU next to the worker's says which process limits the end-to-end rate on this machine.
    """
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        pid = int(entry)
        parents[pid], used[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        names[pid] = "azurite (node)" if "azurite" in command else (
            "emulator (python)" if "multiprocessing" in command else command.split(" ")[0].rsplit("/", 1)[-1])
    me, totals = os.getpid(), {}
    for pid in used:
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, me):
            ancestor = parents.get(ancestor)
        if ancestor == me:
            totals[names[pid]] = totals.get(names[pid], 0.0) + used[pid]
    return totals
