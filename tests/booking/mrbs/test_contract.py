"""The shared BookingSystem contract (tests/booking/contract.py) against MRBS's database."""

from __future__ import annotations

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from calsync.booking.mrbs.system import MrbsBookingSystem, prune_outbox
from tests.booking.contract import BookingSystemContract


class MrbsBackdoor:
    """Edits as MRBS's web UI (or an operator with SQL) would."""

    def __init__(self, system: MrbsBookingSystem) -> None:
        self.system = system
        self.pending: list = []

    async def touch_async(self, booking_id: str) -> None:
        t, engine = self.system.tables, create_async_engine(self.system.engine.url)  # this loop's own engine
        async with engine.begin() as conn:
            await conn.execute(update(t.entry).where(t.entry.c.ical_uid == booking_id).values(name="Touched by a user"))
        await engine.dispose()

    async def expire_async(self) -> None:
        t, engine = self.system.tables, create_async_engine(self.system.engine.url)
        async with engine.begin() as conn:  # a change happens, and the outbox is pruned past it
            await conn.execute(update(t.room).where(t.room.c.id == 2).values(description="renovated"))
        async with engine.connect() as conn:
            last = (await conn.execute(select(text("max(id)")).select_from(t.outbox))).scalar() or 0
        await prune_outbox(engine, t, int(last))
        await engine.dispose()


class TestMrbsContract(BookingSystemContract):
    import pytest

    @pytest.fixture
    def room_a(self) -> str:
        return "1"

    @pytest.fixture
    def room_b(self) -> str:
        return "2"

    @pytest.fixture
    def system(self, mrbs: MrbsBookingSystem) -> MrbsBookingSystem:
        return mrbs

    @pytest.fixture
    def backdoor(self, mrbs: MrbsBookingSystem) -> object:
        return SyncBackdoor(MrbsBackdoor(mrbs))


class SyncBackdoor:
    """The contract's backdoor is synchronous; run the async edits on a private loop in a thread."""

    def __init__(self, inner: MrbsBackdoor) -> None:
        self.inner = inner

    def _run(self, coro_factory) -> None:  # type: ignore[no-untyped-def]
        import asyncio
        import threading

        errors: list[BaseException] = []

        def target() -> None:
            try:
                asyncio.run(coro_factory())
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
        if errors:
            raise errors[0]

    def touch(self, booking_id: str) -> None:
        self._run(lambda: self.inner.touch_async(booking_id))

    def expire_cursors(self) -> None:
        self._run(self.inner.expire_async)
