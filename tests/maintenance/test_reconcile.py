"""Reconciliation against the local stack: 410 -> full compare, drift repair on both sides, mappings rebuilt."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.maintenance.jobs import MaintenanceService, run_maintenance
from calsync.maintenance.reconcile import INDEX_FILLED_KIND, Seen, changed_since_mapping, compare
from calsync.model import ChangeKind, Side
from calsync.model.mapping import MappingRow
from calsync.store.keys import encode_key
from calsync.store.mappings import MappingStore
from devstack.inprocess_queue import ManualClock
from devstack.local_stack import LocalStack
from tests.e2e.helpers import MAILBOX, ROOM_ID, booking_fields, graph_event, live_bookings, live_events
from tests.maintenance.conftest import soon, soon_offset

pytestmark = [pytest.mark.e2e]

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def row(outlook_id: str, booking_id: str, outlook_version: str = "ck1", booking_version: str = "1") -> MappingRow:
    return MappingRow(room="room-a", mapping_id=f"m-{outlook_id}", origin=Side.OUTLOOK, outlook_id=outlook_id,
                      booking_id=booking_id, outlook_version=outlook_version, booking_version=booking_version,
                      created_at=T0, updated_at=T0)  # fmt: skip


# --- the pure decisions -----------------------------------------------------------------------------------


def test_compare_finds_unmapped_drifted_and_orphaned_items_and_leaves_the_rest() -> None:
    mappings = [
        row("o1", "b1"),
        row("o2", "b2"),
        row("o3", "b3"),
        row("o4", "b4"),
        row("o5", "b5"),
        row("series", "bs"),
    ]
    outlook = [Seen("o1", "ck1"), Seen("o2", "ck2"), Seen("o3", "ck1"), Seen("series", None), Seen("o9", "x")]
    booking = [Seen("b1", "1"), Seen("b2", "1"), Seen("b3", "2"), Seen("b4", "1"), Seen("b8", "1"), Seen("bs", "1")]
    result = compare(outlook, booking, mappings)
    assert result.outlook == ["o2", "series", "o9", "o4"]  # drift, series, unmapped, orphan (booking b4 still there)
    assert result.booking == ["b3", "b8"]  # drift, unmapped
    assert (result.unmapped, result.drift, result.orphans, result.series) == (2, 2, 1, 1)
    # o5/b5: gone from both listings (outside the window, or both deleted): nothing to hint


def test_delta_items_are_hinted_only_when_the_mapping_does_not_hold_their_version() -> None:
    mappings = [row("o1", "b1"), row("o2", "b2")]
    changed = [Seen("o1", "ck1"), Seen("o2", "ck9"), Seen("new", "ck1"), Seen("series", None)]
    assert changed_since_mapping(changed, ["o1", "unknown"], mappings) == [
        ("o2", ChangeKind.UNKNOWN), ("new", ChangeKind.UNKNOWN), ("series", ChangeKind.UNKNOWN),
        ("o1", ChangeKind.DELETED),
    ]  # fmt: skip


# --- against the stack ----------------------------------------------------------------------------------


async def synced_pair(stack: LocalStack, service: MaintenanceService) -> tuple[dict, dict]:
    """One booking made in each system, synced by their notifications; then a first maintenance run."""
    start, end = soon(5)
    event = stack.graph.user_create_event(MAILBOX, graph_event("Outlook original", start, end))
    start, end = soon_offset(6)
    booking = stack.booking.user_create_booking(ROOM_ID, **booking_fields("Booking original", start, end))
    await stack.settle()
    await run_maintenance(service)  # full compare: cursors stored, nothing to do
    await stack.settle()
    return event, booking


def titles(stack: LocalStack) -> tuple[list[str], list[str]]:
    return sorted(e["subject"] for e in live_events(stack)), sorted(b["title"] for b in live_bookings(stack))


async def test_a_steady_room_costs_one_graph_request_and_publishes_nothing(
    stack: LocalStack, service: MaintenanceService
) -> None:
    await synced_pair(stack, service)
    room = stack.settings.room("room-a")
    stack.graph.clear_requests()
    sent = stack.queue.stats().sent
    report = await service.reconciler.reconcile_room(room)
    assert (report.full, report.outlook_hints, report.booking_hints) == (False, 0, 0)
    assert len(stack.graph.requests) == 1
    assert stack.queue.stats().sent == sent


async def test_a_delta_link_answered_with_410_leads_to_a_full_compare(
    stack: LocalStack, service: MaintenanceService
) -> None:
    await synced_pair(stack, service)
    start, end = soon(12)
    stack.graph.drop_notifications(1)
    stack.graph.user_create_event(MAILBOX, graph_event("Made while the deltaLink expired", start, end))
    stack.graph.expire_delta_links(MAILBOX)
    await stack.settle()
    report = await service.reconciler.reconcile_room(stack.settings.room("room-a"))
    assert report.full and report.reason == "deltaLink expired (410)"
    assert (report.outlook_hints, report.unmapped) == (1, 1)
    await stack.settle()
    assert "Made while the deltaLink expired" in titles(stack)[1]
    again = await service.reconciler.reconcile_room(stack.settings.room("room-a"))  # the fresh deltaLink works
    assert not again.full


async def test_an_outlook_edit_with_its_notification_dropped_is_carried_over(
    stack: LocalStack, service: MaintenanceService
) -> None:
    event, _ = await synced_pair(stack, service)
    start, end = soon(5, hour=15)
    stack.graph.drop_notifications(1)
    stack.graph.user_update_event(MAILBOX, event["id"], graph_event("Outlook edit, no notification", start, end))
    await stack.settle()
    assert "Outlook edit, no notification" not in titles(stack)[1]
    report = await service.reconciler.reconcile_room(stack.settings.room("room-a"))
    assert (report.full, report.outlook_hints) == (False, 1)
    await stack.settle()
    assert "Outlook edit, no notification" in titles(stack)[1]


async def test_a_booking_edit_with_its_webhook_dropped_is_carried_over(
    stack: LocalStack, service: MaintenanceService
) -> None:
    _, booking = await synced_pair(stack, service)
    stack.booking.webhooks_enabled = False
    stack.booking.user_update_booking(booking["id"], title="Booking edit, no webhook")
    await stack.settle()
    assert "Booking edit, no webhook" not in titles(stack)[0]
    run = await run_maintenance(service)  # the feed sweep finds it
    assert run.feed.hints == 1 and not run.feed.full_pass_needed
    await stack.settle()
    assert "Booking edit, no webhook" in titles(stack)[0]


async def test_the_full_compare_finds_drift_on_both_sides_and_orphans(
    stack: LocalStack, service: MaintenanceService, clock: ManualClock
) -> None:
    event, booking = await synced_pair(stack, service)
    stack.booking.webhooks_enabled = False
    stack.graph.drop_notifications(2)
    stack.graph.user_update_event(MAILBOX, event["id"], {"subject": "Outlook drift"})
    stack.booking.user_update_booking(booking["id"], title="Booking drift")
    start, end = soon(20)
    extra = stack.graph.user_create_event(MAILBOX, graph_event("To be orphaned", start, end))
    await stack.settle()  # the extra event's notification was dropped too: it is synced by nothing yet
    report = await service.reconciler.reconcile_room(stack.settings.room("room-a"), full=True)
    assert (report.drift, report.unmapped) == (2, 1)
    await stack.settle()
    assert titles(stack) == (["Booking drift", "Outlook drift", "To be orphaned"],
                             ["Booking drift", "Outlook drift", "To be orphaned"])  # fmt: skip

    stack.graph.drop_notifications(1)
    stack.graph.user_delete_event(MAILBOX, extra["id"])  # gone in Outlook, its copy stays behind
    await stack.settle()
    clock.advance(60)  # a later hint for the same item (the queue drops a repeated MessageId)
    report = await service.reconciler.reconcile_room(stack.settings.room("room-a"), full=True)
    assert report.orphans == 1
    await stack.settle()
    assert titles(stack)[1] == ["Booking drift", "Outlook drift"]


async def test_a_wiped_mapping_table_is_rebuilt_from_stamps_without_duplicates(
    stack: LocalStack, service: MaintenanceService
) -> None:
    await synced_pair(stack, service)
    mappings = MappingStore((await stack.engine()).tables)
    before = await mappings.list_room("room-a")
    assert len(before) == 2
    for mapping in before:
        await mappings.delete(mapping)
    stack.graph.clear_requests()
    stack.booking.clear_requests()

    report = await service.reconciler.reconcile_room(stack.settings.room("room-a"), full=True)  # as the periodic one
    assert report.unmapped == 4  # two originals and their two stamped copies
    await stack.settle()
    after = await mappings.list_room("room-a")
    pairs = lambda rows: sorted((r.outlook_id, r.booking_id) for r in rows)  # noqa: E731
    assert pairs(after) == pairs(before)
    assert len(live_events(stack)) == 2 and len(live_bookings(stack)) == 2
    assert [r for r in stack.graph.requests if r.method in ("POST", "PATCH", "DELETE") and "/events" in r.path] == []
    assert [r for r in stack.booking.requests if r.method != "GET"] == []


async def test_the_first_full_compare_indexes_bookings_mapped_before_room_moves_existed(
    stack: LocalStack, service: MaintenanceService
) -> None:
    """An upgrade: mappings made before the cross-room index have no row there, so a move would wait for the old
    room's full compare; that room's first full compare fills the index in, once."""
    _, booking = await synced_pair(stack, service)
    mappings = MappingStore((await stack.engine()).tables)
    await mappings._table.delete_entity("~booking-room", encode_key(booking["id"]))  # as before the index existed
    await service.reconciler.cursors.delete(INDEX_FILLED_KIND, "room-a")
    assert await mappings.booking_room(booking["id"]) is None
    await service.reconciler.reconcile_room(stack.settings.room("room-a"), full=True)
    assert await mappings.booking_room(booking["id"]) == "room-a"
    assert await service.reconciler.cursors.get(INDEX_FILLED_KIND, "room-a") is not None, "and only once"


async def test_a_booking_deleted_with_its_webhook_dropped_removes_the_outlook_copy(
    stack: LocalStack, service: MaintenanceService
) -> None:
    _, booking = await synced_pair(stack, service)
    stack.booking.webhooks_enabled = False
    stack.booking.user_delete_booking(booking["id"])
    await stack.settle()
    assert "Booking original" in titles(stack)[0]
    run = await run_maintenance(service)
    assert run.feed.hints == 1
    await stack.settle()
    assert titles(stack) == (["Outlook original"], ["Outlook original"])


async def test_a_lost_feed_cursor_asks_every_room_for_a_full_compare(
    stack: LocalStack, service: MaintenanceService, clock: ManualClock
) -> None:
    await synced_pair(stack, service)
    stack.booking.webhooks_enabled = False
    start, end = soon_offset(14)
    stack.booking.user_create_booking(ROOM_ID, **booking_fields("Made while the feed forgot", start, end))
    stack.booking.expire_cursors()
    clock.advance(15 * 60)
    run = await run_maintenance(service)
    assert run.feed.full_pass_needed and run.feed.reason == "feed cursor expired (410)"
    assert {job.room for job in run.jobs if job.full} == {"room-a", "room-b"}
    await stack.settle()
    assert "Made while the feed forgot" in titles(stack)[0]
    clock.advance(15 * 60)
    assert not (await run_maintenance(service)).feed.full_pass_needed  # the fresh cursor works
