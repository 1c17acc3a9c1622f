"""Fixtures for calling the real decorated functions with azure.functions objects, as the host would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from calsync.functions import runtime
from calsync.functions.indexing import indexed_functions, user_functions  # noqa: F401 - re-exported for tests
from calsync.settings import Settings, load_settings
from devstack.inprocess_queue import InProcessQueue

CLIENT_STATE = "a-very-secret-client-state-0123456789"
WEBHOOK_SECRET = "booking-webhook-secret-1"
ROOMS = '[{"key": "room-a", "mailbox": "room-a@contoso.com", "booking_room_id": "R-100"}]'


@pytest.fixture
def webhook_settings() -> Settings:
    return load_settings(
        tables_connection_string="UseDevelopmentStorage=true", graph_auth_mode="none",
        graph_client_state=CLIENT_STATE, booking_webhook_secrets=WEBHOOK_SECRET, rooms=ROOMS,
    )  # fmt: skip


@pytest.fixture
def queue(webhook_settings: Settings) -> Iterator[InProcessQueue]:
    """An in-process queue installed as this process's publisher; nothing consumes it."""
    q = InProcessQueue.from_settings(webhook_settings)
    with runtime.installed(runtime.Runtime(webhook_settings, publisher=q)):
        yield q
