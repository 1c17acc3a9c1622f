"""Single-entity table requests (read by key, insert, update, upsert, delete) without azure-data-tables' generated layer.

Every synced change reads and writes single rows (the mapping update, the replay guard's
insert, reads by key). Through azure-data-tables a single-entity request cost about
0.41 ms of CPU here, of which azure-core's pipeline (auth, retries, aiohttp) is ~0.25 ms;
the rest is the generated operation code: the msrest-style ``Serializer`` walking the
``{object}`` body, URL and header serializers, the deserialisation of response headers
calsync never reads, and for an insert the echoed entity, parsed and thrown away
(issue #16, bench/bench_tables.py). ``EntityTableClient`` builds the same requests as
``azure.core.rest.HttpRequest`` objects and sends them through the same pipeline
(``self._client._client._pipeline``: credential, retries, storage hosts, tracing).

What stays azure-data-tables' own (imported, not copied): the entity body
(``_add_entity_properties``), key escaping (``_prepare_key``, then URL-quoted as its
serializer does), the match condition (``_get_match_condition``, ``prep_if_match``),
the entity read back (``_convert_to_entity``), the returned metadata
(``_normalize_headers`` + ``_trim_service_metadata``: date, etag, version) and every
error: the generated layer's first error (``map_error`` with its ``error_map``, else
``HttpResponseError`` with the ``TableServiceError`` model), then what each stock method
makes of it (``_process_table_error``; an insert re-raises the first error after
``_validate_key_values``/``_validate_tablename_error``; a delete ignores a 404).

An insert goes out as the stock one does (no ``Prefer`` header): the service echoes the
entity in a 201, and it is returned with the metadata as the stock insert returns it.

Only the shapes calsync calls take this path: a call with anything more (``select``,
``timeout``, ``headers``, per-call pipeline options, a delete by entity, an unknown
mode) goes to azure-data-tables' own method, unchanged (its span then nested in this
module's). Spans keep the stock names (``TableClient.get_entity``...); the generated
operation's own span, inside the stock method's, is not made.

Private parts of azure-data-tables 12.7.0 (pinned in requirements.txt) relied on here,
each exercised by tests/store/test_entity_requests.py against the stock client:
``_serialize``/``_deserialize``/``_error`` helpers named above, ``_generated._vendor.
prep_if_match``, ``_generated._serialization.Deserializer.deserialize_rfc``,
``_generated.models.TableServiceError``, and the client's ``_client`` (``_config.url``,
``_client._pipeline``, ``table._deserialize``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
    map_error,
)
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import ContentDecodePolicy
from azure.core.rest import HttpRequest
from azure.core.tracing.decorator_async import distributed_trace_async
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables._deserialize import _convert_to_entity, _normalize_headers, _trim_service_metadata
from azure.data.tables._error import (
    _decode_error,
    _process_table_error,
    _validate_key_values,
    _validate_tablename_error,
)
from azure.data.tables._generated._serialization import Deserializer
from azure.data.tables._generated._vendor import prep_if_match
from azure.data.tables._generated.models import TableServiceError
from azure.data.tables._serialize import _add_entity_properties, _get_match_condition, _prepare_key
from azure.data.tables.aio import TableClient

DATA_SERVICE_VERSION = "3.0"
MINIMAL_METADATA = "application/json;odata=minimalmetadata"
NO_METADATA = "application/json;odata=nometadata"
PLAIN_JSON = "application/json"
_GUARDED = frozenset({"etag", "match_condition"})


def entity_path(table_name: str, partition_key: str, row_key: str) -> str:
    """``/table(PartitionKey='..',RowKey='..')``: quotes doubled (``_prepare_key``), then URL-quoted as the library does."""
    partition, row = quote(_prepare_key(partition_key), safe=""), quote(_prepare_key(row_key), safe="")
    return f"/{quote(table_name, safe='')}(PartitionKey='{partition}',RowKey='{row}')"


def error_map(match_condition: MatchConditions | None = None) -> dict[int, type[HttpResponseError]]:
    """The generated operations' ``error_map``: the type of the first error per status."""
    errors: dict[int, type[HttpResponseError]] = {401: ClientAuthenticationError, 404: ResourceNotFoundError,
                                                  409: ResourceExistsError, 304: ResourceNotModifiedError}  # fmt: skip
    if match_condition == MatchConditions.IfNotModified:
        errors[412] = ResourceModifiedError
    elif match_condition == MatchConditions.IfPresent:
        errors[412] = ResourceNotFoundError
    elif match_condition == MatchConditions.IfMissing:
        errors[412] = ResourceExistsError
    return errors


def write_metadata(headers: Mapping[str, str], content: Any = None, *, insert: bool = False) -> dict[str, Any]:
    """What the stock write methods return for an answer: ``_trim_service_metadata`` of its headers (date, etag,
    version; for an insert the ``preference_applied`` the service reported, with the echoed ``content``)."""
    date = headers.get("Date")
    metadata = {"x-ms-client-request-id": headers.get("x-ms-client-request-id"),
                "x-ms-request-id": headers.get("x-ms-request-id"), "x-ms-version": headers.get("x-ms-version"),
                "Date": None if date is None else Deserializer.deserialize_rfc(date), "ETag": headers.get("ETag")}  # fmt: skip
    if insert:
        metadata["Preference-Applied"] = headers.get("Preference-Applied")
        metadata["Content-Type"] = headers.get("Content-Type")
    return _trim_service_metadata(_normalize_headers(metadata), content=content)


class EntityTableClient(TableClient):
    """azure-data-tables' TableClient whose single-entity requests calsync makes are built by this module."""

    def _url(self, path: str) -> str:
        base = self._client._config.url
        if "?" in base:  # a SAS token in the endpoint: azure-core joins path and query
            return self._client._client.format_url(path, url=base)
        return base.rstrip("/") + path

    def _headers(self, accept: str, content_type: str | None = None) -> dict[str, str]:
        headers = {"x-ms-version": self.api_version, "DataServiceVersion": DATA_SERVICE_VERSION}
        if content_type is not None:
            headers["Content-Type"] = content_type
        headers["Accept"] = accept
        return headers

    async def _send(
        self, request: HttpRequest, ok: tuple[int, ...], errors: Mapping[int, type[HttpResponseError]]
    ) -> PipelineResponse:
        """Run ``request`` through the client's pipeline; a status not in ``ok`` raises as the generated layer does."""
        pipeline_response = await self._client._client._pipeline.run(request, stream=False)
        response = pipeline_response.http_response
        if response.status_code not in ok:
            map_error(status_code=response.status_code, response=response, error_map=errors)
            model = self._client.table._deserialize.failsafe_deserialize(TableServiceError, pipeline_response)
            raise HttpResponseError(response=response, model=model)
        return pipeline_response

    async def _write(
        self, method: str, entity: Any, mode_ok: tuple[int, ...], etag: str | None, condition: MatchConditions | None
    ) -> dict[str, Any]:
        """A PUT (replace) or PATCH (merge) of ``entity``, ``If-Match`` as ``prep_if_match`` says."""
        partition_key, row_key = entity["PartitionKey"], entity["RowKey"]
        body = json.dumps(_add_entity_properties(entity)).encode()
        headers = self._headers(PLAIN_JSON, PLAIN_JSON)
        if_match = prep_if_match(etag, condition)
        if if_match is not None:
            headers["If-Match"] = if_match
        request = HttpRequest(method, self._url(entity_path(self.table_name, partition_key, row_key)),
                              headers=headers, content=body)  # fmt: skip
        try:
            pipeline_response = await self._send(request, mode_ok, error_map(condition))
        except HttpResponseError as error:
            _process_table_error(error, table_name=self.table_name)
        return write_metadata(pipeline_response.http_response.headers)

    @distributed_trace_async(name_of_span="TableClient.get_entity")
    async def get_entity(self, partition_key: str, row_key: str, **kwargs: Any) -> TableEntity:
        if kwargs:  # select, timeout, headers, pipeline options: the library's own path
            return await super().get_entity(partition_key, row_key, **kwargs)
        try:
            path = entity_path(self.table_name, partition_key, row_key)
            request = HttpRequest("GET", self._url(path), headers=self._headers(MINIMAL_METADATA))
            pipeline_response = await self._send(request, (200,), error_map())
            return _convert_to_entity(pipeline_response.context[ContentDecodePolicy.CONTEXT_NAME])
        except HttpResponseError as error:
            _process_table_error(error, table_name=self.table_name)
            raise  # unreachable: _process_table_error always raises

    @distributed_trace_async(name_of_span="TableClient.create_entity")
    async def create_entity(self, entity: Any, **kwargs: Any) -> Mapping[str, Any]:
        if kwargs:
            return await super().create_entity(entity, **kwargs)
        entity_json = _add_entity_properties(entity)
        request = HttpRequest("POST", self._url(f"/{quote(self.table_name, safe='')}"),
                              headers=self._headers(MINIMAL_METADATA, NO_METADATA),
                              content=json.dumps(entity_json).encode())  # fmt: skip
        try:
            pipeline_response = await self._send(request, (201, 204), error_map())
        except HttpResponseError as error:
            decoded = _decode_error(error.response, error.message)
            _validate_key_values(decoded, entity_json.get("PartitionKey"), entity_json.get("RowKey"))
            _validate_tablename_error(decoded, self.table_name)
            raise  # as azure-data-tables 12.7.0: the generated layer's error, not the decoded one
        # a 201 echoes the entity (parsed by the pipeline's ContentDecodePolicy), a 204 has no body
        content = pipeline_response.context.get(ContentDecodePolicy.CONTEXT_NAME)
        return write_metadata(pipeline_response.http_response.headers, content, insert=True)

    @distributed_trace_async(name_of_span="TableClient.update_entity")
    async def update_entity(
        self, entity: Any, mode: str | UpdateMode = UpdateMode.MERGE, **kwargs: Any
    ) -> Mapping[str, Any]:
        if not _GUARDED.issuperset(kwargs) or mode not in (UpdateMode.REPLACE, UpdateMode.MERGE):
            return await super().update_entity(entity, mode, **kwargs)
        etag, match_condition = kwargs.get("etag"), kwargs.get("match_condition")
        if match_condition and not etag and isinstance(entity, TableEntity):
            etag = entity.metadata.get("etag")
        condition = _get_match_condition(etag=etag, match_condition=match_condition or MatchConditions.Unconditionally)
        return await self._write("PUT" if mode == UpdateMode.REPLACE else "PATCH", entity, (204,), etag, condition)

    @distributed_trace_async(name_of_span="TableClient.upsert_entity")
    async def upsert_entity(
        self, entity: Any, mode: str | UpdateMode = UpdateMode.MERGE, **kwargs: Any
    ) -> Mapping[str, Any]:
        if kwargs or mode not in (UpdateMode.REPLACE, UpdateMode.MERGE):
            return await super().upsert_entity(entity, mode, **kwargs)
        return await self._write("PUT" if mode == UpdateMode.REPLACE else "PATCH", entity, (204,), None, None)

    @distributed_trace_async(name_of_span="TableClient.delete_entity")
    async def delete_entity(self, *args: Any, **kwargs: Any) -> None:
        if len(args) != 2 or not all(isinstance(key, str) for key in args) or not _GUARDED.issuperset(kwargs):
            return await super().delete_entity(*args, **kwargs)  # by entity, by keyword, or with options
        partition_key, row_key = args
        etag = kwargs.get("etag")
        condition = _get_match_condition(etag=etag,
                                         match_condition=kwargs.get("match_condition") or MatchConditions.Unconditionally)  # fmt: skip
        try:
            headers = self._headers(MINIMAL_METADATA)
            if_match = prep_if_match(etag, condition)
            if if_match is not None:
                headers["If-Match"] = if_match
            request = HttpRequest("DELETE", self._url(entity_path(self.table_name, partition_key, row_key)),
                                  headers=headers)  # fmt: skip
            await self._send(request, (204,), error_map(condition))
        except HttpResponseError as error:
            if error.status_code == 404:
                return None
            _process_table_error(error, table_name=self.table_name)
        return None
