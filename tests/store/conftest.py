"""Store fixtures: a TableStore on the session's Azurite with fresh tables per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from calsync.settings import Settings
from calsync.store.client import TableStore


@pytest.fixture
async def tables(settings: Settings) -> AsyncIterator[TableStore]:
    store = TableStore.from_settings(settings)
    await store.ensure_tables()
    try:
        yield store
    finally:
        await store.close()
