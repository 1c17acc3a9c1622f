"""Fixtures for the Outlook side: one Graph emulator per session, a fresh room and adapter per test.

The adapter is the real msgraph-sdk (GraphCalendar.from_settings) talking HTTP to the
emulator on loopback with GRAPH_AUTH_MODE=none. Retry waits are small (Retry-After 1 s)
so the fault tests stay fast. A tiny webhook receiver answers Graph's validation
handshake and records the notifications it gets.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from calsync.outlook.event_mapping import STAMP_PROPERTY_ID
from calsync.outlook.graph_client import GraphCalendar
from calsync.settings import Settings, load_settings
from devstack.azurite import free_port
from devstack.graph import GraphEmulator


@pytest.fixture(scope="session")
def graph_emulator() -> Iterator[GraphEmulator]:
    with GraphEmulator() as emulator:
        yield emulator


@pytest.fixture
def graph(graph_emulator: GraphEmulator) -> Iterator[GraphEmulator]:
    """The session's emulator with faults, log and figures cleared for this test."""
    graph_emulator.reset()
    yield graph_emulator
    graph_emulator.reset()


@pytest.fixture
def mailbox(graph: GraphEmulator) -> str:
    """A room no other test uses."""
    email = f"room-{uuid.uuid4().hex[:8]}@contoso.example"
    graph.add_room(email, f"Room {email[5:13]}")
    return email


def graph_settings(base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "tables_connection_string": "UseDevelopmentStorage=true",
        "graph_auth_mode": "none",
        "graph_base_url": base_url,
        "graph_timeout_seconds": 5.0,
        "graph_max_retry_wait_seconds": 5.0,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
async def calendar(graph: GraphEmulator) -> AsyncIterator[GraphCalendar]:
    adapter = GraphCalendar.from_settings(graph_settings(graph.base_url), stamp_property_id=STAMP_PROPERTY_ID)
    try:
        yield adapter
    finally:
        await adapter.aclose()


class WebhookReceiver:
    """A loopback endpoint that answers Graph's validation handshake and records notifications."""

    def __init__(self, *, echo_validation: bool = True) -> None:
        self.echo_validation = echo_validation
        self.received: list[dict] = []
        self.validations: list[str] = []
        self.port = free_port()
        app = Starlette(routes=[Route("/{kind}", self._handle, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def url(self, kind: str = "notify") -> str:
        return f"http://127.0.0.1:{self.port}/{kind}"

    async def _handle(self, request: Request) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            self.validations.append(token)
            if not self.echo_validation:
                return Response(status_code=403)
            return PlainTextResponse(token)
        self.received.append({"kind": request.path_params["kind"], **await request.json()})
        return Response(status_code=202)

    def start(self) -> WebhookReceiver:
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


@pytest.fixture(scope="session")
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)
