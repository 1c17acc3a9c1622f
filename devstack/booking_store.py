"""The booking emulator's state and rules: SQLite storage of rooms, bookings, idempotency keys and the change feed.

Synchronous and thread-safe (one connection behind a lock), so both the HTTP app (on the
server's thread) and tests acting "as a user" (on theirs) can call it. Rules implemented
here: versions (ETag), If-Match preconditions, Idempotency-Key replay, refusal of double
bookings (recurring series expanded up to one year past the later start, at most 1000
occurrences), rejection with a reason, and a change feed with cursors that an epoch bump
expires. Violations raise ProblemError, which the app renders as RFC 9457 problem+json.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from calsync.booking.api_models import BookingWrite, WireStatus

UTC = dt.UTC
PROBLEM_BASE = "urn:calsync:booking:problem:"
HORIZON = dt.timedelta(days=366)
MAX_OCCURRENCES = 1000
_MAX_STEPS = 100_000
_MIN_YEAR, _MAX_YEAR = 1971, 2200
_FREE_STATUSES = {WireStatus.CANCELLED.value, WireStatus.REJECTED.value}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT);
CREATE TABLE IF NOT EXISTS bookings (
    id TEXT PRIMARY KEY, room_id TEXT NOT NULL, data TEXT NOT NULL, version INTEGER NOT NULL,
    external_ref TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS bookings_room ON bookings(room_id);
CREATE INDEX IF NOT EXISTS bookings_ref ON bookings(external_ref);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, response TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, booking_id TEXT NOT NULL,
    room_id TEXT NOT NULL, deleted INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""


class ProblemError(Exception):
    """An RFC 9457 problem the emulator answers with."""

    def __init__(self, status: int, kind: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        problem = {"type": PROBLEM_BASE + self.kind, "title": self.title, "status": self.status, "detail": self.detail}
        if instance:
            problem["instance"] = instance
        problem.update(self.extra)
        return problem


def not_found(what: str) -> ProblemError:
    return ProblemError(404, "not-found", "Not found", f"{what} does not exist")


@dataclass(frozen=True)
class Change:
    """One committed change, handed to the emulator for webhooks."""

    event: str
    booking_id: str
    room_id: str
    version: str


@dataclass
class MutationResult:
    booking: dict[str, Any]
    status: int = 200
    replayed: bool = False
    changes: list[Change] = field(default_factory=list)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def _check_range(value: dt.datetime, what: str) -> None:
    # the local year first: 0001-01-01T00:00+12:45 has no UTC instant in Python's range (OverflowError otherwise)
    if not _MIN_YEAR <= value.year <= _MAX_YEAR or not _MIN_YEAR <= value.astimezone(UTC).year <= _MAX_YEAR:
        raise ProblemError(
            422, "invalid-booking", "Invalid booking", f"{what} must lie between {_MIN_YEAR} and {_MAX_YEAR}"
        )


def _validate(write: BookingWrite) -> None:
    """Rules beyond the schema; each violation is a 422 naming the field."""
    _check_range(write.start, "start")
    _check_range(write.end, "end")
    if write.all_day:
        zone = ZoneInfo(write.time_zone)
        for what, value in (("start", write.start), ("end", write.end)):
            local = value.astimezone(zone)
            if local.time() != dt.time(0) and dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone).astimezone(
                UTC
            ) != value.astimezone(UTC):
                raise ProblemError(
                    422,
                    "invalid-booking",
                    "Invalid booking",
                    f"all-day {what} {value.isoformat()} is not midnight in {write.time_zone}",
                )
    if write.recurrence is not None:
        for value in [*write.recurrence.exdates, *(o.start for o in write.recurrence.overrides)]:
            _check_range(value, "recurrence date")
        for o in write.recurrence.overrides:
            _check_range(o.end, "override end")
            _check_range(o.original_start, "override original_start")
        try:
            list(itertools.islice(_rule_starts(write.recurrence.rrule, write.start, write.time_zone), 2))
        except (ValueError, TypeError, OverflowError, KeyError, IndexError, AttributeError) as exc:
            raise ProblemError(
                422, "invalid-recurrence", "Invalid recurrence", f"rrule {write.recurrence.rrule!r} is not valid: {exc}"
            ) from None


def _rule_starts(rrule: str, start: dt.datetime, zone_name: str) -> Iterator[dt.datetime]:
    """Occurrence starts (aware, UTC) of an RRULE expanded in the booking's zone."""
    from dateutil.rrule import rrulestr

    text = rrule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    zone = ZoneInfo(zone_name)
    local = start.astimezone(zone)
    try:
        rule = rrulestr(text, dtstart=local)
        aware = True
    except ValueError:
        rule = rrulestr(text, dtstart=local.replace(tzinfo=None), ignoretz=True)
        aware = False
    for occurrence in rule:
        yield (occurrence if aware else occurrence.replace(tzinfo=zone)).astimezone(UTC)


def occurrences(
    data: dict[str, Any], until: dt.datetime, since: dt.datetime | None = None
) -> list[tuple[dt.datetime, dt.datetime]]:
    """[start, end) intervals in UTC of a stored booking that start before ``until`` and end after ``since``.

    At most MAX_OCCURRENCES intervals, and at most _MAX_STEPS rule steps, are produced.
    """
    start, end = _parse(data["start"]), _parse(data["end"])
    recurrence = data.get("recurrence")
    if not recurrence:
        return [(start.astimezone(UTC), end.astimezone(UTC))]
    duration = end - start
    excluded = {_parse(x).astimezone(UTC) for x in recurrence.get("exdates", [])}
    moved = {_parse(o["original_start"]).astimezone(UTC): o for o in recurrence.get("overrides", [])}
    result: list[tuple[dt.datetime, dt.datetime]] = []
    try:
        for step, begin in enumerate(_rule_starts(recurrence["rrule"], start, data["time_zone"])):
            if begin >= until or step >= _MAX_STEPS or len(result) >= MAX_OCCURRENCES:
                break
            if begin in excluded:
                continue
            if begin in moved:
                o = moved[begin]
                interval = (_parse(o["start"]).astimezone(UTC), _parse(o["end"]).astimezone(UTC))
            else:
                interval = (begin, begin + duration)
            if since is None or interval[1] > since:
                result.append(interval)
    except (ValueError, TypeError, OverflowError):
        pass  # validated on write; a rule that stops expanding stops here
    return result


def _overlaps(a: list[tuple[dt.datetime, dt.datetime]], b: list[tuple[dt.datetime, dt.datetime]]) -> bool:
    for a_start, a_end in a:
        for b_start, b_end in b:
            if a_start < b_end and b_start < a_end and a_start < a_end and b_start < b_end:
                return True
    return False


def _window(a: dict[str, Any], b: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    """Where two bookings are compared: from the later start to one year after it (HORIZON)."""
    latest = max(_parse(a["start"]).astimezone(UTC), _parse(b["start"]).astimezone(UTC))
    return latest, min(latest + HORIZON, dt.datetime(_MAX_YEAR + 1, 1, 1, tzinfo=UTC))


def _fingerprint(write: BookingWrite) -> str:
    return hashlib.sha256(write.model_dump_json().encode()).hexdigest()


def encode_cursor(epoch: int, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{epoch}:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        epoch, seq = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii").split(":")
        return int(epoch), int(seq)
    except (ValueError, UnicodeError):
        raise ProblemError(
            410, "cursor-expired", "Cursor expired", "the cursor is unknown or expired; do a full pass"
        ) from None


class BookingStore:
    """Rooms, bookings, idempotency keys and the change feed in one SQLite database."""

    def __init__(self, database: str = ":memory:") -> None:
        self._lock = threading.RLock()
        self._db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', '1')")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- rooms ----------------------------------------------------------------------------------

    def add_room(self, room_id: str, name: str, email: str | None = None) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO rooms VALUES (?, ?, ?)", (room_id, name, email))

    def list_rooms(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM rooms ORDER BY id").fetchall()
        return [dict(row) for row in rows]

    def get_room(self, room_id: str) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT * FROM rooms WHERE id = ?", (room_id,)).fetchone()
        if row is None:
            raise not_found(f"room {room_id!r}")
        return dict(row)

    # --- reads ----------------------------------------------------------------------------------

    def _row(self, booking_id: str) -> sqlite3.Row:
        row = self._db.execute("SELECT * FROM bookings WHERE id = ?", (booking_id,)).fetchone()
        if row is None:
            raise not_found(f"booking {booking_id!r}")
        return row

    @staticmethod
    def _out(row: sqlite3.Row) -> dict[str, Any]:
        data = json.loads(row["data"])
        data.update(
            id=row["id"],
            version=str(row["version"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
        return data

    def get(self, booking_id: str) -> dict[str, Any]:
        with self._lock:
            return self._out(self._row(booking_id))

    def all_bookings(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM bookings ORDER BY created_at, id").fetchall()
        return [self._out(row) for row in rows]

    def list(
        self,
        *,
        room_id: str | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        external_ref: str | None,
        limit: int,
        page_token: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Bookings matching the filters ordered by id; the page token is the last id served."""
        sql, args = "SELECT * FROM bookings WHERE 1=1", []
        if room_id is not None:
            sql += " AND room_id = ?"
            args.append(room_id)
        if external_ref is not None:
            sql += " AND external_ref = ?"
            args.append(external_ref)
        if page_token:
            sql += " AND id > ?"
            args.append(page_token)
        sql += " ORDER BY id"
        with self._lock:
            if room_id is not None:
                self.get_room(room_id)
            rows = self._db.execute(sql, args).fetchall()
        items: list[dict[str, Any]] = []
        for row in rows:
            data = self._out(row)
            if start is not None or end is not None:
                low = start.astimezone(UTC) if start else dt.datetime(_MIN_YEAR, 1, 1, tzinfo=UTC)
                high = end.astimezone(UTC) if end else dt.datetime(_MAX_YEAR + 1, 1, 1, tzinfo=UTC)
                if not _overlaps(occurrences(data, high, low), [(low, high)]):
                    continue
            items.append(data)
            if len(items) > limit:
                break
        if len(items) > limit:
            return items[:limit], items[limit - 1]["id"]
        return items, None

    # --- writes ---------------------------------------------------------------------------------

    def _check_free(self, booking_id: str | None, data: dict[str, Any]) -> None:
        """Refuse a double booking (409). A block (facilities closing the room) may be laid over bookings:
        they stay until their owners, or calsync, release them (docs/booking-api.md, "Blocks")."""
        if data["status"] in _FREE_STATUSES or data.get("kind") == "block":
            return
        rows = self._db.execute(
            "SELECT * FROM bookings WHERE room_id = ? AND id IS NOT ?", (data["room_id"], booking_id)
        ).fetchall()
        for row in rows:
            other = self._out(row)
            if other["status"] in _FREE_STATUSES:
                continue
            since, until = _window(data, other)
            if _overlaps(occurrences(data, until, since), occurrences(other, until, since)):
                raise ProblemError(
                    409,
                    "room-already-booked",
                    "Room already booked",
                    f"room {data['room_id']!r} is already booked at that time by booking {other['id']}",
                    conflicting_booking_id=other["id"],
                )

    def _record_change(self, booking_id: str, room_id: str, deleted: bool) -> None:
        self._db.execute(
            "INSERT INTO changes (booking_id, room_id, deleted) VALUES (?, ?, ?)", (booking_id, room_id, int(deleted))
        )

    @staticmethod
    def _check_version(row: sqlite3.Row, if_match: str | None) -> None:
        if if_match is None:
            raise ProblemError(
                428, "precondition-required", "Precondition required", "send If-Match with the booking's ETag"
            )
        wanted = [tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")]
        if "*" not in wanted and str(row["version"]) not in wanted:
            raise ProblemError(
                412,
                "changed-meanwhile",
                "Precondition failed",
                f"booking {row['id']} changed meanwhile: its version is {row['version']}, If-Match was {if_match}",
                current_version=str(row["version"]),
            )

    def create(self, write: BookingWrite, *, idempotency_key: str | None = None) -> MutationResult:
        _validate(write)
        fingerprint = _fingerprint(write)
        with self._lock:
            if idempotency_key is not None:
                row = self._db.execute("SELECT * FROM idempotency WHERE key = ?", (idempotency_key,)).fetchone()
                if row is not None:
                    if row["fingerprint"] != fingerprint:
                        raise ProblemError(
                            422,
                            "idempotency-key-reused",
                            "Idempotency-Key reused",
                            "this Idempotency-Key was used with a different request body",
                        )
                    return MutationResult(json.loads(row["response"]), status=201, replayed=True)
            self.get_room(write.room_id)
            data = write.model_dump(mode="json")
            data["rejection_reason"] = None
            self._check_free(None, data)
            booking_id = "bk_" + uuid.uuid4().hex[:20]
            now = _iso(_now())
            self._db.execute("BEGIN")
            try:
                self._db.execute(
                    "INSERT INTO bookings VALUES (?, ?, ?, 1, ?, ?, ?, 0)",
                    (booking_id, write.room_id, json.dumps(data), write.external_ref, now, now),
                )
                self._record_change(booking_id, write.room_id, deleted=False)
                out = self._out(self._row(booking_id))
                if idempotency_key is not None:
                    self._db.execute(
                        "INSERT INTO idempotency VALUES (?, ?, ?)", (idempotency_key, fingerprint, json.dumps(out))
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return MutationResult(out, status=201, changes=[Change("booking.created", booking_id, write.room_id, "1")])

    def _save(self, row: sqlite3.Row, data: dict[str, Any]) -> MutationResult:
        version = row["version"] + 1
        self._db.execute("BEGIN")
        try:
            self._db.execute(
                "UPDATE bookings SET room_id = ?, data = ?, version = ?, external_ref = ?, updated_at = ? WHERE id = ?",
                (data["room_id"], json.dumps(data), version, data.get("external_ref"), _iso(_now()), row["id"]),
            )
            if data["room_id"] != row["room_id"]:
                self._record_change(row["id"], row["room_id"], deleted=False)
            self._record_change(row["id"], data["room_id"], deleted=False)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        out = self._out(self._row(row["id"]))
        return MutationResult(out, changes=[Change("booking.updated", row["id"], data["room_id"], str(version))])

    def update(self, booking_id: str, write: BookingWrite, *, if_match: str | None) -> MutationResult:
        _validate(write)
        with self._lock:
            row = self._row(booking_id)
            self._check_version(row, if_match)
            self.get_room(write.room_id)
            data = write.model_dump(mode="json")
            if data.get("status") != WireStatus.CANCELLED.value:
                data["cancellation"] = None  # a cancellation's who/when/why lives only while it is cancelled
            if "external_ref" not in write.model_fields_set:
                data["external_ref"] = json.loads(row["data"]).get("external_ref")  # omitted: keep the stamp
            data["rejection_reason"] = None
            self._check_free(booking_id, data)
            return self._save(row, data)

    def patch(self, booking_id: str, changes: dict[str, Any]) -> MutationResult:
        """Change some fields as a user of the booking system would (no If-Match; rules still apply)."""
        with self._lock:
            row = self._row(booking_id)
            current = json.loads(row["data"])
            reason = changes.pop("rejection_reason", current.get("rejection_reason"))
            write = BookingWrite.model_validate(
                {**{k: v for k, v in current.items() if k != "rejection_reason"}, **changes}
            )
            _validate(write)
            data = write.model_dump(mode="json")
            data["rejection_reason"] = reason
            if data.get("status") != WireStatus.CANCELLED.value:
                data["cancellation"] = None
            self._check_free(booking_id, data)
            return self._save(row, data)

    def reject(self, booking_id: str, reason: str) -> MutationResult:
        with self._lock:
            row = self._row(booking_id)
            data = json.loads(row["data"])
            data["status"] = WireStatus.REJECTED.value
            data["rejection_reason"] = reason
            return self._save(row, data)

    def delete(self, booking_id: str, *, if_match: str | None, check: bool = True) -> Change:
        with self._lock:
            row = self._row(booking_id)
            if check:
                self._check_version(row, if_match)
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM bookings WHERE id = ?", (booking_id,))
                self._record_change(booking_id, row["room_id"], deleted=True)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return Change("booking.deleted", booking_id, row["room_id"], str(row["version"]))

    # --- change feed ----------------------------------------------------------------------------

    def epoch(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT v FROM meta WHERE k = 'epoch'").fetchone()[0])

    def expire_cursors(self) -> None:
        """Make every cursor handed out so far unknown (the system lost its feed history)."""
        with self._lock:
            self._db.execute("UPDATE meta SET v = CAST(v AS INTEGER) + 1 WHERE k = 'epoch'")

    def changes(self, cursor: str | None, limit: int) -> dict[str, Any]:
        """Booking ids changed/deleted after ``cursor``; one id appears once per page, in its latest state."""
        with self._lock:
            epoch = self.epoch()
            after = 0
            if cursor:
                cursor_epoch, after = decode_cursor(cursor)
                if cursor_epoch != epoch or after < 0:
                    raise ProblemError(
                        410, "cursor-expired", "Cursor expired", "the cursor is unknown or expired; do a full pass"
                    )
            rows = self._db.execute(
                "SELECT seq, booking_id FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit + 1)
            ).fetchall()
            has_more = len(rows) > limit
            rows = rows[:limit]
            last = rows[-1]["seq"] if rows else max(after, self._last_seq())
            ids = list(dict.fromkeys(row["booking_id"] for row in rows))
            existing = {
                row["id"]
                for row in self._db.execute(
                    f"SELECT id FROM bookings WHERE id IN ({','.join('?' * len(ids))})",  # noqa: S608 - placeholders only
                    ids,
                ).fetchall()
            }
        return {
            "changed": [i for i in ids if i in existing],
            "deleted": [i for i in ids if i not in existing],
            "next_cursor": encode_cursor(epoch, last),
            "has_more": has_more,
        }

    def _last_seq(self) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM changes").fetchone()
        return int(row[0] or 0)
