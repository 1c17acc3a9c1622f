"""Table transactions written and read without the email package: all or nothing, ETags back, errors as before."""

from __future__ import annotations

import pytest
from aiohttp import web
from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from calsync.errors import ConcurrencyError, StoreError
from calsync.settings import Settings, azurite_connection_string, load_settings
from calsync.store.client import TableStore, translate_errors
from devstack.azurite import free_port


async def test_a_transaction_writes_every_row_and_gives_each_its_etag(tables: TableStore) -> None:
    table = tables.table("Cursors")
    results = await table.submit_transaction([("create", {"PartitionKey": "p", "RowKey": "a", "n": 1}),
                                              ("upsert", {"PartitionKey": "p", "RowKey": "b", "n": 2}),
                                              ("create", {"PartitionKey": "p", "RowKey": "c", "text": "ü\r\n--x"})])  # fmt: skip
    rows = {row["RowKey"]: row async for row in table.query_entities("PartitionKey eq 'p'")}
    assert {key: (row.get("n"), row.get("text")) for key, row in rows.items()} == {"a": (1, None), "b": (2, None),
                                                                                  "c": (None, "ü\r\n--x")}  # fmt: skip
    assert [result["etag"] for result in results] == [rows[key].metadata["etag"] for key in "abc"]


async def test_a_transaction_with_one_failing_row_writes_nothing_and_is_a_lost_race(tables: TableStore) -> None:
    table = tables.table("Cursors")
    await table.create_entity({"PartitionKey": "p", "RowKey": "taken"})
    with pytest.raises(ConcurrencyError):
        async with translate_errors("writing rows"):
            await table.submit_transaction([("create", {"PartitionKey": "p", "RowKey": "new"}),
                                            ("create", {"PartitionKey": "p", "RowKey": "taken"})])  # fmt: skip
    with pytest.raises(ResourceNotFoundError):
        await table.get_entity("p", "new")


async def test_a_guarded_update_in_a_transaction_loses_to_a_change_made_meanwhile(tables: TableStore) -> None:
    table = tables.table("Cursors")
    written = await table.create_entity({"PartitionKey": "p", "RowKey": "row", "n": 1})
    await table.update_entity({"PartitionKey": "p", "RowKey": "row", "n": 2})
    stale = {"mode": UpdateMode.REPLACE, "etag": written["etag"], "match_condition": MatchConditions.IfNotModified}
    with pytest.raises(ConcurrencyError):
        async with translate_errors("updating a row"):
            await table.submit_transaction([("update", {"PartitionKey": "p", "RowKey": "row", "n": 3}, stale),
                                            ("create", {"PartitionKey": "p", "RowKey": "index"})])  # fmt: skip
    assert (await table.get_entity("p", "row"))["n"] == 2


async def test_an_unreadable_answer_to_a_transaction_is_a_retryable_store_error(settings: Settings) -> None:
    async def garbled(request: web.Request) -> web.Response:
        return web.Response(status=202, text="not multipart", content_type="multipart/mixed")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", garbled)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        odd = load_settings(tables_connection_string=azurite_connection_string(f"http://127.0.0.1:{port}"),
                            table_prefix=settings.table_prefix, graph_auth_mode="none")  # fmt: skip
        async with TableStore.from_settings(odd, retry_total=0) as store:
            with pytest.raises(StoreError, match="failed while writing rows") as raised:
                async with translate_errors("writing rows"):
                    await store.table("Cursors").submit_transaction([("create", {"PartitionKey": "p", "RowKey": "a"})])
    finally:
        await runner.cleanup()
    assert raised.value.retryable
