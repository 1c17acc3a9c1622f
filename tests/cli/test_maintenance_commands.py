"""`calsync backfill`, `reconcile` and `subscriptions renew` against the whole local stack."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from calsync.cli.common import CliState
from calsync.queues.publisher import OutgoingMessage, PublisherBase
from devstack.azurite import AzuriteTables
from devstack.local_stack import LocalStack
from tests.cli.helpers import invoke
from tests.e2e.helpers import MAILBOX, ROOM_ID, booking_fields, graph_event, live_bookings, live_events

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class OnLoopPublisher(PublisherBase):
    """Sends into the stack's in-process queue on the test's loop (the command runs on its own loop)."""

    def __init__(self, inner: PublisherBase, loop: asyncio.AbstractEventLoop) -> None:
        self.inner, self.loop = inner, loop

    async def send(self, messages: Sequence[OutgoingMessage], *, queue: str) -> None:
        work = self.inner.send(messages, queue=queue)
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.loop))


def cli_state(stack: LocalStack) -> CliState:
    loop, settings = asyncio.get_running_loop(), stack.settings

    @contextlib.asynccontextmanager
    async def publisher(_settings: Any) -> AsyncIterator[PublisherBase]:
        yield OnLoopPublisher(stack.queue, loop)

    return CliState(load_settings=lambda: settings, publisher=publisher)


async def unsynced(stack: LocalStack) -> None:
    """Bookings and meetings that exist before calsync: no webhook, no notification reaches it."""
    stack.booking.webhooks_enabled = False
    stack.graph.drop_notifications(3)
    for day in (4, 5):
        stack.booking.user_create_booking(ROOM_ID, **booking_fields(
            f"Existing booking {day}", f"2027-01-{day:02d}T09:00:00+01:00", f"2027-01-{day:02d}T10:00:00+01:00"))  # fmt: skip
    stack.graph.user_create_event(
        MAILBOX, graph_event("Existing meeting", "2027-01-06T11:00:00", "2027-01-06T12:00:00")
    )
    await stack.settle()
    stack.booking.webhooks_enabled = True


async def test_backfill_plans_then_applies_the_first_sync(azurite: AzuriteTables, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    async with LocalStack(azurite=azurite) as stack:
        await unsynced(stack)
        state = cli_state(stack)

        plan = await invoke("backfill", "room-a", obj=state)
        assert plan.exit_code == 0, plan.output
        assert "Dry run: nothing was written" in plan.stdout
        assert len(live_events(stack)) == 1 and len(live_bookings(stack)) == 2  # nothing written

        applied = await invoke("backfill", "room-a", "--apply", obj=state)
        assert applied.exit_code == 0, applied.output
        assert "Backfill: 3 item(s)" in applied.stdout
        await stack.settle()
        assert sorted(e["subject"] for e in live_events(stack)) == sorted(b["title"] for b in live_bookings(stack))
        assert len(live_events(stack)) == 3


async def test_reconcile_command_queues_what_notifications_missed(azurite: AzuriteTables, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    async with LocalStack(azurite=azurite) as stack:
        await unsynced(stack)
        result = await invoke("reconcile", "room-a", "--full", obj=cli_state(stack))
        assert result.exit_code == 0, result.output
        assert "3 hint(s) queued on 'changes'" in result.stdout
        await stack.settle()
        assert len(live_events(stack)) == 3 and len(live_bookings(stack)) == 3


async def test_reconcile_refuses_an_unknown_room(azurite: AzuriteTables) -> None:
    async with LocalStack(azurite=azurite) as stack:
        result = await invoke("reconcile", "broom-closet", obj=cli_state(stack))
        assert result.exit_code == 2 and "unknown room(s) broom-closet" in result.stderr


async def test_subscriptions_renew_keeps_every_room_subscribed(azurite: AzuriteTables, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    async with LocalStack(azurite=azurite) as stack:
        result = await invoke("subscriptions", "renew", obj=cli_state(stack))
        assert result.exit_code == 0, result.output
        assert "room-a" in result.stdout and "room-b" in result.stdout
        assert len(stack.graph.subscription_list()) == 2  # adopted or created, never duplicated
