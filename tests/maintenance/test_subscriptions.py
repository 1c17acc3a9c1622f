"""Subscriptions kept alive with a controllable clock: renewed before expiry, recreated after removal."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.maintenance.jobs import MaintenanceService, run_maintenance
from calsync.maintenance.subscriptions import Due, SubscriptionAction, SubscriptionKeeper, subscription_due
from devstack.inprocess_queue import ManualClock
from devstack.local_stack import LocalStack
from tests.e2e.helpers import MAILBOX, graph_event, live_bookings
from tests.maintenance.conftest import soon

pytestmark = [pytest.mark.e2e]

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
LIFETIME = dt.timedelta(minutes=4000)


def test_renewal_is_due_under_half_the_lifetime_and_recreation_after_expiry() -> None:
    assert subscription_due(NOW + LIFETIME, NOW, LIFETIME) is Due.NO
    assert subscription_due(NOW + LIFETIME / 2 + dt.timedelta(minutes=1), NOW, LIFETIME) is Due.NO
    assert subscription_due(NOW + LIFETIME / 2 - dt.timedelta(minutes=1), NOW, LIFETIME) is Due.RENEW
    assert subscription_due(NOW, NOW, LIFETIME) is Due.RECREATE


def room_subscriptions(stack: LocalStack, key: str = "room-a") -> list[dict]:
    return [s for s in stack.graph.subscription_list() if s["notificationUrl"].endswith(f"room={key}")]


async def lose_subscription_records(service: MaintenanceService) -> None:
    """The Subscriptions table forgets what LocalStack recorded (a lost table): Graph still has them."""
    for record in await service.keeper.store.list():
        await service.keeper.store.delete(record.subscription_id)


def expiry(sub: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(sub["expirationDateTime"].replace("Z", "+00:00"))


async def test_existing_subscriptions_are_adopted_then_renewed_before_they_expire(
    stack: LocalStack, service: MaintenanceService, clock: ManualClock
) -> None:
    await lose_subscription_records(service)
    results = await service.keeper.ensure_all()
    assert {r.action for r in results} == {SubscriptionAction.ADOPTED}  # LocalStack subscribed: no second one
    [sub] = room_subscriptions(stack)

    clock.advance(60 * 60)  # an hour later: plenty left, Graph is not asked
    stack.graph.clear_requests()
    assert {r.action for r in await service.keeper.ensure_all()} == {SubscriptionAction.KEPT}
    assert stack.graph.count("*", "/subscriptions*") == 0

    clock.advance(2000 * 60)  # under half of the 4,000 minutes left: renewed, same subscription
    results = await service.keeper.ensure_all()
    assert {r.action for r in results} == {SubscriptionAction.RENEWED}
    [renewed] = room_subscriptions(stack)
    assert renewed["id"] == sub["id"]
    assert expiry(renewed) > expiry(sub)
    assert expiry(renewed) >= clock() + dt.timedelta(minutes=3999)
    stored = {r.room: r for r in await service.keeper.store.list()}
    assert stored["room-a"].expires_at == expiry(renewed)

    clock.advance(3000 * 60)  # still alive well past the first subscription's original expiry
    await service.keeper.ensure_all()
    assert room_subscriptions(stack) and clock() > expiry(sub)


async def test_a_subscription_lost_on_graph_is_recreated_on_renewal(
    stack: LocalStack, service: MaintenanceService, clock: ManualClock
) -> None:
    await service.keeper.ensure_all()
    [sub] = room_subscriptions(stack)
    stack.graph.subscriptions.delete(sub["id"])  # Graph forgot it without telling
    clock.advance(2100 * 60)
    results = {r.room: r for r in await service.keeper.ensure_all()}
    assert results["room-a"].action is SubscriptionAction.RECREATED
    assert results["room-b"].action is SubscriptionAction.RENEWED
    [new] = room_subscriptions(stack)
    assert new["id"] != sub["id"] and new["lifecycleNotificationUrl"].endswith("?room=room-a")


async def test_subscription_removed_recreates_it_and_reconciles_the_room(
    stack: LocalStack, service: MaintenanceService
) -> None:
    await run_maintenance(service)
    await stack.settle()
    [sub] = room_subscriptions(stack)

    stack.graph.send_lifecycle(sub["id"], "subscriptionRemoved")  # -> graph_lifecycle -> job -> reconcile_room
    await stack.settle()
    [new] = room_subscriptions(stack)
    assert new["id"] != sub["id"]
    assert [r.subscription_id for r in await service.keeper.store.list() if r.room == "room-a"] == [new["id"]]

    start, end = soon(9)  # the new subscription delivers notifications again
    stack.graph.user_create_event(MAILBOX, graph_event("After resubscribe", start, end))
    await stack.settle()
    assert [b["title"] for b in live_bookings(stack)] == ["After resubscribe"]


async def test_missed_notifications_reconcile_the_room(stack: LocalStack, service: MaintenanceService) -> None:
    await run_maintenance(service)  # first run: full compare, deltaLinks stored
    await stack.settle()
    start, end = soon(11)
    stack.graph.drop_notifications(1)
    stack.graph.user_create_event(MAILBOX, graph_event("Lost notification", start, end))
    await stack.settle()
    assert live_bookings(stack) == []

    [sub] = room_subscriptions(stack)
    stack.graph.send_lifecycle(sub["id"], "missed")  # -> reconcile job -> delta -> hint
    await stack.settle()
    assert [b["title"] for b in live_bookings(stack)] == ["Lost notification"]


async def test_reauthorization_required_is_answered(stack: LocalStack, service: MaintenanceService) -> None:
    await service.keeper.ensure_all()
    [sub] = room_subscriptions(stack)
    stack.graph.clear_requests()
    stack.graph.send_lifecycle(sub["id"], "reauthorizationRequired")
    await stack.settle()
    assert stack.graph.count("POST", f"/subscriptions/{sub['id']}/reauthorize") == 1
    assert [s["id"] for s in room_subscriptions(stack)] == [sub["id"]]


async def test_a_room_without_any_subscription_gets_one_and_a_failing_room_does_not_stop_the_others(
    stack: LocalStack, service: MaintenanceService
) -> None:
    await lose_subscription_records(service)
    for sub in stack.graph.subscription_list():
        stack.graph.subscriptions.delete(sub["id"])
    stack.graph.fail("POST", "/subscriptions", status=500, times=1)  # the first create fails (no retry on POST)
    results = {r.room: r for r in await service.keeper.ensure_all()}
    failed = [r for r in results.values() if r.action is SubscriptionAction.FAILED]
    created = [r for r in results.values() if r.action is SubscriptionAction.CREATED]
    assert len(failed) == 1 and len(created) == 1 and "TransientError" in (failed[0].error or "")
    [sub] = room_subscriptions(stack, created[0].room)
    assert sub["notificationUrl"] == f"{stack.settings.graph_notification_url}?room={created[0].room}"
    assert sub["clientState"] == stack.client_state

    results = {r.room: r for r in await service.keeper.ensure_all()}  # the next run repairs the failed room
    assert results[failed[0].room].action is SubscriptionAction.CREATED
    assert results[created[0].room].action is SubscriptionAction.KEPT


async def test_an_expired_subscription_is_recreated_without_asking_graph_to_renew_it(
    stack: LocalStack, service: MaintenanceService, clock: ManualClock
) -> None:
    await service.keeper.ensure_all()
    [sub] = room_subscriptions(stack)
    clock.advance(4300 * 60)  # every subscription has expired (the timer did not run for three days)
    stack.graph.clear_requests()
    results = {r.room: r for r in await service.keeper.ensure_all()}
    assert results["room-a"].action is SubscriptionAction.RECREATED
    assert stack.graph.count("PATCH", "/subscriptions/*") == 0
    [new] = room_subscriptions(stack)
    assert new["id"] != sub["id"] and expiry(new) > clock()


async def test_a_room_removed_from_the_configuration_loses_its_subscription(
    stack: LocalStack, service: MaintenanceService, clock: ManualClock
) -> None:
    await service.keeper.ensure_all()
    fewer = stack.settings.model_copy(update={"rooms": [stack.settings.room("room-a")]})
    keeper = SubscriptionKeeper(fewer, service.keeper.graph, service.keeper.store, clock=clock)
    results = {r.room: r.action for r in await keeper.ensure_all()}
    assert results == {"room-a": SubscriptionAction.KEPT, "room-b": SubscriptionAction.REMOVED}
    assert room_subscriptions(stack, "room-b") == []
    assert [r.room for r in await keeper.store.list()] == ["room-a"]


async def test_a_live_subscription_without_calsyncs_lifecycle_url_is_replaced_not_adopted(
    stack: LocalStack, service: MaintenanceService
) -> None:
    await lose_subscription_records(service)
    [old] = room_subscriptions(stack)
    stack.graph.subscriptions._subs[old["id"]]["lifecycleNotificationUrl"] = None  # made by an older version
    results = {r.room: r for r in await service.keeper.ensure_all()}
    assert results["room-a"].action is SubscriptionAction.CREATED
    [new] = room_subscriptions(stack)
    assert new["id"] != old["id"] and new["lifecycleNotificationUrl"].endswith("?room=room-a")
