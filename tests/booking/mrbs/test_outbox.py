"""The triggers and the poller on a real database: install is idempotent and leaves MRBS's tables as they
were; every change (calsync's, MRBS's, a raw UPDATE made while calsync was stopped) becomes one hint."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from calsync.booking.mrbs.poller import OutboxPoller
from calsync.booking.mrbs.system import MrbsBookingSystem
from calsync.booking.mrbs.triggers import install, uninstall
from calsync.model import Booking
from calsync.settings import Settings
from calsync.store.client import TableStore
from calsync.store.records import CursorStore
from tests.booking.mrbs.conftest import PREFIX

STRUCTURE = {
    "postgresql": "SELECT table_name, column_name, data_type, column_default, is_nullable FROM "
    "information_schema.columns WHERE table_name LIKE :p ORDER BY 1, 2",
    "mysql": "SELECT table_name, column_name, column_type, column_default, is_nullable FROM "
    "information_schema.columns WHERE table_schema = DATABASE() AND table_name LIKE :p ORDER BY 1, 2",
}
INDEXES = {
    "postgresql": "SELECT tablename, indexdef FROM pg_indexes WHERE tablename LIKE :p ORDER BY 1, 2",
    "mysql": "SELECT table_name, index_name FROM information_schema.statistics WHERE table_schema = DATABASE() "
    "AND table_name LIKE :p ORDER BY 1, 2",
}


async def structure(engine: AsyncEngine) -> list[tuple]:
    dialect = engine.dialect.name
    async with engine.connect() as conn:
        mrbs_only = [r for r in (await conn.execute(text(STRUCTURE[dialect]), {"p": f"{PREFIX}%"})).all()
                     if "calsync" not in r[0]]  # fmt: skip
        mrbs_only += [r for r in (await conn.execute(text(INDEXES[dialect]), {"p": f"{PREFIX}%"})).all()
                      if "calsync" not in r[0]]  # fmt: skip
    return [tuple(r) for r in mrbs_only]


async def test_install_and_uninstall_are_idempotent_and_leave_mrbs_tables_unchanged(mrbs: MrbsBookingSystem) -> None:
    before = await structure(mrbs.engine)  # the fixture installed once already
    await install(mrbs.engine, mrbs.tables)
    await install(mrbs.engine, mrbs.tables)
    assert await structure(mrbs.engine) == before
    await uninstall(mrbs.engine, mrbs.tables)
    await uninstall(mrbs.engine, mrbs.tables)
    assert await structure(mrbs.engine) == before
    await install(mrbs.engine, mrbs.tables)


class Recorder:
    def __init__(self) -> None:
        self.hints: list = []

    async def publish(self, hints, *, queue: str) -> None:  # type: ignore[no-untyped-def]
        self.hints.extend(hints)


async def test_changes_while_stopped_become_hints_in_order_once(mrbs: MrbsBookingSystem, settings: Settings) -> None:
    tables = TableStore.from_settings(settings)
    await tables.ensure_tables()
    recorder = Recorder()
    poller = OutboxPoller(mrbs.engine, mrbs.tables, CursorStore(tables), recorder, queue="changes",
                          room_key=lambda room_id: {1: "atlas"}.get(room_id))  # fmt: skip
    start = dt.datetime(2030, 3, 4, 9, tzinfo=dt.UTC)
    made = await mrbs.create_booking("1", Booking(room="atlas", subject="A", start=start, end=start + dt.timedelta(hours=1)),
                                     idempotency_key=uuid.uuid4().hex, external_ref=None)  # fmt: skip
    first = await poller.poll_once()
    assert [h.item_id for h in recorder.hints] == [made.id] and first.hints == 1
    # calsync is stopped; someone moves the entry with raw SQL
    t = mrbs.tables
    async with mrbs.engine.begin() as conn:
        await conn.execute(update(t.entry).where(t.entry.c.ical_uid == made.id).values(
            start_time=t.entry.c.start_time + 3600, end_time=t.entry.c.end_time + 3600))  # fmt: skip
    second = await poller.poll_once()
    assert second.rows == 1 and [h.item_id for h in recorder.hints] == [made.id, made.id]
    assert (await poller.poll_once()).rows == 0  # the cursor in Table Storage moved on
    moved = await mrbs.get_booking(made.id)
    assert moved.booking.start == start + dt.timedelta(hours=1)
    await tables.close()
