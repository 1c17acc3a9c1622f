"""CPU per Table Storage request: azure-data-tables' default client against calsync's (calsync.store.pipeline).

Reads one row by key, upserts one row and runs a three-row transaction (the shape of a
mapping write, calsync.store.transactions) N times on Azurite (a Node process, so the
CPU counted is this process's: the client's), alternating the two clients round by
round so both see the same load, and prints the best and the median round per request.

    .venv/bin/python bench/bench_tables.py [N] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from azure.data.tables.aio import TableClient, TableServiceClient

from calsync.settings import load_settings
from calsync.store.client import TableStore, _transport_options
from devstack.azurite import start_azurite_tables


async def cpu_ms(n: int, request: Callable[[], Awaitable[object]]) -> float:
    start = time.process_time()
    for _ in range(n):
        await request()
    return (time.process_time() - start) * 1000 / n


async def main(n: int, rounds: int) -> None:
    azurite = start_azurite_tables()
    try:
        settings = load_settings(tables_connection_string=azurite.connection_string, table_prefix="bench",
                                 graph_auth_mode="none")  # fmt: skip
        default = TableServiceClient.from_connection_string(azurite.connection_string, **_transport_options())
        store = TableStore.from_settings(settings)
        await store.ensure_tables()
        clients: dict[str, TableClient] = {"azure-data-tables' pipeline": default.get_table_client("benchCursors"),
                                           "calsync's pipeline": store.table("Cursors")}  # fmt: skip
        figures: dict[tuple[str, str], list[float]] = {}
        for table in clients.values():
            await table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "value": 0})
            await cpu_ms(50, lambda table=table: table.get_entity("p", "r"))  # warm up
        for _ in range(rounds):
            for name, table in clients.items():
                read = await cpu_ms(n, lambda table=table: table.get_entity("p", "r"))
                write = await cpu_ms(
                    n, lambda table=table: table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "value": 1})
                )
                rows = [("upsert", {"PartitionKey": "p", "RowKey": key, "value": 1}) for key in "abc"]
                batch = await cpu_ms(n, lambda table=table, rows=rows: table.submit_transaction(rows))
                figures.setdefault((name, "read by key"), []).append(read)
                figures.setdefault((name, "upsert"), []).append(write)
                figures.setdefault((name, "3-row transaction"), []).append(batch)
        print(f"CPU ms per table request ({rounds} rounds of {n}, best / median):")
        for (name, kind), values in figures.items():
            print(f"  {name:<30} {kind:<18} {min(values):.3f} / {statistics.median(values):.3f}")
        await default.close()
        await store.close()
    finally:
        azurite.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300, int(sys.argv[2]) if len(sys.argv) > 2 else 5))
