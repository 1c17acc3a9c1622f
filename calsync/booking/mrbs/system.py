"""MrbsBookingSystem: the BookingSystem Protocol over MRBS's own database (SQLAlchemy Core, async).

Ids: a booking's id is its ``ical_uid`` (MRBS.md: row ids change on every edit); a room's id is
MRBS's room id as text. Versions hash every row of the booking (mapping.version_of). Writes run
in one transaction that locks the room row (FOR UPDATE), checks MRBS's rule that entries of a
room never overlap (RoomAlreadyBooked), and writes rows as MRBS's edit_entry_handler does: an
edit deletes the booking's rows and inserts new ones with the same ical_uid and ical_sequence+1,
``create_by`` kept and ``modified_by`` = the configured MRBS user. A create is idempotent: the
ical_uid is derived from the idempotency key, so a retry finds the first attempt's rows.
Rejecting deletes the rows (MRBS has no rejected state; its own approval "reject" deletes too).
The change feed reads calsync's outbox (triggers.py); rows pruned past a cursor expire it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from calsync.booking.conversion import RoomMap
from calsync.booking.mrbs import rows as db
from calsync.booking.mrbs.mapping import Kinds, plan_rows, record_from_rows, version_of
from calsync.booking.mrbs.schema import MrbsTables, mrbs_tables
from calsync.booking.protocol import (
    SIDE,
    BookingRecord,
    BookingRoom,
    ChangedMeanwhile,
    ChangeFeedExpired,
    ChangeFeedPage,
)
from calsync.errors import NotFound, ValidationError
from calsync.model.booking import Booking, BookingStatus

PRUNED_THROUGH = "outbox_pruned_through"
"""calsync_meta row: the highest outbox id pruned; a feed cursor below it has lost changes."""


def engine_from_settings(settings: Any) -> AsyncEngine:
    """An async engine for MRBS_DATABASE_URL (+ MRBS_DATABASE_PASSWORD); MySQL sessions run in UTC."""
    url = make_url(settings.mrbs_database_url.get_secret_value())
    if settings.mrbs_database_password is not None:
        url = url.set(password=settings.mrbs_database_password.get_secret_value())
    options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if url.get_backend_name() == "mysql":
        options["connect_args"] = {"init_command": "SET time_zone = '+00:00'"}
    return create_async_engine(url, **options)


def uid_for_key(idempotency_key: str) -> str:
    """A MRBS-shaped ical_uid that is the same for every retry of one create."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"MRBS-{digest[:13]}-{digest[13:21]}@calsync"


class MrbsBookingSystem:
    """MRBS's database as a calsync booking system; implements calsync.booking.protocol.BookingSystem."""

    def __init__(self, engine: AsyncEngine, *, tables: MrbsTables | None = None, room_map: RoomMap | None = None,
                 user: str = "calsync", default_zone: str = "UTC", kinds: Kinds | None = None,
                 clock: Callable[[], dt.datetime] | None = None, page_size: int = 200) -> None:  # fmt: skip
        self.engine = engine
        self.tables = tables or mrbs_tables()
        self.room_map = room_map or RoomMap()
        self.user, self.default_zone, self.kinds = user, default_zone, kinds or Kinds()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.page_size = page_size

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> MrbsBookingSystem:
        return cls(
            engine_from_settings(settings), tables=mrbs_tables(settings.mrbs_table_prefix),
            room_map=RoomMap.from_settings_rooms(settings.rooms), user=settings.mrbs_user,
            default_zone=settings.mrbs_time_zone,
            kinds=Kinds(meeting=settings.mrbs_booking_type, block=settings.mrbs_block_type), **options,
        )  # fmt: skip

    async def aclose(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> MrbsBookingSystem:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- reads ---------------------------------------------------------------------------------

    async def list_rooms(self) -> list[BookingRoom]:
        t = self.tables
        async with db.translate("listing rooms"), self.engine.connect() as conn:
            rows = (await conn.execute(select(t.room.c.id, t.room.c.room_name).order_by(t.room.c.id))).all()
        return [BookingRoom(id=str(room_id), name=name) for room_id, name in rows]

    async def _record(self, conn: AsyncConnection, uid: str) -> BookingRecord | None:
        rows, link = await db.load(conn, self.tables, uid)
        if not rows:
            return None
        room_id = rows[0].room_id
        area = await db.area_of_room(conn, self.tables, room_id, self.default_zone)
        try:
            return record_from_rows(uid, rows, room=self.room_map.key(str(room_id)), area=area, kinds=self.kinds,
                                    link=link)  # fmt: skip
        except ValidationError:
            raise
        except ValueError as exc:
            raise ValidationError(f"MRBS booking {uid} cannot be read: {exc}", side=SIDE, booking_id=uid) from None

    async def get_booking(self, booking_id: str) -> BookingRecord:
        async with db.translate("reading a booking"), self.engine.connect() as conn:
            record = await self._record(conn, booking_id)
        if record is None:
            raise NotFound(f"MRBS has no booking {booking_id}", side=SIDE, booking_id=booking_id)
        return record

    async def find_by_external_ref(self, external_ref: str) -> BookingRecord | None:
        async with db.translate("finding a booking by its stamp"), self.engine.connect() as conn:
            uid = await db.uid_by_ref(conn, self.tables, external_ref)
            return None if uid is None else await self._record(conn, uid)

    async def list_bookings(self, room_id: str, start: dt.datetime, end: dt.datetime) -> AsyncIterator[BookingRecord]:
        async with db.translate("listing bookings"), self.engine.connect() as conn:
            await db.area_of_room(conn, self.tables, _room(room_id), self.default_zone)
            uids = await db.uids_in_room(conn, self.tables, _room(room_id), int(start.timestamp()), int(end.timestamp()))
            records = [await self._record(conn, uid) for uid in uids]
        for record in records:
            if record is not None:
                yield record

    # --- writes --------------------------------------------------------------------------------

    async def create_booking(self, room_id: str, booking: Booking, *, idempotency_key: str,
                             external_ref: str | None) -> BookingRecord:  # fmt: skip
        uid, t = uid_for_key(idempotency_key), self.tables
        async with db.translate("creating a booking"), self.engine.begin() as conn:
            area = await db.area_of_room(conn, t, _room(room_id), self.default_zone, lock=True)
            existing = await self._record(conn, uid)
            if existing is not None:
                return existing  # a retry of a create that went through
            planned = plan_rows(booking, uid=uid, sequence=0, room_id=_room(room_id), area=area, kinds=self.kinds,
                                create_by=self.user, modified_by="")  # fmt: skip
            await db.check_free(conn, t, _room(room_id), planned.intervals())
            await db.write(conn, t, planned)
            await conn.execute(insert(t.link).values(
                ical_uid=uid, external_ref=external_ref or booking.ids.outlook, idempotency_key=idempotency_key[:255],
                organizer_name=booking.organizer.name, organizer_email=booking.organizer.email,
                created_at=self.clock(),
            ))  # fmt: skip
            return await self._must(conn, uid)

    async def _locked_current(self, conn: AsyncConnection, booking_id: str, if_match: str) -> Any:
        rows, _ = await db.load(conn, self.tables, booking_id)
        if not rows:
            raise NotFound(f"MRBS has no booking {booking_id}", side=SIDE, booking_id=booking_id)
        area = await db.area_of_room(conn, self.tables, rows[0].room_id, self.default_zone, lock=True)
        rows, _ = await db.load(conn, self.tables, booking_id)  # again, now that writers of the room wait
        if if_match != "*" and version_of(rows) != if_match:
            raise ChangedMeanwhile(f"MRBS booking {booking_id} changed since version {if_match}", side=SIDE,
                                   status=412, booking_id=booking_id, current_version=version_of(rows))  # fmt: skip
        return rows, area

    async def update_booking(self, booking_id: str, booking: Booking, *, if_match: str) -> BookingRecord:
        """Rewrite the booking's rows, in ``booking.room`` (a copy a user moved to another room goes back);
        ``booking.note`` (calsync's message to the users) is ignored: MRBS has no field for it
        (docs/booking-api.md, ``note``)."""
        t = self.tables
        async with db.translate("updating a booking"), self.engine.begin() as conn:
            rows, area = await self._locked_current(conn, booking_id, if_match)
            base = next((row for row in rows if row.repeat is not None), rows[0])
            room_id = self._room_of(booking, base.room_id)
            if room_id != base.room_id:
                area = await db.area_of_room(conn, t, room_id, self.default_zone, lock=True)
            planned = plan_rows(
                booking, uid=booking_id, sequence=max(row.ical_sequence for row in rows) + 1, room_id=room_id,
                area=area, kinds=self.kinds, create_by=base.create_by, modified_by=self.user,
                description=base.description or "",
            )  # fmt: skip
            await db.check_free(conn, t, room_id, planned.intervals(), ignore_uid=booking_id)
            await db.remove(conn, t, booking_id)
            await db.write(conn, t, planned)
            return await self._must(conn, booking_id)

    def _room_of(self, booking: Booking, current: int) -> int:
        """The MRBS room of ``booking.room`` (a calsync room key); ``current`` when it names no MRBS room."""
        room_id = self.room_map.room_id(booking.room) if booking.room else ""
        return int(room_id) if room_id.isdigit() else current

    async def delete_booking(self, booking_id: str, *, if_match: str) -> None:
        async with db.translate("deleting a booking"), self.engine.begin() as conn:
            await self._locked_current(conn, booking_id, if_match)
            await db.remove(conn, self.tables, booking_id, link=True)

    async def reject_booking(self, booking_id: str, reason: str) -> BookingRecord:
        async with db.translate("rejecting a booking"), self.engine.begin() as conn:
            record = await self._record(conn, booking_id)
            if record is None:
                raise NotFound(f"MRBS has no booking {booking_id}", side=SIDE, booking_id=booking_id)
            await db.remove(conn, self.tables, booking_id, link=True)
        cancelled = record.booking.model_copy(update={"status": BookingStatus.CANCELLED})
        return record.model_copy(update={"booking": cancelled, "rejection_reason": reason, "updated_at": self.clock()})

    async def _must(self, conn: AsyncConnection, uid: str) -> BookingRecord:
        record = await self._record(conn, uid)
        assert record is not None, uid
        return record

    # --- change feed (the outbox) ------------------------------------------------------------------

    async def changes(self, cursor: str | None) -> ChangeFeedPage:
        t = self.tables
        async with db.translate("reading the outbox"), self.engine.connect() as conn:
            pruned = int((await conn.execute(select(t.meta.c.value).where(t.meta.c.name == PRUNED_THROUGH))).scalar()
                         or 0)  # fmt: skip
            after = pruned if cursor is None else _cursor(cursor)
            if after < pruned:
                raise ChangeFeedExpired(f"MRBS outbox rows after {after} were pruned", side=SIDE, status=410)
            found = (await conn.execute(
                select(t.outbox.c.id, t.outbox.c.ical_uid, t.outbox.c.old_ical_uid)
                .where(t.outbox.c.id > after, t.outbox.c.table_name != "room")
                .order_by(t.outbox.c.id).limit(self.page_size)
            )).all()  # fmt: skip
            uids: dict[str, None] = {}
            for _, uid, old_uid in found:
                for value in (old_uid, uid):
                    if value:
                        uids.setdefault(value, None)
            present = set()
            if uids:
                query = select(t.entry.c.ical_uid).where(t.entry.c.ical_uid.in_(list(uids))).distinct()
                present = {row[0] for row in (await conn.execute(query)).all()}
        next_cursor = str(found[-1][0]) if found else str(after)
        return ChangeFeedPage(
            changed=tuple(u for u in uids if u in present), deleted=tuple(u for u in uids if u not in present),
            next_cursor=next_cursor, has_more=len(found) == self.page_size,
        )  # fmt: skip

    async def prune(self, through: int) -> None:
        """Delete outbox rows up to ``through`` and remember it (the poller calls this)."""
        await prune_outbox(self.engine, self.tables, through)


async def prune_outbox(engine: AsyncEngine, t: MrbsTables, through: int) -> None:
    """Delete outbox rows up to ``through``; a feed cursor below it now raises ChangeFeedExpired."""
    async with db.translate("pruning the outbox"), engine.begin() as conn:
        await conn.execute(t.outbox.delete().where(t.outbox.c.id <= through))
        await conn.execute(t.meta.delete().where(t.meta.c.name == PRUNED_THROUGH))
        await conn.execute(insert(t.meta).values(name=PRUNED_THROUGH, value=str(through)))


def _room(room_id: str) -> int:
    try:
        return int(room_id)
    except ValueError:
        raise NotFound(f"MRBS has no room {room_id!r} (MRBS room ids are numbers)", side=SIDE) from None


def _cursor(cursor: str) -> int:
    try:
        return int(cursor)
    except ValueError:
        raise ChangeFeedExpired(f"{cursor!r} is not a MRBS outbox cursor", side=SIDE, status=410) from None
