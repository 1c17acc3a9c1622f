"""A MRBS database for the local stack, and MRBS's users writing to it as MRBS's own PHP does.

``MrbsDatabase.start()`` creates a fresh database on the embedded PostgreSQL (devstack/postgres.py)
with MRBS's schema under its prefix, one area (Europe/Berlin, 07:00 to the end of the 18:30 slot,
as MRBS's defaults) with the rooms given, and calsync's outbox and triggers (the statements of
``calsync mrbs install``). The ``user_*`` methods write ``entry``/``repeat`` rows the way MRBS's
edit_entry_handler and del_entry do (../shared/MRBS.md): a series is a repeat row plus one
``entry_type 1`` row per occurrence; editing an occurrence deletes its row and inserts a detached
one (new id, ``entry_type 0``, same ical_uid and ical_recur_id, ical_sequence + 1); editing a single
entry gives it a new id and ``ical_recur_id ''``; deleting an occurrence just deletes its row.
Times are wall times in the area's zone, as a MRBS user types them. ``writes_since`` counts
changes to MRBS's booking tables through the outbox (every writer goes through the triggers).
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from calsync.booking.mrbs.schema import mrbs_tables
from calsync.booking.mrbs.triggers import ddl
from devstack.postgres import EmbeddedPostgres

ZONE = "Europe/Berlin"
MRBS_USER = "calsync"
_MASK_DAYS = (6, 0, 1, 2, 3, 4, 5)  # rep_opt index (Sunday first) -> Python weekday


def epoch(local: str, zone: str = ZONE) -> int:
    """A wall time a MRBS user types ('2027-03-23T09:00') as MRBS stores it (Unix seconds)."""
    return int(dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).timestamp())


def recur_id(start: int) -> str:
    """MRBS's ical_recur_id: the occurrence's original start in UTC."""
    return dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y%m%dT%H%M%SZ")


class MrbsDatabase:
    """One MRBS database on a running PostgreSQL; rooms are ``{room id: name}``."""

    def __init__(self, postgres: EmbeddedPostgres, *, rooms: dict[int, str], prefix: str = "mrbs_",
                 zone: str = ZONE) -> None:  # fmt: skip
        self.postgres, self.rooms, self.prefix, self.zone = postgres, rooms, prefix, zone
        self.name = "mrbs_" + uuid.uuid4().hex[:12]
        self.url = ""

    def start(self) -> MrbsDatabase:
        self.url = self.postgres.create_mrbs_database(self.name, self.prefix)
        with self._connect() as conn:
            conn.execute(
                f"INSERT INTO {self.t('area')} (id, area_name, timezone, resolution, morningstarts, "  # noqa: S608
                "morningstarts_minutes, eveningends, eveningends_minutes) VALUES (1, 'Main', %s, 1800, 7, 0, 18, 30)",
                (self.zone,),
            )  # fmt: skip
            for room_id, name in self.rooms.items():
                conn.execute(f"INSERT INTO {self.t('room')} (id, area_id, room_name, sort_key) "  # noqa: S608
                             "VALUES (%s, 1, %s, %s)", (room_id, name[:25], name))  # fmt: skip
            conn.execute(f"SELECT setval('{self.t('area')}_id_seq', 100), setval('{self.t('room')}_id_seq', 100)")
            for statement in ddl("postgresql", mrbs_tables(self.prefix)):  # what `calsync mrbs install` runs
                conn.execute(statement)  # type: ignore[arg-type]
        return self

    def t(self, short: str) -> str:
        return f"{self.prefix}{short}"

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        return psycopg.connect(self.postgres.conninfo(self.name), autocommit=False, row_factory=dict_row)

    def execute(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        """Any SQL, in its own transaction (an operator's raw UPDATE); returns the rows it returns."""
        with self._connect() as conn:
            cursor = conn.execute(sql, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    # --- what MRBS's users do -----------------------------------------------------------------------

    def _uid(self) -> str:
        return f"MRBS-{secrets.token_hex(7)[:13]}-{secrets.token_hex(4)}@mrbs.example"

    def _insert(self, conn: psycopg.Connection[Any], table: str, values: dict[str, Any]) -> int:
        columns = ", ".join(values)
        marks = ", ".join(["%s"] * len(values))
        sql = f"INSERT INTO {self.t(table)} ({columns}) VALUES ({marks}) RETURNING id"  # noqa: S608
        return conn.execute(sql, list(values.values())).fetchone()["id"]  # type: ignore[index, call-overload]

    def user_create_entry(self, room_id: int, name: str, start: str, end: str, *, private: bool = False,
                          tentative: bool = False, create_by: str = "ada", type_: str = "I",
                          description: str = "") -> dict[str, Any]:  # fmt: skip
        """A single booking made in MRBS's "New entry" page."""
        values = self._common(room_id, name, private, tentative, create_by, type_, description)
        values.update(start_time=epoch(start, self.zone), end_time=epoch(end, self.zone), entry_type=0)
        with self._connect() as conn:
            values["id"] = self._insert(conn, "entry", values)
        return values

    def user_create_series(self, room_id: int, name: str, start: str, end: str, *, last_day: str,
                           weekdays: str = "0010100", interval: int = 1, create_by: str = "ada",
                           private: bool = False, tentative: bool = False) -> dict[str, Any]:  # fmt: skip
        """A weekly series (``weekdays``: MRBS's rep_opt, Sunday first) up to ``last_day`` (YYYY-MM-DD)."""
        first_start, first_end = epoch(start, self.zone), epoch(end, self.zone)
        local_start = dt.datetime.fromisoformat(start)
        duration = first_end - first_start
        end_date = epoch(f"{last_day}T{local_start:%H:%M:%S}", self.zone)
        common = self._common(room_id, name, private, tentative, create_by, "I", "")
        repeat = {**common, "start_time": first_start, "end_time": first_end, "rep_type": 2, "rep_opt": weekdays,
                  "rep_interval": interval, "end_date": end_date}  # fmt: skip
        days = {_MASK_DAYS[i] for i, flag in enumerate(weekdays) if flag == "1"}
        week_one = local_start.date() - dt.timedelta(days=local_start.weekday())
        starts, day = [], local_start.date()
        while day <= dt.date.fromisoformat(last_day):
            if day.weekday() in days and ((day - week_one).days // 7) % interval == 0:
                starts.append(epoch(f"{day}T{local_start:%H:%M:%S}", self.zone))
            day += dt.timedelta(days=1)
        with self._connect() as conn:
            repeat["id"] = self._insert(conn, "repeat", repeat)
            for begin in starts:
                self._insert(conn, "entry", {**common, "start_time": begin, "end_time": begin + duration,
                                             "entry_type": 1, "repeat_id": repeat["id"],
                                             "ical_recur_id": recur_id(begin)})  # fmt: skip
        repeat["occurrences"] = [recur_id(begin) for begin in starts]
        return repeat

    def _common(self, room_id: int, name: str, private: bool, tentative: bool, create_by: str, type_: str,
                description: str) -> dict[str, Any]:  # fmt: skip
        return {"room_id": room_id, "name": name, "description": description, "type": type_,
                "status": (1 if private else 0) | (4 if tentative else 0), "create_by": create_by,
                "modified_by": "", "ical_uid": self._uid(), "ical_sequence": 0}  # fmt: skip

    def user_edit_occurrence(self, ical_uid: str, recur: str, *, start: str | None = None, end: str | None = None,
                             name: str | None = None, by: str = "ada") -> dict[str, Any]:  # fmt: skip
        """"Edit this entry only" on one occurrence: its row is replaced by a detached one."""
        where = "ical_uid = %s AND ical_recur_id = %s"
        return self._replace(where, (ical_uid, recur), start, end, name, by, detach=True)

    def user_edit_entry(self, ical_uid: str, *, start: str | None = None, end: str | None = None,
                        name: str | None = None, by: str = "ada", room_id: int | None = None) -> dict[str, Any]:  # fmt: skip
        """Editing a single booking (``room_id``: moved to that room): a new row (new id) with ``ical_recur_id ''``."""
        return self._replace("ical_uid = %s AND repeat_id IS NULL", (ical_uid,), start, end, name, by, detach=False,
                             room_id=room_id)  # fmt: skip

    def _replace(self, where: str, params: tuple, start: str | None, end: str | None, name: str | None, by: str,
                 *, detach: bool, room_id: int | None = None) -> dict[str, Any]:  # fmt: skip
        with self._connect() as conn:
            old = conn.execute(f"SELECT * FROM {self.t('entry')} WHERE {where}", params).fetchone()  # noqa: S608
            assert old is not None, params
            conn.execute(f"DELETE FROM {self.t('entry')} WHERE id = %s", (old["id"],))  # noqa: S608
            keep = ("room_id", "name", "description", "type", "status", "create_by", "ical_uid",
                    "start_time", "end_time", "ical_recur_id")  # fmt: skip
            values = {key: old[key] for key in keep}
            values.update(entry_type=0, repeat_id=None, modified_by=by, ical_sequence=old["ical_sequence"] + 1)
            if not detach:
                values["ical_recur_id"] = ""
            if start is not None:
                values["start_time"] = epoch(start, self.zone)
            if end is not None:
                values["end_time"] = epoch(end, self.zone)
            if name is not None:
                values["name"] = name
            if room_id is not None:
                values["room_id"] = room_id
            values["id"] = self._insert(conn, "entry", values)
        return values

    def user_delete_occurrence(self, ical_uid: str, recur: str) -> None:
        """"Delete this entry only": the row goes, nothing records the date."""
        self.execute(f"DELETE FROM {self.t('entry')} WHERE ical_uid = %s AND ical_recur_id = %s",  # noqa: S608
                     (ical_uid, recur))  # fmt: skip

    def user_delete(self, ical_uid: str) -> None:
        """Deleting a booking (or a whole series): its entry rows and its repeat row."""
        with self._connect() as conn:
            conn.execute(f"DELETE FROM {self.t('entry')} WHERE ical_uid = %s", (ical_uid,))  # noqa: S608
            conn.execute(f"DELETE FROM {self.t('repeat')} WHERE ical_uid = %s", (ical_uid,))  # noqa: S608

    # --- what MRBS shows -------------------------------------------------------------------------------

    def entries(self, room_id: int | None = None) -> list[dict[str, Any]]:
        """The entry rows (MRBS's day and week views show exactly these), in start order."""
        sql = f"SELECT * FROM {self.t('entry')}"  # noqa: S608
        if room_id is not None:
            return self.execute(sql + " WHERE room_id = %s ORDER BY start_time, id", (room_id,))
        return self.execute(sql + " ORDER BY start_time, id")

    def repeats(self) -> list[dict[str, Any]]:
        return self.execute(f"SELECT * FROM {self.t('repeat')} ORDER BY id")  # noqa: S608

    def live_bookings(self, room_id: int) -> list[dict[str, Any]]:
        """One row per booking (ical_uid) in the room: its repeat row for a series, else its entry."""
        found: dict[str, dict[str, Any]] = {}
        repeats = {row["ical_uid"]: row for row in self.repeats() if row["room_id"] == room_id}
        for row in self.entries(room_id):
            found.setdefault(row["ical_uid"], repeats.get(row["ical_uid"], row))
        return list(found.values())

    def outbox_mark(self) -> int:
        """The newest outbox id (changes after it are later writes)."""
        rows = self.execute(f"SELECT last_value, is_called FROM {self.t('calsync_outbox')}_id_seq")  # noqa: S608
        return int(rows[0]["last_value"]) if rows[0]["is_called"] else 0

    def writes_since(self, mark: int) -> int:
        """Rows written to entry/repeat since ``mark`` (outbox rows: any writer, calsync included)."""
        rows = self.execute(f"SELECT count(*) AS n FROM {self.t('calsync_outbox')} "  # noqa: S608
                            "WHERE id > %s AND table_name <> 'room'", (mark,))  # fmt: skip
        return int(rows[0]["n"])
