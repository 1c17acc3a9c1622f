"""The table clients' lean pipeline: no per-request log lines, and the retries calsync relies on still there."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web

from calsync.errors import StoreError
from calsync.settings import Settings, azurite_connection_string, load_settings
from calsync.store.client import TableStore, translate_errors
from devstack.azurite import free_port


async def test_a_table_read_writes_no_request_log_lines(tables: TableStore, caplog: pytest.LogCaptureFixture) -> None:
    table = tables.table("Cursors")
    await table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "value": 1})
    with caplog.at_level(logging.DEBUG, logger="azure"):
        entity = await table.get_entity("p", "r")
    assert entity["value"] == 1
    assert [r.getMessage() for r in caplog.records if r.name.startswith("azure.core.pipeline")] == []


async def test_a_failing_table_service_is_still_retried_as_configured(settings: Settings) -> None:
    attempts = 0

    async def unavailable(request: web.Request) -> web.Response:
        nonlocal attempts
        attempts += 1
        return web.Response(status=503, text="busy")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", unavailable)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        down = load_settings(tables_connection_string=azurite_connection_string(f"http://127.0.0.1:{port}"),
                             table_prefix=settings.table_prefix, graph_auth_mode="none")  # fmt: skip
        async with TableStore.from_settings(down, retry_total=2, retry_backoff_factor=0) as store:
            with pytest.raises(StoreError, match="503"):
                async with translate_errors("reading a cursor"):
                    await store.table("Cursors").get_entity("p", "r")
    finally:
        await runner.cleanup()
    assert attempts == 3  # the first try and retry_total=2 retries
