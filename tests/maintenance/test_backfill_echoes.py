"""The notifications of a backfill's own copies (its echoes): dropped with no read at all, and only those.

Backfill saves its mappings in bulk, outside the rooms' hints; it records each copy's
version as calsync's own write (calsync.store.own_versions), so the copy's notification,
naming that version, is recognised without reading the copy or its mapping. A change
made to a copy afterwards carries another version and is synced as before.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Callable
from typing import Any

import pytest
from azure.data.tables.aio import TableClient

from calsync.functions.runtime import Runtime
from calsync.maintenance.backfill import apply_backfill, plan_backfill_for
from calsync.model import ChangeHint
from calsync.store.mappings import MappingStore
from calsync.sync.actions import ActionKind, Outcome
from devstack.local_stack import LocalStack
from tests.e2e.helpers import MAILBOX, graph_event, live_bookings, live_events
from tests.maintenance.conftest import soon
from tests.maintenance.test_backfill import seed_bookings

pytestmark = [pytest.mark.e2e]

_in_hint: contextvars.ContextVar[bool] = contextvars.ContextVar("in_hint", default=False)


class HintWatch:
    """What the queue's hints did: their actions, and the table reads made while one was handled.

    Hints wait for ``opened`` (set at first): a test can let a backfill's creates and mappings
    all be written before the first echo is looked at.
    """

    def __init__(self, stack: LocalStack, engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened = asyncio.Event()
        self.opened.set()
        self.actions: list[ActionKind | None] = []
        self.table_reads: list[str] = []
        handle = engine.handle

        async def handled(hint: ChangeHint) -> Outcome:
            outcome = await handle(hint)
            self.actions.append(outcome.action)
            return outcome

        monkeypatch.setattr(engine, "handle", handled)
        for name in ("get_entity", "query_entities"):
            monkeypatch.setattr(TableClient, name, self._counted(name, getattr(TableClient, name)))
        assert stack.queue is not None
        stack.queue.wrap_handlers(self._marked)

    def _counted(self, name: str, read: Callable[..., Any]) -> Callable[..., Any]:
        def counted(client: TableClient, *args: Any, **kwargs: Any) -> Any:
            if _in_hint.get():
                self.table_reads.append(f"{name} {client.table_name}")
            return read(client, *args, **kwargs)

        return counted

    def _marked(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        async def marked(*args: Any) -> None:
            await self.opened.wait()
            token = _in_hint.set(True)
            try:
                result = handler(*args)
                if inspect.isawaitable(result):
                    await result
            finally:
                _in_hint.reset(token)

        return marked


def single_reads(stack: LocalStack) -> list[str]:
    """Reads of one item at a time (the engine's source reads; backfill lists, and reads Outlook in batches)."""
    graph = [r.path for r in stack.graph.requests if r.method == "GET" and not r.batched
             and r.path.count("/") == 4 and "/events/" in r.path]  # fmt: skip
    return graph + [r.path for r in stack.booking.requests_to("GET", "/bookings/*")]


async def seed_both_sides(stack: LocalStack) -> None:
    await seed_bookings(stack, 4)  # morning bookings, before calsync was told
    stack.graph.drop_notifications(3)
    for days in (3, 4, 5):
        stack.graph.user_create_event(MAILBOX, graph_event(f"Outlook {days}", *soon(days, 14)))
    await stack.settle()


async def test_the_echoes_of_a_backfills_copies_are_dropped_without_any_read(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_both_sides(stack)
    engine = await stack.engine()
    watch = HintWatch(stack, engine, monkeypatch)
    stack.graph.clear_requests()
    stack.booking.clear_requests()
    # the notifications reach another instance's webhook, which queues them; this one holds the room's session
    monkeypatch.setattr(Runtime, "own_versions", property(lambda runtime: None))

    watch.opened.clear()  # no echo overtakes its mapping's write (that race reads, and is retried: test_backfill)
    result = await apply_backfill(await plan_backfill_for(await stack.services()), engine)
    watch.opened.set()
    await stack.settle()  # each copy's own notification or webhook: 4 in Outlook, 3 in the booking system

    assert (result.handled, result.failed, result.actions["create"]) == (7, 0, 7), result.errors
    assert watch.actions == [ActionKind.SKIP_ECHO] * 7
    assert watch.table_reads == [] and single_reads(stack) == []
    assert sorted(e["subject"] for e in live_events(stack)) == sorted(b["title"] for b in live_bookings(stack))
    assert len(await MappingStore(engine.tables).list_room("room-a")) == 7


async def test_a_change_to_a_backfilled_copy_is_still_synced_both_ways(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_both_sides(stack)
    engine = await stack.engine()
    # the copies' own notifications are lost: what backfill recorded of them is not used up by their echoes
    stack.booking.webhooks_enabled = False
    stack.graph.drop_notifications(4)  # the Outlook copies'
    result = await apply_backfill(await plan_backfill_for(await stack.services()), engine)
    assert (result.handled, result.failed) == (7, 0), result.errors
    await stack.settle()
    stack.booking.webhooks_enabled = True
    watch = HintWatch(stack, engine, monkeypatch)

    copy = next(e for e in live_events(stack) if e["subject"] == "Booking 0")  # calsync's Outlook copy
    stack.graph.user_update_event(MAILBOX, copy["id"], {"subject": "Booking 0, at the big table"})
    booked = next(b for b in live_bookings(stack) if b["title"] == "Outlook 3")  # calsync's booking copy
    stack.booking.user_update_booking(booked["id"], title="Outlook 3, renamed in the booking system")
    await stack.settle()

    # each change written where it must be (by who may edit what); its own echo stops at this instance's webhook
    assert sorted(watch.actions) == [ActionKind.UPDATE] * 2, watch.actions
    assert watch.table_reads != []  # these were read as any change is
    assert sorted(e["subject"] for e in live_events(stack)) == sorted(b["title"] for b in live_bookings(stack))
    assert "Booking 0, at the big table" in {b["title"] for b in live_bookings(stack)}
