"""The outbox poller: outbox rows (written by the triggers) -> ChangeHints on "changes", in order.

``hints_from_rows`` is the pure part: each entry/repeat row names an ical_uid (the booking id)
in a room, before and after the change; rooms calsync does not sync are skipped, and one
booking changed many times in a batch gives one hint (the engine reads the current state
anyway). The hint's version is the outbox id, so a batch published twice collapses in Service
Bus duplicate detection. ``OutboxPoller.poll_once`` reads rows after the cursor (CursorStore,
kind ``mrbs-outbox``), publishes, then saves the cursor (at least once: a crash in between
publishes again), then prunes rows that are processed and older than RETENTION (the change
feed of system.py reads them meanwhile). ``listen`` keeps a PostgreSQL connection open and
polls on every NOTIFY (local run, a long-lived worker); the timer function polls on a schedule.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from calsync.booking.mrbs import rows as db
from calsync.booking.mrbs.schema import MrbsTables
from calsync.booking.mrbs.system import prune_outbox
from calsync.booking.mrbs.triggers import channel
from calsync.model import ChangeHint, ChangeKind, HintReason, Side
from calsync.queues.publisher import HintPublisher
from calsync.store.records import Cursor, CursorStore

log = logging.getLogger(__name__)

CURSOR_KIND = "mrbs-outbox"
CURSOR_KEY = "*"
RETENTION = dt.timedelta(hours=2)
"""Processed outbox rows are kept this long for the booking change feed (maintenance runs every 15 min)."""


@dataclass(frozen=True)
class OutboxRow:
    id: int
    table_name: str
    ical_uid: str | None
    room_id: int | None
    old_ical_uid: str | None
    old_room_id: int | None
    changed_at: dt.datetime | None


def hints_from_rows(rows: Sequence[OutboxRow], room_key: Callable[[int], str | None], now: dt.datetime) -> list[
        ChangeHint]:  # fmt: skip
    """One hint per (room, booking) touched by the rows, in the order of their first change."""
    found: dict[tuple[str, str], ChangeHint] = {}
    for row in rows:
        if row.table_name == "room":
            continue  # a room's name or area changed: its bookings' rows did not
        for uid, room_id in ((row.old_ical_uid, row.old_room_id), (row.ical_uid, row.room_id)):
            key = room_key(room_id) if uid and room_id is not None else None
            if key is None or uid is None:
                continue
            observed = row.changed_at or now
            if observed.tzinfo is None:
                observed = observed.replace(tzinfo=dt.UTC)
            hint = ChangeHint(source=Side.BOOKING, room=key, item_id=uid, change_kind=ChangeKind.UNKNOWN,
                              reason=HintReason.WEBHOOK, observed_at=observed, version=f"outbox-{row.id}")  # fmt: skip
            found.setdefault((key, uid), hint)
    return list(found.values())


@dataclass(frozen=True)
class PollReport:
    rows: int
    hints: int
    cursor: int


class OutboxPoller:
    """Turns the outbox into hints; one instance per process."""

    def __init__(self, engine: Any, tables: MrbsTables, cursors: CursorStore, publisher: HintPublisher, *,
                 queue: str, room_key: Callable[[int], str | None], batch: int = 500,
                 clock: Callable[[], dt.datetime] | None = None) -> None:  # fmt: skip
        self.engine, self.tables, self.cursors, self.publisher = engine, tables, cursors, publisher
        self.queue, self.room_key, self.batch = queue, room_key, batch
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._lock = asyncio.Lock()

    async def poll_once(self) -> PollReport:
        """Publish hints for every outbox row after the cursor (in batches), save the cursor, prune."""
        async with self._lock:
            stored = await self.cursors.get(CURSOR_KIND, CURSOR_KEY)
            cursor, total_rows, total_hints = int(stored.value) if stored else 0, 0, 0
            while True:
                rows = await self._read(cursor)
                if not rows:
                    break
                hints = hints_from_rows(rows, self.room_key, self.clock())
                if hints:
                    await self.publisher.publish(hints, queue=self.queue)
                cursor = rows[-1].id
                await self.cursors.put(Cursor(kind=CURSOR_KIND, room=CURSOR_KEY, value=str(cursor), updated_at=self.clock()))
                total_rows, total_hints = total_rows + len(rows), total_hints + len(hints)
                if len(rows) < self.batch:
                    break
            await self._prune(cursor)
            return PollReport(total_rows, total_hints, cursor)

    async def _read(self, after: int) -> list[OutboxRow]:
        t = self.tables.outbox
        query = select(t.c.id, t.c.table_name, t.c.ical_uid, t.c.room_id, t.c.old_ical_uid, t.c.old_room_id,
                       t.c.changed_at).where(t.c.id > after).order_by(t.c.id).limit(self.batch)  # fmt: skip
        async with db.translate("reading the outbox"), self.engine.connect() as conn:
            return [OutboxRow(*row) for row in (await conn.execute(query)).all()]

    async def _prune(self, cursor: int) -> None:
        t = self.tables.outbox
        cutoff = self.clock() - RETENTION
        async with db.translate("reading the outbox"), self.engine.connect() as conn:
            through = (await conn.execute(select(func.max(t.c.id)).where(t.c.id <= cursor, t.c.changed_at < cutoff))).scalar()
        if through:
            await prune_outbox(self.engine, self.tables, int(through))

    async def listen(self, conninfo: str, stop: asyncio.Event, *, fallback_seconds: float = 10.0) -> None:
        """PostgreSQL: poll on every NOTIFY from the triggers (and every ``fallback_seconds``) until ``stop``."""
        import psycopg

        await self.poll_once()  # what happened while calsync was stopped
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            await conn.execute(f'LISTEN "{channel(self.tables)}"')  # type: ignore[arg-type]
            while not stop.is_set():
                async for _ in conn.notifies(timeout=fallback_seconds, stop_after=1):
                    break
                await self.poll_once()


def room_key_from_settings(settings: Any) -> Callable[[int], str | None]:
    def key(room_id: int) -> str | None:
        room = settings.room_for_booking_id(str(room_id))
        return None if room is None else room.key

    return key


async def poll_from_settings(settings: Any, publisher: HintPublisher) -> PollReport | None:
    """One poll for the timer function; None when the booking backend is not MRBS."""
    from calsync.booking.mrbs.schema import mrbs_tables
    from calsync.booking.mrbs.system import engine_from_settings
    from calsync.settings import BookingBackend
    from calsync.store.client import TableStore

    if settings.booking_backend is not BookingBackend.MRBS:
        return None
    tables_store = TableStore.from_settings(settings)
    engine = engine_from_settings(settings)
    try:
        await tables_store.ensure_tables()
        poller = OutboxPoller(engine, mrbs_tables(settings.mrbs_table_prefix), CursorStore(tables_store), publisher,
                              queue=settings.changes_queue, room_key=room_key_from_settings(settings))  # fmt: skip
        report = await poller.poll_once()
        log.info("mrbs outbox: %d rows -> %d hints (cursor %d)", report.rows, report.hints, report.cursor)
        return report
    finally:
        await engine.dispose()
        await tables_store.close()
