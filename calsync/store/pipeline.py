"""The azure-core pipeline of calsync's table clients: azure-data-tables' own, less what calsync never uses.

azure-data-tables builds thirteen policies per request. Five of them do nothing for
calsync but cost CPU on every table request (about 0.07 ms of a 0.55 ms read here,
bench/bench_tables.py):

- ``HttpLoggingPolicy`` logs each request's URL and headers at INFO to the ``azure``
  loggers, which calsync does not export (only the ``calsync`` logger goes to
  Application Insights); ``NetworkTraceLoggingPolicy`` only acts with ``logging_enable``;
- ``CustomHookPolicy`` runs ``raw_request_hook``/``raw_response_hook``, which calsync
  never passes;
- ``AsyncRedirectPolicy``: Table Storage does not redirect (a 3xx is an error to calsync,
  as for its other peers);
- ``ProxyPolicy`` applies per-request ``proxies``, which calsync never passes (proxies
  from the environment are aiohttp's ``trust_env``, see ``calsync.store.client``).

Kept: the request id, the storage headers (x-ms-date), the user agent, the credential
(shared key or managed identity), content decoding, the storage hosts and the tables
retry policy (``retry_total`` etc. as passed), and distributed tracing, which decides
per request whether tracing is on (``configure_azure_monitor`` may turn it on later).
Passing ``logging_enable=True`` keeps the logging policies, for debugging.

The table clients it hands out (``LeanTableClient``) also bypass azure-data-tables'
generated operation layer for what calsync sends most: single-entity requests
(calsync.store.entity_requests) and transactions (calsync.store.transactions), both
on this same pipeline.
"""

from __future__ import annotations

from typing import Any

from azure.core.pipeline import AsyncPipeline
from azure.core.pipeline.policies import (
    AsyncRedirectPolicy,
    CustomHookPolicy,
    HttpLoggingPolicy,
    NetworkTraceLoggingPolicy,
    ProxyPolicy,
)
from azure.data.tables.aio import TableClient, TableServiceClient
from azure.data.tables.aio._base_client_async import AsyncTransportWrapper

from calsync.store.entity_requests import EntityTableClient
from calsync.store.transactions import BatchTableClient

UNUSED_POLICIES: tuple[type, ...] = (ProxyPolicy, AsyncRedirectPolicy, CustomHookPolicy)
LOGGING_POLICIES: tuple[type, ...] = (NetworkTraceLoggingPolicy, HttpLoggingPolicy)


def lean_policies(policies: list[Any], *, logging_enable: bool = False) -> list[Any]:
    """``policies`` without the ones calsync does not use (the logging ones kept with ``logging_enable``)."""
    dropped = UNUSED_POLICIES if logging_enable else UNUSED_POLICIES + LOGGING_POLICIES
    return [policy for policy in policies if not isinstance(policy, dropped)]


class LeanTableClient(EntityTableClient, BatchTableClient):
    """azure-data-tables' TableClient making its single-entity requests as calsync.store.entity_requests does
    and its transactions as calsync.store.transactions does; everything else is the library's."""


class LeanTableServiceClient(TableServiceClient):
    """A TableServiceClient whose pipeline, and that of the table clients it hands out, is ``lean_policies``;
    the table clients are ``LeanTableClient``s (single-entity requests and transactions without the
    generated layer and the multipart code).

    ``get_table_client`` builds each table client's pipeline from the service's
    ``_policies``, the list ``_configure_policies`` returns, so filtering that list
    covers every client calsync uses (azure-data-tables is pinned in requirements.txt;
    tests/store/test_pipeline.py fails if a version builds its pipelines otherwise).
    """

    table_client_class: type[TableClient] = LeanTableClient  # bench/bench_tables.py compares it with its bases

    def _configure_policies(self, **kwargs: Any) -> list[Any]:
        return lean_policies(super()._configure_policies(**kwargs), logging_enable=bool(kwargs.get("logging_enable")))

    def get_table_client(self, table_name: str, **kwargs: Any) -> TableClient:
        """azure-data-tables' own get_table_client (12.7.0), handing out a ``table_client_class`` (``LeanTableClient``)."""
        transport = AsyncTransportWrapper(self._client._client._pipeline._transport)
        return self.table_client_class(self.url, table_name=table_name, credential=self.credential, api_version=self.api_version,
                                pipeline=AsyncPipeline(transport=transport, policies=self._policies),
                                location_mode=self._location_mode, _hosts=self._hosts, **kwargs)  # fmt: skip
