"""Opens calsync's tables for one operator command and closes them again."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from calsync.settings import Settings
from calsync.store.client import TableStore


@contextlib.asynccontextmanager
async def open_tables(settings: Settings) -> AsyncIterator[TableStore]:
    """The TableStore for ``settings``, with calsync's tables created where missing (a fresh
    deployment then reads as empty instead of failing). Raises StoreError when unreachable."""
    tables = TableStore.from_settings(settings)
    try:
        await tables.ensure_tables()
        yield tables
    finally:
        await tables.close()
