"""The local stack with one controllable clock shared by the engine, the Graph emulator and maintenance."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from calsync.functions import runtime
from calsync.maintenance.jobs import MaintenanceService
from devstack.azurite import AzuriteTables
from devstack.inprocess_queue import ManualClock
from devstack.local_stack import LocalStack


def soon(days: int, hour: int = 10) -> tuple[str, str]:
    """Local wall times (W. Europe) of a one-hour meeting ``days`` from today, for graph_event."""
    day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).date()
    return f"{day}T{hour:02d}:00:00", f"{day}T{hour + 1:02d}:00:00"


def soon_offset(days: int, hour: int = 10) -> tuple[str, str]:
    """The same as RFC 3339 with the +01:00 offset, for booking_fields."""
    start, end = soon(days, hour)
    return start + "+01:00", end + "+01:00"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(dt.datetime.now(dt.UTC).replace(microsecond=0))


@pytest.fixture
async def stack(azurite: AzuriteTables, clock: ManualClock) -> AsyncIterator[LocalStack]:
    local = LocalStack(azurite=azurite, clock=clock)
    local.graph.clock = clock  # subscriptions expire by the same clock the maintenance code reads
    async with local as running:
        yield running


@pytest.fixture
async def service(stack: LocalStack) -> MaintenanceService:
    return await runtime.current().maintenance()
