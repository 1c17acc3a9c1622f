"""Fixtures for the CLI tests: settings reach the command as in production, through the environment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from calsync.settings import Settings
from calsync.store.client import TableStore
from tests.cli.helpers import ENV_NAMES, rooms_json


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, settings: Settings) -> dict[str, str]:
    """Environment for the command: the test's Azurite tables and ROOMS; a wide terminal for rich."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    assert settings.tables_connection_string is not None
    values = {
        "TABLES_CONNECTION_STRING": settings.tables_connection_string.get_secret_value(),
        "TABLE_PREFIX": settings.table_prefix,
        "GRAPH_AUTH_MODE": "none",
        "ROOMS": rooms_json(),
        "COLUMNS": "220",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
async def tables(settings: Settings) -> AsyncIterator[TableStore]:
    """The same tables the command reads (settings and cli_env share the table prefix)."""
    async with TableStore.from_settings(settings) as store:
        await store.ensure_tables()
        yield store
