"""Row I/O on MRBS's tables inside one transaction: load a booking's rows, insert, delete, check overlaps.

Every function takes an open AsyncConnection (the caller owns the transaction) and the
MrbsTables; nothing here decides anything (mapping.py does). Database failures become
calsync errors in ``translate`` (connection problems are retryable TransientErrors).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from calsync.booking.mrbs.mapping import AreaDay, Link, Planned, Row
from calsync.booking.mrbs.schema import MrbsTables
from calsync.booking.protocol import SIDE, RoomAlreadyBooked
from calsync.errors import NotFound, PermissionDenied, TransientError

_DENIED = ("28P01", "42501", "1044", "1045", "1142")  # bad password / insufficient privilege (pg, mysql)


@contextlib.asynccontextmanager
async def translate(action: str) -> AsyncIterator[None]:
    """Database errors as calsync errors, naming the action (never the URL or a password)."""
    try:
        yield
    except DBAPIError as exc:
        code = str(getattr(exc.orig, "sqlstate", None) or (getattr(exc.orig, "args", None) or [""])[0])
        if code in _DENIED:
            raise PermissionDenied(f"MRBS database refused {action}: {type(exc.orig).__name__}", side=SIDE) from None
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            raise TransientError(f"MRBS database unavailable while {action}", side=SIDE) from None
        raise TransientError(f"MRBS database failed while {action}: {type(exc.orig).__name__}", side=SIDE) from None
    except (SQLAlchemyError, OSError) as exc:
        raise TransientError(f"MRBS database unavailable while {action}: {type(exc).__name__}", side=SIDE) from None


async def area_of_room(conn: AsyncConnection, t: MrbsTables, room_id: int, default_zone: str, *,
                       lock: bool = False) -> AreaDay:  # fmt: skip
    """The room's area day and zone (NotFound for an unknown room); ``lock`` serialises writers of the room."""
    query = (
        select(t.room.c.id, t.area.c.timezone, t.area.c.resolution, t.area.c.morningstarts,
               t.area.c.morningstarts_minutes, t.area.c.eveningends, t.area.c.eveningends_minutes)
        .select_from(t.room.outerjoin(t.area, t.room.c.area_id == t.area.c.id))
        .where(t.room.c.id == room_id)
    )  # fmt: skip
    if lock:
        query = query.with_for_update(of=t.room)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"MRBS has no room {room_id}", side=SIDE, room_id=str(room_id))
    zone = row["timezone"] or default_zone
    if row["morningstarts"] is None or row["eveningends"] is None:
        return AreaDay(zone)
    start = (row["morningstarts"] * 60 + (row["morningstarts_minutes"] or 0)) * 60
    end = (row["eveningends"] * 60 + (row["eveningends_minutes"] or 0)) * 60 + (row["resolution"] or 1800)
    return AreaDay(zone, start, end)


async def load(conn: AsyncConnection, t: MrbsTables, uid: str) -> tuple[list[Row], Link | None]:
    """Every entry and repeat row with this ical_uid, and calsync's link row for it."""
    entries = (await conn.execute(select(t.entry).where(t.entry.c.ical_uid == uid))).mappings().all()
    repeats = (await conn.execute(select(t.repeat).where(t.repeat.c.ical_uid == uid))).mappings().all()
    link = (await conn.execute(select(t.link).where(t.link.c.ical_uid == uid))).mappings().first()
    rows = [Row.from_mapping(r, repeat=True) for r in repeats] + [Row.from_mapping(e) for e in entries]
    live = {row.id for row in rows if row.repeat is not None}
    rows = [row for row in rows if row.repeat is not None or row.repeat_id is None or row.repeat_id in live]
    return rows, _link(link)


def _link(row: Any) -> Link | None:
    if row is None:
        return None
    created = row["created_at"]
    if isinstance(created, dt.datetime) and created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    return Link(row["ical_uid"], row["external_ref"], row["idempotency_key"], row["organizer_name"],
                row["organizer_email"], created)  # fmt: skip


async def uid_by_ref(conn: AsyncConnection, t: MrbsTables, external_ref: str) -> str | None:
    return (await conn.execute(select(t.link.c.ical_uid).where(t.link.c.external_ref == external_ref))).scalar()


async def uids_in_room(conn: AsyncConnection, t: MrbsTables, room_id: int, start: int, end: int) -> list[str]:
    """ical_uids with an entry of the room overlapping [start, end), in start order."""
    query = (
        select(t.entry.c.ical_uid, t.entry.c.start_time)
        .where(t.entry.c.room_id == room_id, t.entry.c.start_time < end, t.entry.c.end_time > start)
        .order_by(t.entry.c.start_time, t.entry.c.id)
    )
    seen: dict[str, None] = {}
    for uid, _ in (await conn.execute(query)).all():
        seen.setdefault(uid, None)
    return list(seen)


async def check_free(conn: AsyncConnection, t: MrbsTables, room_id: int, intervals: Sequence[tuple[int, int]],
                     *, ignore_uid: str | None = None) -> None:  # fmt: skip
    """MRBS's mrbsCheckFree: no entry of the room may overlap any of the intervals."""
    if not intervals:
        return
    overlap = or_(*(and_(t.entry.c.start_time < end, t.entry.c.end_time > start) for start, end in intervals))
    query = select(t.entry.c.id, t.entry.c.ical_uid).where(t.entry.c.room_id == room_id, overlap)
    if ignore_uid is not None:
        query = query.where(t.entry.c.ical_uid != ignore_uid)
    clash = (await conn.execute(query.limit(1))).first()
    if clash is not None:
        raise RoomAlreadyBooked(
            f"MRBS room {room_id} is already booked at that time by {clash.ical_uid}",
            side=SIDE, status=409, conflicting_booking_id=clash.ical_uid,
        )  # fmt: skip


async def write(conn: AsyncConnection, t: MrbsTables, planned: Planned) -> None:
    """Insert the planned rows as MRBS does: the repeat row first, then one entry per occurrence."""
    repeat_id = None
    if planned.repeat is not None:
        result = await conn.execute(insert(t.repeat).values(**planned.repeat))
        repeat_id = result.inserted_primary_key[0]
    rows = []
    for entry in planned.entries:
        values = {key: value for key, value in entry.items() if key != "detached"}
        values["repeat_id"] = None if entry.get("detached") else repeat_id
        rows.append(values)
    if rows:
        await conn.execute(insert(t.entry), rows)


async def remove(conn: AsyncConnection, t: MrbsTables, uid: str, *, link: bool = False) -> None:
    """Delete the booking's entry rows and its repeat row, as MRBS's mrbsDelEntry does (and calsync's link)."""
    await conn.execute(delete(t.entry).where(t.entry.c.ical_uid == uid))
    await conn.execute(delete(t.repeat).where(t.repeat.c.ical_uid == uid))
    if link:
        await conn.execute(delete(t.link).where(t.link.c.ical_uid == uid))
