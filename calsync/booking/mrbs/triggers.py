"""The outbox and the triggers that feed it: DDL for PostgreSQL and MySQL/MariaDB, install and uninstall.

``install`` creates calsync's own tables (outbox, link, meta; schema.py) and one AFTER trigger
per change on MRBS's ``entry``, ``repeat`` and ``room`` tables that appends a row to the outbox
(table, operation, row id, ical_uid and room before and after). On PostgreSQL the trigger also
sends ``pg_notify('<prefix>calsync_outbox', id)`` so a listening poller wakes at once. Both
are idempotent (CREATE ... IF NOT EXISTS, CREATE OR REPLACE / DROP IF EXISTS first); neither
alters MRBS's tables (their columns, indexes and constraints stay as MRBS made them).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from calsync.booking.mrbs.schema import MrbsTables

WATCHED = ("entry", "repeat", "room")


# Every name in this DDL comes from MRBS_TABLE_PREFIX, which Settings limits to [A-Za-z0-9_].


def channel(tables: MrbsTables) -> str:
    """The PostgreSQL NOTIFY channel of the outbox."""
    return f"{tables.prefix}calsync_outbox".lower()


def _pg_install(t: MrbsTables) -> list[str]:
    outbox, fn = t.name("calsync_outbox"), f"{t.prefix}calsync_outbox_fn"
    statements = [
        f"""CREATE TABLE IF NOT EXISTS {outbox} (
              id bigserial PRIMARY KEY, table_name varchar(16) NOT NULL, op char(1) NOT NULL,
              row_id int NOT NULL, ical_uid varchar(255), room_id int, old_ical_uid varchar(255),
              old_room_id int, changed_at timestamptz DEFAULT current_timestamp)""",
        f"""CREATE TABLE IF NOT EXISTS {t.name("calsync_link")} (
              ical_uid varchar(255) PRIMARY KEY, external_ref varchar(1024), idempotency_key varchar(255),
              organizer_name varchar(255), organizer_email varchar(255), created_at timestamptz)""",
        f"CREATE INDEX IF NOT EXISTS {t.prefix}calsync_link_ref ON {t.name('calsync_link')} (external_ref)",
        f"CREATE TABLE IF NOT EXISTS {t.name('calsync_meta')} (name varchar(64) PRIMARY KEY, value varchar(255))",
        f"""CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger AS $$
            DECLARE new_id bigint;
            BEGIN
              IF TG_OP = 'DELETE' THEN
                INSERT INTO {outbox} (table_name, op, row_id, old_ical_uid, old_room_id)
                  VALUES (TG_ARGV[0], 'D', OLD.id,
                          CASE WHEN TG_ARGV[0] = 'room' THEN NULL ELSE to_jsonb(OLD)->>'ical_uid' END,
                          CASE WHEN TG_ARGV[0] = 'room' THEN OLD.id ELSE (to_jsonb(OLD)->>'room_id')::int END)
                  RETURNING id INTO new_id;
              ELSE
                INSERT INTO {outbox} (table_name, op, row_id, ical_uid, room_id, old_ical_uid, old_room_id)
                  VALUES (TG_ARGV[0], substr(TG_OP, 1, 1), NEW.id,
                          CASE WHEN TG_ARGV[0] = 'room' THEN NULL ELSE to_jsonb(NEW)->>'ical_uid' END,
                          CASE WHEN TG_ARGV[0] = 'room' THEN NEW.id ELSE (to_jsonb(NEW)->>'room_id')::int END,
                          CASE WHEN TG_OP = 'UPDATE' AND TG_ARGV[0] <> 'room' THEN to_jsonb(OLD)->>'ical_uid' END,
                          CASE WHEN TG_OP = 'UPDATE' AND TG_ARGV[0] <> 'room' THEN (to_jsonb(OLD)->>'room_id')::int END)
                  RETURNING id INTO new_id;
              END IF;
              PERFORM pg_notify('{channel(t)}', new_id::text);
              RETURN NULL;
            END; $$ LANGUAGE plpgsql""",  # noqa: S608 - names only, from the validated prefix
    ]
    for short in WATCHED:
        name = f"{t.prefix}calsync_{short}_changed"
        statements.append(f"DROP TRIGGER IF EXISTS {name} ON {t.name(short)}")
        statements.append(
            f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {t.name(short)} "
            f"FOR EACH ROW EXECUTE FUNCTION {fn}('{short}')"
        )
    return statements


def _pg_uninstall(t: MrbsTables) -> list[str]:
    statements = [f"DROP TRIGGER IF EXISTS {t.prefix}calsync_{s}_changed ON {t.name(s)}" for s in WATCHED]
    statements.append(f"DROP FUNCTION IF EXISTS {t.prefix}calsync_outbox_fn()")
    statements += [f"DROP TABLE IF EXISTS {t.name(n)}" for n in ("calsync_outbox", "calsync_link", "calsync_meta")]
    return statements


def _my_row(short: str, ref: str) -> tuple[str, str]:
    """(ical_uid, room_id) expressions of NEW/OLD for a watched table."""
    if short == "room":
        return "NULL", f"{ref}.id"
    return f"{ref}.ical_uid", f"{ref}.room_id"


def _my_install(t: MrbsTables) -> list[str]:
    outbox = t.name("calsync_outbox")
    statements = [
        f"""CREATE TABLE IF NOT EXISTS {outbox} (
              id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, table_name varchar(16) NOT NULL, op char(1) NOT NULL,
              row_id int NOT NULL, ical_uid varchar(255), room_id int, old_ical_uid varchar(255), old_room_id int,
              changed_at timestamp(6) NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
        f"""CREATE TABLE IF NOT EXISTS {t.name("calsync_link")} (
              ical_uid varchar(255) NOT NULL PRIMARY KEY, external_ref varchar(1024), idempotency_key varchar(255),
              organizer_name varchar(255), organizer_email varchar(255), created_at timestamp(6) NULL,
              KEY {t.prefix}calsync_link_ref (external_ref(191))) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
        f"""CREATE TABLE IF NOT EXISTS {t.name("calsync_meta")} (
              name varchar(64) NOT NULL PRIMARY KEY, value varchar(255)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    ]
    for short in WATCHED:
        for op, event in (("I", "INSERT"), ("U", "UPDATE"), ("D", "DELETE")):
            name = f"{t.prefix}calsync_{short}_{event.lower()}"
            if op == "D":
                uid, room = _my_row(short, "OLD")
                values = f"'{short}', 'D', OLD.id, NULL, NULL, {uid}, {room}"
            else:
                uid, room = _my_row(short, "NEW")
                old_uid, old_room = _my_row(short, "OLD") if op == "U" and short != "room" else ("NULL", "NULL")
                values = f"'{short}', '{op}', NEW.id, {uid}, {room}, {old_uid}, {old_room}"
            statements.append(f"DROP TRIGGER IF EXISTS {name}")
            columns = "table_name, op, row_id, ical_uid, room_id, old_ical_uid, old_room_id"
            body = f"INSERT INTO {outbox} ({columns}) VALUES ({values})"  # noqa: S608 - validated prefix
            statements.append(f"CREATE TRIGGER {name} AFTER {event} ON {t.name(short)} FOR EACH ROW {body}")
    return statements


def _my_uninstall(t: MrbsTables) -> list[str]:
    statements = [
        f"DROP TRIGGER IF EXISTS {t.prefix}calsync_{s}_{e}" for s in WATCHED for e in ("insert", "update", "delete")
    ]
    statements += [f"DROP TABLE IF EXISTS {t.name(n)}" for n in ("calsync_outbox", "calsync_link", "calsync_meta")]
    return statements


def ddl(dialect: str, tables: MrbsTables, *, remove: bool = False) -> list[str]:
    """The statements that install (or remove) the outbox and triggers in ``dialect`` (postgresql, mysql)."""
    if dialect == "postgresql":
        return (_pg_uninstall if remove else _pg_install)(tables)
    if dialect in ("mysql", "mariadb"):
        return (_my_uninstall if remove else _my_install)(tables)
    raise ValueError(f"MRBS runs on PostgreSQL or MySQL/MariaDB, not {dialect}")


async def install(engine: AsyncEngine, tables: MrbsTables) -> list[str]:
    """Create calsync's tables and the triggers (idempotent); returns the statements run."""
    return await _run(engine, ddl(engine.dialect.name, tables))


async def uninstall(engine: AsyncEngine, tables: MrbsTables) -> list[str]:
    """Drop the triggers and calsync's tables (idempotent); MRBS's own tables are left as they are."""
    return await _run(engine, ddl(engine.dialect.name, tables, remove=True))


async def _run(engine: AsyncEngine, statements: list[str]) -> list[str]:
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))
    return statements
