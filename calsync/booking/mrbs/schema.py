"""MRBS's tables as MRBS defines them (tables.pg.sql / tables.my.sql), under its configurable prefix.

Only the columns calsync reads or writes are declared; every other column keeps MRBS's
default on insert and is never touched. calsync never alters these tables. Its own state
lives in three tables of its own, under the same prefix:

- ``<prefix>calsync_outbox``: one row per change to entry / repeat / room, written by triggers;
- ``<prefix>calsync_link``: per ical_uid calsync created, the Outlook stamp, the idempotency key
  and the organiser (MRBS has no column for them);
- ``<prefix>calsync_meta``: small values, e.g. how far the outbox has been pruned.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, SmallInteger, String, Table, Text

ENTRY_SINGLE = 0
ENTRY_RPT_ORIGINAL = 1
ENTRY_RPT_CHANGED = 2  # MRBS 1.12.2 never writes it (a changed occurrence becomes entry_type 0)

STATUS_PRIVATE = 1
STATUS_AWAITING_APPROVAL = 2
STATUS_TENTATIVE = 4


@dataclass(frozen=True)
class MrbsTables:
    """The tables calsync uses, for one prefix."""

    prefix: str
    metadata: MetaData
    area: Table
    room: Table
    repeat: Table
    entry: Table
    outbox: Table
    link: Table
    meta: Table

    def name(self, short: str) -> str:
        return f"{self.prefix}{short}"


def mrbs_tables(prefix: str = "mrbs_") -> MrbsTables:
    """Table objects for MRBS's schema under ``prefix`` (MRBS's $db_tbl_prefix)."""
    md = MetaData()
    area = Table(
        f"{prefix}area", md,
        Column("id", Integer, primary_key=True),
        Column("disabled", SmallInteger),
        Column("area_name", String(30)),
        Column("timezone", String(50)),
        Column("resolution", Integer),
        Column("morningstarts", Integer),
        Column("morningstarts_minutes", Integer),
        Column("eveningends", Integer),
        Column("eveningends_minutes", Integer),
        Column("enable_periods", SmallInteger),
    )  # fmt: skip
    room = Table(
        f"{prefix}room", md,
        Column("id", Integer, primary_key=True),
        Column("disabled", SmallInteger),
        Column("area_id", Integer),
        Column("room_name", String(25)),
        Column("description", String(60)),
    )  # fmt: skip
    booking_columns = (
        Column("start_time", Integer, nullable=False),
        Column("end_time", Integer, nullable=False),
        Column("room_id", Integer, nullable=False),
        Column("timestamp", DateTime(timezone=True)),
        Column("create_by", String(80), nullable=False),
        Column("modified_by", String(80), nullable=False),
        Column("name", String(80), nullable=False),
        Column("type", String(1), nullable=False),
        Column("description", Text),
        Column("status", SmallInteger, nullable=False),
        Column("ical_uid", String(255), nullable=False),
        Column("ical_sequence", SmallInteger, nullable=False),
    )
    repeat = Table(
        f"{prefix}repeat", md,
        Column("id", Integer, primary_key=True),
        Column("rep_type", Integer, nullable=False),
        Column("end_date", Integer, nullable=False),
        Column("rep_opt", String(32), nullable=False),
        Column("rep_interval", SmallInteger, nullable=False),
        Column("month_absolute", SmallInteger),
        Column("month_relative", String(4)),
        *(column._copy() for column in booking_columns),
    )  # fmt: skip
    entry = Table(
        f"{prefix}entry", md,
        Column("id", Integer, primary_key=True),
        Column("entry_type", Integer, nullable=False),
        Column("repeat_id", Integer),
        Column("ical_recur_id", String(16)),
        *(column._copy() for column in booking_columns),
    )  # fmt: skip
    outbox = Table(
        f"{prefix}calsync_outbox", md,
        Column("id", BigInteger, primary_key=True),
        Column("table_name", String(16), nullable=False),
        Column("op", String(1), nullable=False),
        Column("row_id", Integer, nullable=False),
        Column("ical_uid", String(255)),
        Column("room_id", Integer),
        Column("old_ical_uid", String(255)),
        Column("old_room_id", Integer),
        Column("changed_at", DateTime(timezone=True)),
    )  # fmt: skip
    link = Table(
        f"{prefix}calsync_link", md,
        Column("ical_uid", String(255), primary_key=True),
        Column("external_ref", String(1024)),
        Column("idempotency_key", String(255)),
        Column("organizer_name", String(255)),
        Column("organizer_email", String(255)),
        Column("created_at", DateTime(timezone=True)),
    )  # fmt: skip
    meta = Table(
        f"{prefix}calsync_meta", md,
        Column("name", String(64), primary_key=True),
        Column("value", String(255)),
    )  # fmt: skip
    return MrbsTables(prefix, md, area, room, repeat, entry, outbox, link, meta)
