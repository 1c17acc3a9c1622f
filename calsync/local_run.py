"""`make run`: starts the local stack on embedded defaults and runs calsync's main job against it.

For now the stack is Azurite: the run starts it on a free loopback port, creates
calsync's tables and reports that the store is reachable. Later steps add the
emulators, the in-process queue and the function handlers.
"""

from __future__ import annotations

import asyncio
import sys

from calsync.emulators.azurite import start_azurite_tables
from calsync.settings import load_settings
from calsync.store.client import TABLE_NAMES, TableStore


async def _check_store(connection_string: str) -> int:
    settings = load_settings(tables_connection_string=connection_string, graph_auth_mode="none")
    async with TableStore.from_settings(settings) as tables:
        await tables.ensure_tables()
        return await tables.ping()


def main() -> int:
    azurite = start_azurite_tables()
    try:
        print(f"Azurite Table service listening on {azurite.endpoint}")
        present = asyncio.run(_check_store(azurite.connection_string))
        print(f"store reachable: {present}/{len(TABLE_NAMES)} calsync tables present")
        return 0 if present == len(TABLE_NAMES) else 1
    finally:
        azurite.stop()


if __name__ == "__main__":
    sys.exit(main())
