"""calsync's single-entity table requests give what azure-data-tables' own TableClient gives: results and errors.

The same scenario runs on Azurite with the stock TableClient and with calsync's
(calsync.store.entity_requests); every step's outcome is recorded (what was returned,
or the exception's type, status, error code and message) with only what differs between
two runs (etags, dates, request ids) reduced to its shape, and the two records must be equal.
This also guards the private parts of azure-data-tables 12.7.0 the module relies on.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from azure.core import MatchConditions
from azure.data.tables import EdmType, EntityProperty, TableEntity, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient
from pydantic import SecretStr

from calsync.settings import Settings, azurite_connection_string, load_settings
from calsync.store.client import TableStore
from calsync.store.entity_requests import EntityTableClient
from devstack.azurite import AzuriteTables, free_port

KEYS = ["plain", "O'Brien ''x''", "100%", "%2F%20", "ümlaut €😀", " spaced + & = ; ", "(paren)", "under_score"]
REFUSED_KEY = "a#b"  # '#' is not allowed in keys: every write is refused (400), as with the stock client

PROPERTIES: dict[str, Any] = {
    "text": "ü\r\n\"quoted\" 'single' <tag> & ✓",
    "small": 7,
    "negative": -(2**31),
    "large": EntityProperty(2**40, EdmType.INT64),
    "typed_small": EntityProperty(5, EdmType.INT64),
    "tuple_large": (-(2**53), "Edm.Int64"),
    "flag": True,
    "off": False,
    "ratio": 0.1,
    "whole_float": 2.0,
    "when": datetime(2026, 11, 3, 9, 30, 15, 123456, tzinfo=UTC),
    "raw": b"\x00\xff bytes",
    "guid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "empty": "",
    "nothing": None,
}

Step = Callable[[TableClient, dict[str, Any]], Awaitable[Any]]
VOLATILE = re.compile(r"(RequestId|Time):\S+")
VOLATILE_KEYS = {"etag", "odata.etag", "Timestamp"}  # in the metadata returned, and in an insert's echoed entity


def shape(value: Any) -> Any:
    """``value`` with what differs between two runs (etags, dates) reduced to its type; the rest as is."""
    if isinstance(value, TableEntity):
        return ("TableEntity", shape(dict(value)), shape(dict(value.metadata)))
    if isinstance(value, dict):
        return {key: (key, type(item).__name__) if key in VOLATILE_KEYS else shape(item) for key, item in value.items()}
    if isinstance(value, datetime) and value != PROPERTIES["when"]:  # a server date or timestamp
        return ("datetime", type(value).__name__, value.utcoffset())
    if isinstance(value, EntityProperty):
        return ("EntityProperty", value.value, value.edm_type)
    return (type(value).__name__, value)


async def outcome(step: Step, table: TableClient, seen: dict[str, Any]) -> Any:
    try:
        result = await step(table, seen)
    except Exception as exc:  # the type is what is compared
        cause = exc.__cause__
        return ("raised", type(exc).__name__, getattr(exc, "status_code", None), str(getattr(exc, "error_code", None)),
                VOLATILE.sub(r"\1:-", str(exc)), type(cause).__name__ if cause else None)  # fmt: skip
    if isinstance(result, dict) and "etag" in result:
        seen["etag"] = result["etag"]
    if isinstance(result, TableEntity):
        assert result.metadata["etag"] == seen.get("etag", result.metadata["etag"])  # the write's etag is the row's
        seen["etag"] = result.metadata["etag"]
    return ("returned", shape(result))


def row(key: str, **properties: Any) -> dict[str, Any]:
    return {"PartitionKey": key, "RowKey": key[::-1], **properties}


def steps_for(key: str) -> list[tuple[str, Step]]:
    """Each operation calsync makes, succeeding and failing, on the row keyed by ``key``."""
    pk, rk = key, key[::-1]
    return [
        ("get a missing row", lambda t, s: t.get_entity(pk, rk)),
        ("delete a missing row", lambda t, s: t.delete_entity(pk, rk)),
        ("update a missing row", lambda t, s: t.update_entity(row(key, n=1), mode=UpdateMode.REPLACE)),
        ("merge into a missing row", lambda t, s: t.update_entity(row(key, n=1))),
        ("insert", lambda t, s: t.create_entity(row(key, **PROPERTIES))),
        ("read it back", lambda t, s: t.get_entity(pk, rk)),
        ("insert it again", lambda t, s: t.create_entity(row(key, other=1))),
        ("merge", lambda t, s: t.update_entity(row(key, small=8, added="new"), mode=UpdateMode.MERGE)),
        ("read merged", lambda t, s: t.get_entity(pk, rk)),
        ("remember the etag", lambda t, s: _remember(s)),
        ("replace with the etag", lambda t, s: t.update_entity(row(key, n=2), mode=UpdateMode.REPLACE, etag=s["etag"],
                                                                match_condition=MatchConditions.IfNotModified)),
        ("replace with a stale etag", lambda t, s: t.update_entity(row(key, n=3), mode=UpdateMode.REPLACE,
                                                                    etag=s["stale"],
                                                                    match_condition=MatchConditions.IfNotModified)),
        ("merge with a stale etag", lambda t, s: t.update_entity(row(key, n=3), etag=s["stale"],
                                                                  match_condition=MatchConditions.IfNotModified)),
        ("etag but unconditional", lambda t, s: t.update_entity(row(key, n=3), etag=s["stale"])),
        ("read replaced", lambda t, s: t.get_entity(pk, rk)),
        ("guard by the entity's own etag", lambda t, s: _update_as_read(t, pk, rk)),
        ("upsert merge", lambda t, s: t.upsert_entity(row(key, merged=True))),
        ("upsert replace", lambda t, s: t.upsert_entity(row(key, **PROPERTIES), mode=UpdateMode.REPLACE)),
        ("read upserted", lambda t, s: t.get_entity(pk, rk)),
        ("an unknown mode", lambda t, s: t.upsert_entity(row(key), mode="sideways")),
        ("remember the etag again", lambda t, s: _remember(s)),
        ("upsert once more", lambda t, s: t.upsert_entity(row(key, n=4), mode=UpdateMode.REPLACE)),
        ("delete with a stale etag", lambda t, s: t.delete_entity(pk, rk, etag=s["stale"],
                                                                  match_condition=MatchConditions.IfNotModified)),
        ("delete with the etag", lambda t, s: t.delete_entity(pk, rk, etag=s["etag"],
                                                              match_condition=MatchConditions.IfNotModified)),
        ("delete it again with the etag", lambda t, s: t.delete_entity(pk, rk, etag=s["etag"],
                                                                       match_condition=MatchConditions.IfNotModified)),
        ("upsert a missing row", lambda t, s: t.upsert_entity(row(key, n=5))),
        ("delete without an etag", lambda t, s: t.delete_entity(pk, rk)),
        ("read deleted", lambda t, s: t.get_entity(pk, rk)),
        ("insert without a row key", lambda t, s: t.create_entity({"PartitionKey": pk, "n": 1})),
        ("a key that is no string", lambda t, s: t.get_entity(pk, 5)),
        ("a property type tables cannot hold", lambda t, s: t.create_entity(row(key, bad={1, 2}))),
        ("an int too large untyped", lambda t, s: t.upsert_entity(row(key, large=2**40))),
    ]  # fmt: skip


async def _remember(seen: dict[str, Any]) -> None:
    seen["stale"] = seen["etag"]


async def _update_as_read(table: TableClient, pk: str, rk: str) -> Any:
    entity = await table.get_entity(pk, rk)
    entity["n"] = 9
    return await table.update_entity(entity, mode=UpdateMode.REPLACE, match_condition=MatchConditions.IfNotModified)


async def run(table: TableClient, steps: list[tuple[str, Step]]) -> list[tuple[str, Any]]:
    seen: dict[str, Any] = {}
    return [(name, await outcome(step, table, seen)) for name, step in steps]


@pytest.fixture
async def stock(azurite: AzuriteTables) -> Any:
    async with TableServiceClient.from_connection_string(azurite.connection_string) as service:
        yield service


@pytest.mark.azurite
@pytest.mark.parametrize("key", [*KEYS, REFUSED_KEY])
async def test_every_single_entity_request_gives_what_the_stock_client_gives(
    tables: TableStore, stock: TableServiceClient, settings: Settings, key: str
) -> None:
    ours = tables.table("Cursors")
    assert isinstance(ours, EntityTableClient)
    theirs = stock.get_table_client(settings.table_prefix + "Cursors")
    expected = await run(theirs, steps_for(key))  # ends with the row deleted
    assert await run(ours, steps_for(key)) == expected
    raised = {name: status for name, (kind, *rest) in expected if kind == "raised" for status in rest[1:2]}
    if key == REFUSED_KEY:
        assert raised["insert"] == raised["upsert merge"] == 400
        return
    assert list(raised) == [
        "get a missing row", "update a missing row", "merge into a missing row", "insert it again",
        "replace with a stale etag", "merge with a stale etag", "etag but unconditional", "an unknown mode",
        "delete with a stale etag", "read deleted", "insert without a row key", "a key that is no string",
        "a property type tables cannot hold", "an int too large untyped"]  # fmt: skip


@pytest.mark.azurite
async def test_a_missing_or_misnamed_table_raises_what_the_stock_client_raises(
    tables: TableStore, stock: TableServiceClient, settings: Settings
) -> None:
    for name in (settings.table_prefix + "Missing", "bad-name!", "1digit"):
        ours, theirs = tables.service.get_table_client(name), stock.get_table_client(name)
        steps = [("read", lambda t, s: t.get_entity("p", "r")),
                 ("insert", lambda t, s: t.create_entity(row("p"))),
                 ("update", lambda t, s: t.update_entity(row("p"))),
                 ("upsert", lambda t, s: t.upsert_entity(row("p"), mode=UpdateMode.REPLACE)),
                 ("delete", lambda t, s: t.delete_entity("p", "r"))]  # fmt: skip
        expected = await run(theirs, steps)
        assert await run(ours, steps) == expected
        assert all(kind == "raised" or step == "delete" for step, (kind, *_) in expected)


@pytest.mark.azurite
async def test_a_wrong_account_key_raises_what_the_stock_client_raises(settings: Settings) -> None:
    connection = settings.tables_connection_string.get_secret_value()
    wrong = re.sub(r"AccountKey=[^;]+", "AccountKey=" + "A" * 86 + "==", connection)
    async with TableStore.from_settings(settings.model_copy(update={"tables_connection_string": SecretStr(wrong)})) as store, \
            TableServiceClient.from_connection_string(wrong) as service:  # fmt: skip
        steps = [("read", lambda t, s: t.get_entity("p", "r")),
                 ("insert", lambda t, s: t.create_entity(row("p"))),
                 ("delete", lambda t, s: t.delete_entity("p", "r"))]  # fmt: skip
        expected = await run(service.get_table_client(settings.table_prefix + "Rooms"), steps)
        assert await run(store.table("Rooms"), steps) == expected


def _odata_error(code: str, message: str) -> str:
    return json.dumps({"odata.error": {"code": code, "message": {"lang": "en-US", "value": message}}})


ANSWERS: dict[str, tuple[int, str, str]] = {  # what Azurite does not say: (status, content type, body)
    "ok": (204, "", ""),
    "entity": (200, "application/json;odata=minimalmetadata",
               json.dumps({"odata.etag": 'W/"datetime\'2026-11-03T09%3A30%3A15.1Z\'"', "PartitionKey": "p",
                           "RowKey": "r", "Timestamp": "2026-11-03T09:30:15.1Z", "n": 1})),
    "authentication failed": (401, "application/json", _odata_error("AuthenticationFailed", "Server failed")),
    "condition not met": (412, "application/json", _odata_error("ConditionNotMet", "The condition was not met")),
    "internal error": (500, "application/json", _odata_error("InternalError", "Something broke")),
    "not json": (502, "text/plain", "bad gateway"),
    "unknown code": (409, "application/json", _odata_error("SomethingNew", "A code no enum knows")),
}


async def test_requests_and_what_other_answers_raise_are_the_stock_clients(settings: Settings) -> None:
    """Against a scripted server: the same requests on the wire, and the same errors for answers Azurite never gives."""
    seen: list[tuple[str, str, dict[str, str], str]] = []
    answer = ["ok"]

    async def scripted(request: web.Request) -> web.Response:
        volatile = {"authorization", "date", "x-ms-date", "x-ms-client-request-id", "content-length", "host"}
        headers = {name.lower(): value for name, value in request.headers.items() if name.lower() not in volatile}
        seen.append((request.method, request.raw_path, headers, await request.text()))
        status, content_type, body = ANSWERS[answer[0]]
        extra = {"ETag": 'W/"datetime\'2026-11-03T09%3A30%3A15.2Z\'"', "x-ms-version": "2019-02-02",
                 "Date": "Tue, 03 Nov 2026 09:30:15 GMT", "x-ms-error-code": "" if status < 300 else "x"}  # fmt: skip
        return web.Response(status=status, body=body.encode(), headers={**extra, "Content-Type": content_type}
                            if content_type else extra)  # fmt: skip

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", scripted)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    connection = azurite_connection_string(f"http://127.0.0.1:{port}")
    key = "O'B #%ü"
    steps: list[tuple[str, Step]] = [
        ("read", lambda t, s: t.get_entity(key, key)),
        ("insert", lambda t, s: t.create_entity(row(key, **PROPERTIES))),
        ("guarded replace", lambda t, s: t.update_entity(row(key, n=1), mode=UpdateMode.REPLACE, etag='W/"e"',
                                                          match_condition=MatchConditions.IfNotModified)),
        ("merge", lambda t, s: t.update_entity(row(key, n=1))),
        ("upsert", lambda t, s: t.upsert_entity(row(key, n=1), mode=UpdateMode.REPLACE)),
        ("upsert merge", lambda t, s: t.upsert_entity(row(key, n=1))),
        ("delete", lambda t, s: t.delete_entity(key, key)),
        ("guarded delete", lambda t, s: t.delete_entity(key, key, etag="e", match_condition=MatchConditions.IfNotModified)),
    ]  # fmt: skip
    records: list[Any] = []
    try:
        odd = load_settings(tables_connection_string=connection, table_prefix=settings.table_prefix,
                            graph_auth_mode="none")  # fmt: skip
        async with TableStore.from_settings(odd, retry_total=0) as store, \
                TableServiceClient.from_connection_string(connection, retry_total=0) as service:  # fmt: skip
            for client in (service.get_table_client(settings.table_prefix + "Cursors"), store.table("Cursors")):
                seen.clear()
                outcomes = []
                for name in ANSWERS:
                    answer[0] = name
                    outcomes.append((name, await run(client, steps)))
                records.append((outcomes, list(seen)))
    finally:
        await runner.cleanup()
    (stock_outcomes, stock_requests), (our_outcomes, our_requests) = records
    assert our_outcomes == stock_outcomes
    assert our_requests == stock_requests
    raised = {(answer_name, step): rest[0] for answer_name, outcomes in stock_outcomes
              for step, (kind, *rest) in outcomes if kind == "raised"}  # fmt: skip
    assert raised[("authentication failed", "read")] == "ClientAuthenticationError"
    assert raised[("condition not met", "guarded replace")] == "ResourceModifiedError"
    assert raised[("internal error", "upsert")] == "HttpResponseError"
    assert ("not json", "delete") in raised
