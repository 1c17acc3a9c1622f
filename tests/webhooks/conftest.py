"""Fixtures for the webhooks: a Runtime over Azurite (subscriptions recorded, replay table) and the in-process queue.

The HTTP functions are called as the host calls them (azure.functions objects) or,
for the fuzz tests, over real HTTP through the loopback functions host.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from calsync.functions import runtime
from calsync.functions.indexing import user_functions  # noqa: F401 - re-exported for tests
from calsync.settings import Settings, load_settings
from calsync.store.client import TableStore
from calsync.store.records import SubscriptionRecord, SubscriptionStore
from devstack.azurite import AzuriteTables
from devstack.inprocess_queue import InProcessQueue

CLIENT_STATE = "a-very-secret-client-state-0123456789"
WEBHOOK_SECRET = "booking-webhook-secret-1"
MAILBOX_A, MAILBOX_B = "room-a@contoso.com", "room-b@contoso.com"
USER_A = "622eaaff-0683-4862-9de4-f2ec83c2bd98"  # room-a's object id, as Graph writes it in `resource`
ROOMS = (
    f'[{{"key": "room-a", "mailbox": "{MAILBOX_A}", "booking_room_id": "R-100", "user_id": "{USER_A}"}},'
    f' {{"key": "room-b", "mailbox": "{MAILBOX_B}", "booking_room_id": "R-200"}}]'
)
SUB_A = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
SUB_B = "0f3c2a90-1d1b-4c55-8f5e-0b1c2d3e4f50"
SUB_EXPIRED = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


@pytest.fixture
def webhook_settings(azurite: AzuriteTables, table_prefix: str) -> Settings:
    return load_settings(
        tables_connection_string=azurite.connection_string, table_prefix=table_prefix, graph_auth_mode="none",
        graph_client_state=CLIENT_STATE, booking_webhook_secrets=WEBHOOK_SECRET, rooms=ROOMS,
    )  # fmt: skip


async def record_subscriptions(settings: Settings) -> None:
    """room-a and room-b each have one live subscription; room-a also an expired one."""
    now = dt.datetime.now(dt.UTC)
    async with TableStore.from_settings(settings) as tables:
        await tables.ensure_tables()
        store = SubscriptionStore(tables)
        for sid, room, expires in ((SUB_A, "room-a", now + dt.timedelta(days=2)),
                                   (SUB_B, "room-b", now + dt.timedelta(days=2)),
                                   (SUB_EXPIRED, "room-a", now - dt.timedelta(minutes=1))):  # fmt: skip
            await store.put(SubscriptionRecord(subscription_id=sid, room=room, resource=f"/users/{room}/events",
                                               expires_at=expires))  # fmt: skip


@pytest.fixture
async def webhook_runtime(webhook_settings: Settings) -> AsyncIterator[runtime.Runtime]:
    """This process's runtime for the test: Azurite tables with recorded subscriptions, the in-process queue."""
    await record_subscriptions(webhook_settings)
    rt = runtime.Runtime(webhook_settings, publisher=InProcessQueue.from_settings(webhook_settings))
    try:
        with runtime.installed(rt):
            yield rt
    finally:
        await rt.aclose()


@pytest.fixture
def queue(webhook_runtime: runtime.Runtime) -> InProcessQueue:
    """The in-process queue the webhooks publish to; nothing consumes it."""
    publisher = webhook_runtime.publisher
    assert isinstance(publisher, InProcessQueue)
    return publisher
