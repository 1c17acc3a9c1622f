"""CPU per Table Storage request: azure-data-tables' default client against calsync's (calsync.store.pipeline).

Makes each request calsync makes N times on Azurite (a Node process, so the CPU counted
is this process's: the client's): a read by key, a read of a missing row (404), an
insert, a merge update (If-Match: *), a replace guarded by the etag, an upsert, a delete
(calsync.store.entity_requests) and a three-row transaction (the shape of a mapping
write, calsync.store.transactions). Three clients: azure-data-tables' own; "lean
pipeline", calsync's before calsync.store.entity_requests (calsync.store.pipeline's
policies and transactions, the generated layer for single rows); calsync's. They
alternate round by round so all see the same load; printed: the best and the median
round per request, and the load average.

    .venv/bin/python bench/bench_tables.py [N] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from calsync.settings import load_settings
from calsync.store.client import TableStore, _transport_options
from calsync.store.pipeline import LeanTableServiceClient
from calsync.store.transactions import BatchTableClient
from devstack.azurite import start_azurite_tables


async def cpu_ms(n: int, request: Callable[[int], Awaitable[object]]) -> float:
    start = time.process_time()
    for i in range(n):
        await request(i)
    return (time.process_time() - start) * 1000 / n


def operations(table: TableClient, n: int, round_: int) -> list[tuple[str, Callable[[int], Awaitable[object]]]]:
    """Each request calsync makes, as (name, request(i)); inserts make rows ``round_-i`` that the deletes remove."""
    etag: list[str] = []

    async def guarded(i: int) -> None:
        if not etag:
            etag.append((await table.get_entity("p", "r")).metadata["etag"])
        result = await table.update_entity({"PartitionKey": "p", "RowKey": "r", "value": i}, mode=UpdateMode.REPLACE,
                                           etag=etag[0], match_condition=MatchConditions.IfNotModified)  # fmt: skip
        etag[0] = result["etag"]

    rows = [("upsert", {"PartitionKey": "p", "RowKey": key, "value": 1}) for key in "abc"]
    return [
        ("read by key", lambda i: table.get_entity("p", "r")),
        ("read a missing row", lambda i: _missing(table)),
        ("insert", lambda i: table.create_entity({"PartitionKey": "i", "RowKey": f"{round_}-{i}", "value": i})),
        ("merge update", lambda i: table.update_entity({"PartitionKey": "p", "RowKey": "r", "value": i})),
        ("guarded replace", guarded),
        ("upsert", lambda i: table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "value": 1})),
        ("delete", lambda i: table.delete_entity("i", f"{round_}-{i}")),
        ("3-row transaction", lambda i: table.submit_transaction(rows)),
    ]


async def _missing(table: TableClient) -> None:
    with contextlib.suppress(ResourceNotFoundError):
        await table.get_entity("p", "missing")


async def main(n: int, rounds: int) -> None:
    azurite = start_azurite_tables()
    try:
        settings = load_settings(tables_connection_string=azurite.connection_string, table_prefix="bench",
                                 graph_auth_mode="none")  # fmt: skip
        default = TableServiceClient.from_connection_string(azurite.connection_string, **_transport_options())
        lean = _LeanPipelineOnly.from_connection_string(azurite.connection_string, **_transport_options())
        store = TableStore.from_settings(settings)
        await store.ensure_tables()
        for name in ("benchStock", "benchLean"):
            await default.create_table_if_not_exists(name)
        clients: dict[str, TableClient] = {"azure-data-tables": default.get_table_client("benchStock"),
                                           "lean pipeline": lean.get_table_client("benchLean"),
                                           "calsync": store.table("Cursors")}  # fmt: skip
        figures: dict[tuple[str, str], list[float]] = {}
        for table in clients.values():
            await table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "value": 0})
            for _, request in operations(table, 50, -1):  # warm up
                await cpu_ms(50, request)
        for round_ in range(rounds):
            for name, table in clients.items():  # alternating, so both see the same load
                for kind, request in operations(table, n, round_):
                    figures.setdefault((kind, name), []).append(await cpu_ms(n, request))
        print(f"CPU ms per table request ({rounds} rounds of {n}, alternating; best / median; load {_load()}):")
        print(f"  {'':<20}" + "".join(f"{name:>22}" for name in clients))
        for kind in dict.fromkeys(kind for kind, _ in figures):
            cells = [f"{min(figures[kind, name]):.3f} / {statistics.median(figures[kind, name]):.3f}" for name in clients]
            print(f"  {kind:<20}" + "".join(f"{cell:>22}" for cell in cells))
        await default.close()
        await lean.close()
        await store.close()
    finally:
        azurite.stop()


class _LeanPipelineOnly(LeanTableServiceClient):
    """calsync's client before calsync.store.entity_requests: the lean pipeline and lean transactions only."""

    table_client_class = BatchTableClient


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300, int(sys.argv[2]) if len(sys.argv) > 2 else 5))
