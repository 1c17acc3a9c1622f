"""The Graph and booking emulators in processes of their own, for benchmarks that measure the worker only.

Each emulator runs in a ``multiprocessing`` manager process (spawned, so it shares
nothing with the worker); the worker holds a proxy whose method calls travel over
the manager's socket. ``RemoteStack`` is ``LocalStack`` with both emulators
replaced by such proxies: the engine, the loopback functions host and the
in-process queue stay in this process, so ``time.process_time()`` and the peak RSS
of this process are the worker's alone. Azurite is a Node process already.
"""

from __future__ import annotations

import multiprocessing
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.managers import BaseManager
from typing import Any

from devstack import local_stack
from devstack.booking import BookingEmulator
from devstack.graph import GraphEmulator
from devstack.local_stack import LocalStack


class _Graph(GraphEmulator):
    def start(self, timeout: float = 10.0) -> None:  # type: ignore[override] - the emulator itself does not pickle
        super().start(timeout)

    def add_room(self, email: str, display_name: str | None = None) -> None:  # type: ignore[override]
        super().add_room(email, display_name)

    def url(self) -> str:
        return self.base_url

    def request_summary(self) -> list[tuple[str, str, bool]]:
        return [(r.method, r.path, r.batched) for r in self.requests]

    def drop_all(self, on: bool) -> None:
        self.notifier.drop_next = 10**9 if on else 0

    def user_create_events(self, mailbox: str, events: list[dict]) -> int:
        """Many user_create_event calls in one round trip (seeding large benchmarks)."""
        for event in events:
            self.user_create_event(mailbox, event)
        return len(events)


class _Booking(BookingEmulator):
    def start(self, timeout: float = 10.0) -> None:  # type: ignore[override] - the emulator itself does not pickle
        super().start(timeout)

    def url(self) -> str:
        return self.base_url

    def set_webhooks(self, on: bool) -> None:
        self.webhooks_enabled = on

    def user_create_bookings(self, room_id: str, bookings: list[dict]) -> int:
        """Many user_create_booking calls in one round trip (seeding large benchmarks)."""
        for fields in bookings:
            self.user_create_booking(room_id, **fields)
        return len(bookings)


_GRAPH_CALLS = ["start", "stop", "url", "add_room", "user_create_event", "user_update_event", "user_delete_event",
                "flush_notifications", "request_summary", "clear_requests", "drop_all", "events", "throttle",
                "clear_faults", "user_create_events"]  # fmt: skip
_BOOKING_CALLS = ["start", "stop", "url", "user_create_booking", "user_update_booking", "flush_webhooks",
                  "set_webhooks", "bookings", "clear_requests", "user_create_bookings"]  # fmt: skip


class _Manager(BaseManager):
    pass


_Manager.register("Graph", _Graph, exposed=_GRAPH_CALLS)
_Manager.register("Booking", _Booking, exposed=_BOOKING_CALLS)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    batched: bool


class RemoteGraph:
    """What LocalStack and the benchmarks use of GraphEmulator, served by another process."""

    def __init__(self) -> None:
        self.manager = _Manager(ctx=multiprocessing.get_context("spawn"))
        self.manager.start()
        self.proxy: Any = self.manager.Graph()  # type: ignore[attr-defined]
        self.base_url = ""

    def start(self) -> RemoteGraph:
        self.proxy.start()
        self.base_url = self.proxy.url()
        return self

    def stop(self) -> None:
        try:
            self.proxy.stop()
        finally:
            self.manager.shutdown()

    @property
    def requests(self) -> list[Request]:
        return [Request(*r) for r in self.proxy.request_summary()]

    def drop_notifications(self, on: bool = True) -> None:
        self.proxy.drop_all(on)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.proxy, name)


class RemoteBooking:
    """What LocalStack and the benchmarks use of BookingEmulator, served by another process."""

    def __init__(self, **options: Any) -> None:
        self.manager = _Manager(ctx=multiprocessing.get_context("spawn"))
        self.manager.start()
        self.proxy: Any = self.manager.Booking(**options)  # type: ignore[attr-defined]
        self.base_url = ""

    def start(self) -> RemoteBooking:
        self.proxy.start()
        self.base_url = self.proxy.url()
        return self

    def stop(self) -> None:
        try:
            self.proxy.stop()
        finally:
            self.manager.shutdown()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.proxy, name)


class RemoteStack(LocalStack):
    """LocalStack with both emulators in processes of their own (see the module docstring)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.graph = RemoteGraph()  # type: ignore[assignment]

    async def start(self) -> RemoteStack:
        with _remote_booking():
            await super().start()
        return self


@contextmanager
def _remote_booking() -> Any:
    """LocalStack builds its BookingEmulator inside start(): hand it the remote one instead."""
    original = local_stack.BookingEmulator
    local_stack.BookingEmulator = RemoteBooking  # type: ignore[misc, assignment]
    try:
        yield
    finally:
        local_stack.BookingEmulator = original  # type: ignore[misc]
