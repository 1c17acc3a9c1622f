"""Opens calsync's tables for one operator command and closes them again."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from calsync.settings import Settings
from calsync.store.client import TABLE_NAMES, TableStore


@contextlib.asynccontextmanager
async def open_tables(settings: Settings) -> AsyncIterator[TableStore]:
    """The TableStore for ``settings``. Raises StoreError when Table Storage is unreachable.

    Missing tables are created (a fresh deployment then reads as empty instead of failing);
    when all exist nothing is written, so read-only commands work with a reader role.
    """
    tables = TableStore.from_settings(settings)
    try:
        if await tables.ping() < len(TABLE_NAMES):
            await tables.ensure_tables()
        yield tables
    finally:
        await tables.close()
