"""Opens calsync's tables (Azurite by connection string, Azure by endpoint + managed identity).

One ``TableStore`` per process owns the async TableServiceClient and hands out
the table clients that the per-table stores use (their pipeline is azure-data-tables'
less the policies calsync never uses, and they build their single-entity requests and
transactions themselves: ``calsync.store.pipeline``); ``ensure_tables()``
creates them if missing. ``translate_errors`` turns azure-data-tables exceptions into
calsync's error tree so callers decide on one set of types.
"""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceModifiedError
from azure.data.tables.aio import TableClient, TableServiceClient

from calsync.errors import ConcurrencyError, ConfigurationError, StoreError
from calsync.settings import Settings, azurite_connection_string
from calsync.store.pipeline import LeanTableServiceClient

TABLE_NAMES = (
    "Mappings",
    "Subscriptions",
    "Cursors",
    "Conflicts",
    "RoomHolds",
    "WebhookReplays",
    "Rooms",
    "Onboarding",
    "SyncProblems",
)


@dataclass
class TableStore:
    """The table service client and calsync's table names under one prefix."""

    service: TableServiceClient
    prefix: str
    _tables: dict[str, TableClient] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, **client_options: object) -> TableStore:
        if settings.tables_connection_string is not None:
            connection = settings.tables_connection_string.get_secret_value()
            if connection.strip().lower() == "usedevelopmentstorage=true":
                # azure-data-tables does not expand the shortcut itself: Azurite's default table port.
                connection = azurite_connection_string("http://127.0.0.1:10002")
            service = LeanTableServiceClient.from_connection_string(
                connection, **_transport_options(), **client_options
            )
        elif settings.tables_endpoint:
            from azure.identity.aio import DefaultAzureCredential

            credential = DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)
            service = LeanTableServiceClient(
                endpoint=settings.tables_endpoint, credential=credential, **_transport_options(), **client_options
            )
        else:  # Settings validation already refuses this; kept for direct construction.
            raise ConfigurationError("set TABLES_CONNECTION_STRING or TABLES_ENDPOINT")
        return cls(service=service, prefix=settings.table_prefix)

    def table(self, name: str) -> TableClient:
        """The client of calsync's table ``name``, made once: per-hint stores (e.g. ProblemStore) share it (#16)."""
        client = self._tables.get(name)
        if client is None:
            if name not in TABLE_NAMES:
                raise ValueError(f"unknown calsync table {name!r}")
            client = self._tables[name] = self.service.get_table_client(self.prefix + name)
        return client

    async def ensure_tables(self) -> None:
        """Create calsync's tables where they do not exist yet (idempotent)."""
        async with translate_errors("creating tables"):
            for name in TABLE_NAMES:
                await self.service.create_table_if_not_exists(self.prefix + name)

    async def ping(self) -> int:
        """Number of calsync tables present: a cheap reachability check for `make run` and health."""
        async with translate_errors("listing tables"):
            names = [table.name async for table in self.service.list_tables()]
        return sum(1 for name in TABLE_NAMES if self.prefix + name in names)

    async def close(self) -> None:
        await self.service.close()

    async def __aenter__(self) -> TableStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _transport_options() -> dict[str, bool]:
    """Keep aiohttp from consulting the environment on every request when there is nothing to find there.

    With ``trust_env`` (azure-core's default) aiohttp looks up ~/.netrc and the proxy
    variables in a worker thread for *each* request: two thread hand-offs per table
    read, about a tenth of a table request's CPU. No proxy variable set at start means
    nothing to find; with one set, the environment is consulted as before.
    """
    return {} if urllib.request.getproxies() else {"use_env_settings": False}


@contextlib.asynccontextmanager
async def translate_errors(doing: str) -> AsyncIterator[None]:
    """Re-raise azure-data-tables failures as calsync errors that say what was being done."""
    try:
        yield
    except ResourceModifiedError as exc:
        raise ConcurrencyError(f"lost a race while {doing}: the row changed since it was read") from exc
    except ResourceExistsError as exc:
        raise ConcurrencyError(f"lost a race while {doing}: the row already exists") from exc
    except HttpResponseError as exc:
        if exc.status_code in (409, 412):  # batch failures arrive as TableTransactionError
            raise ConcurrencyError(f"lost a race while {doing}: {exc.reason or exc.status_code}") from exc
        raise StoreError(f"Table Storage failed while {doing}: {exc.status_code} {exc.reason}") from exc
    except AzureError as exc:
        raise StoreError(f"Table Storage failed while {doing}: {type(exc).__name__}: {exc}") from exc
