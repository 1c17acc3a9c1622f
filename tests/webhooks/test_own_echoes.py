"""Notifications of calsync's own writes stop at the webhook (calsync.store.own_versions): no hint, no replay row."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from calsync.functions import runtime
from calsync.model import ChangeHint, ChangeKind, Side
from calsync.model.mapping import MappingRow
from calsync.store.own_versions import OwnVersions
from calsync.webhooks.booking_notifications import handle_booking_webhook
from calsync.webhooks.graph_notifications import handle_change_notifications
from devstack.inprocess_queue import InProcessQueue
from tests.webhooks.test_http_functions import BOOKING_EVENT, EVENT_ID, booking_request, collected, notification

pytestmark = [pytest.mark.azurite]
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def wrote(own: OwnVersions, side: Side, item_id: str, version: str, *, series: bool = False) -> None:
    """calsync wrote ``item_id`` at ``version`` in room-a and saved its mapping."""
    other = "O-1" if side is Side.BOOKING else "B-1"
    ids = {"booking_id": item_id, "outlook_id": other} if side is Side.BOOKING else {"outlook_id": item_id,
                                                                                       "booking_id": other}
    own.record(MappingRow(room="room-a", mapping_id="m", origin=Side.OUTLOOK, series=series, created_at=NOW,
                          updated_at=NOW, **ids, **{f"{side.value}_version": version}))  # fmt: skip


async def booking_webhook(rt: runtime.Runtime, own: OwnVersions | None, event: dict = BOOKING_EVENT) -> int:
    request = booking_request(event)
    response = await handle_booking_webhook(headers=request.headers, body=request.get_body(), settings=rt.settings,
                                            publisher=rt.publisher, replays=rt.replays, rooms=rt.rooms,
                                            own_versions=own)  # fmt: skip
    return response.status


async def graph_webhook(rt: runtime.Runtime, own: OwnVersions, notifications: list[dict]) -> int:
    response = await handle_change_notifications(query={"room": "room-a"}, body=json.dumps({"value": notifications}).encode(),
                                                 settings=rt.settings, publisher=rt.publisher,
                                                 subscriptions=rt.subscriptions, rooms=rt.rooms, own_versions=own)  # fmt: skip
    return response.status


async def test_the_webhook_of_a_booking_calsync_wrote_is_acknowledged_with_no_hint_and_no_replay_row(
        webhook_runtime: runtime.Runtime, queue: InProcessQueue) -> None:  # fmt: skip
    own = OwnVersions()
    wrote(own, Side.BOOKING, "B-42", '"7"', series=False)  # the booking API's ETag of version 7
    assert await booking_webhook(webhook_runtime, own) == 202
    assert queue.stats().sent == 0
    # the replay guard was never asked: the same signed request, from another instance, is still a first use
    assert await booking_webhook(webhook_runtime, None) == 202
    [hint] = [ChangeHint.from_json(b) for b in await collected(queue, "changes")]
    assert (hint.item_id, hint.version) == ("B-42", "7")


@pytest.mark.parametrize("event", [{**BOOKING_EVENT, "version": "8"}, {**BOOKING_EVENT, "event": "booking.deleted"},
                                   {**BOOKING_EVENT, "booking_id": "B-43"}],
                         ids=["a later version", "a deletion", "another booking"])  # fmt: skip
async def test_any_other_booking_webhook_becomes_a_hint(webhook_runtime: runtime.Runtime, queue: InProcessQueue,
                                                        event: dict) -> None:  # fmt: skip
    own = OwnVersions()
    wrote(own, Side.BOOKING, "B-42", "7", series=False)
    assert await booking_webhook(webhook_runtime, own, event) == 202
    assert len(await collected(queue, "changes")) == 1


async def test_graph_notifications_of_calsyncs_writes_are_left_out_of_the_batch(
        webhook_runtime: runtime.Runtime, queue: InProcessQueue) -> None:  # fmt: skip
    own = OwnVersions()
    wrote(own, Side.OUTLOOK, EVENT_ID, "DwAAABYAAAA", series=False)  # the changeKey Graph answered
    other = notification()
    other["resourceData"] = {**other["resourceData"], "@odata.etag": 'W/"DwAAABYAAAB"'}  # someone's later edit
    batch = [notification(), other, notification(change="deleted"), notification(change="created")]
    assert await graph_webhook(webhook_runtime, own, batch) == 202
    hints = [ChangeHint.from_json(b) for b in await collected(queue, "changes")]
    assert [(h.change_kind, h.version) for h in hints] == [(ChangeKind.UPDATED, 'W/"DwAAABYAAAB"'),
                                                          (ChangeKind.DELETED, 'W/"DwAAABYAAAA"')]  # fmt: skip


async def test_a_series_calsync_wrote_is_not_taken_for_its_echo(webhook_runtime: runtime.Runtime,
                                                               queue: InProcessQueue) -> None:  # fmt: skip
    # a series' exceptions change without a new version of its master: its notifications are always read
    own = OwnVersions()
    wrote(own, Side.BOOKING, "B-42", "7", series=True)
    assert await booking_webhook(webhook_runtime, own) == 202
    assert len(await collected(queue, "changes")) == 1


async def test_a_webhook_that_overtakes_calsyncs_write_waits_for_its_answer(webhook_runtime: runtime.Runtime,
                                                                            queue: InProcessQueue) -> None:  # fmt: skip
    own = OwnVersions()
    with own.writing("room-a", Side.BOOKING, "B-42"):
        webhook = asyncio.ensure_future(booking_webhook(webhook_runtime, own))
        await asyncio.sleep(0.05)
        assert not webhook.done()  # the booking system's webhook came before the answer to calsync's PUT
        wrote(own, Side.BOOKING, "B-42", "7", series=False)
    assert await webhook == 202
    assert queue.stats().sent == 0


async def test_a_webhook_during_a_create_in_its_room_waits_and_then_is_a_hint_if_the_write_was_not_it(
        webhook_runtime: runtime.Runtime, queue: InProcessQueue) -> None:  # fmt: skip
    own = OwnVersions()
    with own.writing("room-a", Side.BOOKING, None):  # calsync creating a booking: its id is not known yet
        webhook = asyncio.ensure_future(booking_webhook(webhook_runtime, own))
        await asyncio.sleep(0.05)
        wrote(own, Side.BOOKING, "B-77", "1", series=False)  # the create made another booking
    assert await webhook == 202
    assert len(await collected(queue, "changes")) == 1


async def test_a_write_that_never_answers_holds_the_webhook_one_second_at_most(webhook_runtime: runtime.Runtime,
                                                                                queue: InProcessQueue) -> None:  # fmt: skip
    own = OwnVersions(wait_seconds=0.2)
    with own.writing("room-a", Side.BOOKING, "B-42"):
        assert await booking_webhook(webhook_runtime, own) == 202
    assert len(await collected(queue, "changes")) == 1


async def test_a_batch_of_notifications_waits_once_for_writes_in_flight_not_once_each(
        webhook_runtime: runtime.Runtime, queue: InProcessQueue) -> None:  # fmt: skip
    # Graph wants an answer within 3 s whatever the batch holds: waiting per notification would add up
    own = OwnVersions(wait_seconds=0.4)
    batch = []
    for n in range(4):
        item = notification()
        item["resourceData"] = {**item["resourceData"], "@odata.etag": f'W/"other-{n}"'}
        batch.append(item)
    with own.writing("room-a", Side.OUTLOOK, None):  # a create in the room that never answers
        started = asyncio.get_running_loop().time()
        assert await graph_webhook(webhook_runtime, own, batch) == 202
        waited = asyncio.get_running_loop().time() - started
    assert waited < 1.2  # one wait of 0.4 s, not four (1.6 s)
    assert len(await collected(queue, "changes")) == 4
