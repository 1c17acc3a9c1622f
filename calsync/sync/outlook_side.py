"""Outlook as a CalendarSide: the Graph adapter plus the GraphEvent <-> Booking mapping, seen by the engine.

Graph requests per operation: ``read`` is one GET for a single event (plus one
/instances page for a series, whose exceptions and cancellations live on its
instances); ``create`` one POST (transactionId = the idempotency key; a series
with EXDATEs or moved occurrences then lists and fixes its instances); ``update``
one PATCH with If-Match on the stored changeKey for a single event (a series is
read first so only what changed is patched); ``delete`` one DELETE.

An event the room has declined counts as cancelled: from the room's point of
view it no longer holds the room. A hint for an occurrence or exception reads its
series master, which is what calsync maps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from calsync.errors import NotFound
from calsync.model import Booking, BookingStatus, Side, content_hash
from calsync.outlook.event_mapping import (
    InstanceAction,
    booking_to_event,
    event_patch,
    event_to_booking,
    plan_instance_changes,
    stamp_of,
)
from calsync.outlook.graph_client import GraphCalendar
from calsync.outlook.wire import GraphEvent
from calsync.settings import Room
from calsync.sync.state import ItemState

Window = Callable[[], tuple[dt.datetime, dt.datetime]]


def _declined(event: GraphEvent) -> bool:
    status = event.response_status
    response = getattr(status.response, "value", status.response) if status is not None else None
    return response == "declined"


def _is_series(event: GraphEvent) -> bool:
    return getattr(event.type, "value", event.type) == "seriesMaster"


class OutlookSide:
    side = Side.OUTLOOK

    def __init__(self, graph: GraphCalendar, *, private_subject: str, window: Window) -> None:
        self.graph = graph
        self.private_subject = private_subject
        self.window = window

    def _state(self, room: Room, event: GraphEvent, instances: list[GraphEvent] | None = None) -> ItemState:
        booking = event_to_booking(event, room=room.key, instances=instances or ())
        if _declined(event) and not booking.is_cancelled:
            booking = booking.model_copy(update={"status": BookingStatus.CANCELLED})
        return ItemState(
            side=self.side, item_id=event.id or "", booking=booking, content_hash=content_hash(booking),
            version=event.change_key, created_at=event.created_date_time, stamp=stamp_of(event),
        )  # fmt: skip

    async def read(self, room: Room, item_id: str) -> ItemState:
        try:
            event = await self.graph.get_event(room.mailbox, item_id)
            if event.series_master_id and not _is_series(event):
                event = await self.graph.get_event(room.mailbox, event.series_master_id)
            instances = None
            if _is_series(event):
                instances = await self.graph.list_instances(room.mailbox, event.id or item_id, *self.window())
        except NotFound:
            return ItemState(side=self.side, item_id=item_id, booking=None)
        return self._state(room, event, instances)

    async def find_copy(self, room: Room, source_id: str) -> ItemState | None:
        event = await self.graph.find_event_by_stamp(room.mailbox, source_id)
        if event is None or not event.id:
            return None
        return await self.read(room, event.id)

    async def list_window(self, room: Room, start: dt.datetime, end: dt.datetime) -> list[ItemState]:
        """The room's items in the window as ids only (content not read): series appear once, by master id."""
        result = await self.graph.calendar_view_delta(room.mailbox, start, end)
        ids = dict.fromkeys(event.series_master_id or event.id for event in result.changed if event.id)
        return [ItemState.from_mapping(self.side, item_id, None) for item_id in ids if item_id]

    async def create(self, room: Room, booking: Booking, *, stamp: str, idempotency_key: str) -> ItemState:
        event = booking_to_event(booking, private_subject=self.private_subject, stamp=stamp)
        created = await self.graph.create_event(room.mailbox, event, idempotency_key)
        if booking.recurrence is not None and (booking.recurrence.exdates or booking.recurrence.overrides):
            return await self._fix_instances(room, created.id or "", booking)
        return self._state(room, created)

    async def update(self, room: Room, current: ItemState, desired: Booking) -> ItemState:
        if current.booking is None and desired.recurrence is None:
            # a single event: patch every synced field at once, guarded by the stored changeKey
            patch = booking_to_event(desired, private_subject=self.private_subject, stamp=None)
            patch.recurrence = None
            updated = await self.graph.update_event(room.mailbox, current.item_id, patch, etag=current.version)
            return self._state(room, updated)
        if current.booking is None:
            current = await self.read(room, current.item_id)
            if current.booking is None:
                raise NotFound(f"event {current.item_id} is gone", side=self.side.value, status=404)
        patch = event_patch(current.booking, desired, private_subject=self.private_subject)
        if patch is not None:
            await self.graph.update_event(room.mailbox, current.item_id, patch, etag=current.version)
        if desired.recurrence is not None:
            return await self._fix_instances(room, current.item_id, desired)
        return await self.read(room, current.item_id)

    async def _fix_instances(self, room: Room, series_id: str, desired: Booking) -> ItemState:
        """Delete cancelled occurrences and move overridden ones, then read the series back."""
        instances = await self.graph.list_instances(room.mailbox, series_id, *self.window())
        for change in plan_instance_changes(desired, instances, private_subject=self.private_subject):
            if change.action is InstanceAction.DELETE:
                await self.graph.delete_event(room.mailbox, change.instance_id)
            elif change.patch is not None:
                await self.graph.update_event(room.mailbox, change.instance_id, change.patch)
        return await self.read(room, series_id)

    async def delete(self, room: Room, current: ItemState) -> None:
        await self.graph.delete_event(room.mailbox, current.item_id, etag=current.version)

    async def decline(self, room: Room, item: ItemState, reason: str) -> None:
        await self.graph.decline_event(room.mailbox, item.item_id, reason)

    async def close(self) -> None:
        await self.graph.aclose()
