"""Outlook as a CalendarSide: the Graph adapter plus the GraphEvent <-> Booking mapping, seen by the engine.

Graph requests per operation: ``read`` is one GET for a single event (plus one
/instances page for a series, whose exceptions and cancellations live on its
instances); ``create`` one POST (transactionId = the idempotency key; a series
with EXDATEs or moved occurrences then lists and fixes its instances); ``update``
one PATCH with If-Match on the stored changeKey for a single event (a series is
read first so only what changed is patched); ``delete`` one DELETE.

Listing (for reconcile and onboarding, not the engine's per-hint path): ``changes_since``
is one calendarView delta round (from a deltaLink, or over a window) as ItemStates
known by id and changeKey; ``list_window(content=True)`` reads every listed item's
content with JSON batches (20 reads per request, per-item retries), so reconcile and
backfill never see Graph's models.

An event the room has declined counts as cancelled: from the room's point of
view it no longer holds the room. A hint for an occurrence or exception reads its
series master, which is what calsync maps.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from calsync.errors import CalsyncError, NotFound, TransientError
from calsync.model import Booking, BookingStatus, Side, content_hash
from calsync.outlook.event_mapping import (
    InstanceAction,
    booking_to_event,
    event_patch,
    event_to_booking,
    plan_instance_changes,
    stamp_of,
)
from calsync.outlook.graph_client import BatchRequest, GraphCalendar
from calsync.outlook.wire import GraphEvent
from calsync.settings import Room
from calsync.sync.state import ItemState

Window = Callable[[], tuple[dt.datetime, dt.datetime]]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Changes:
    """One delta round: items changed (by id and changeKey, content not read), ids removed, where to resume.

    An occurrence or exception stands for its series, listed once by master id with version None
    (an occurrence does not carry the master's changeKey). ``skipped``: items Graph sent that
    calsync cannot read (reported and left out; the round goes on).
    """

    changed: list[ItemState]
    removed: list[str]
    delta_link: str
    skipped: int = 0


def _listed(events: list[GraphEvent]) -> list[ItemState]:
    seen: dict[str, ItemState] = {}
    for event in events:
        if event.series_master_id:
            seen[event.series_master_id] = ItemState.from_mapping(Side.OUTLOOK, event.series_master_id, None)
        elif event.id:
            version = None if _is_series(event) else event.change_key
            seen.setdefault(event.id, ItemState.from_mapping(Side.OUTLOOK, event.id, version))
    return list(seen.values())


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

    async def changes_since(self, room: Room, delta_link: str | None, *,
                            window: tuple[dt.datetime, dt.datetime] | None = None) -> Changes:  # fmt: skip
        """The room's changes since ``delta_link``, or (None) every item in ``window`` (default: the sync window).

        Raises SyncStateExpired (the deltaLink is gone: call again without it), Throttled, TransientError.
        """
        if delta_link:
            result = await self.graph.calendar_view_delta(room.mailbox, delta_link=delta_link)
        else:
            result = await self.graph.calendar_view_delta(room.mailbox, *(window or self.window()))
        return Changes(_listed(result.changed), result.removed, result.delta_link, len(result.skipped))

    async def list_window(self, room: Room, start: dt.datetime, end: dt.datetime, *,
                          content: bool = False) -> list[ItemState]:  # fmt: skip
        """The room's items in the window, series once by master id.

        Without ``content``: ids and changeKeys only (one delta round). With it: every item read
        as ``read`` would (stamp, response, series instances), the reads sent as JSON batches; an
        item gone meanwhile comes back with booking None, one calsync cannot read is logged and left out.
        """
        listed = (await self.changes_since(room, None, window=(start, end))).changed
        if not content:
            return listed
        return await self.read_many(room, [item.item_id for item in listed])

    async def read_many(self, room: Room, item_ids: list[str]) -> list[ItemState]:
        """``read`` for many items, batched (a series' instances are listed with one more request each)."""
        requests = [BatchRequest("GET", self.graph.read_url(room.mailbox, item_id)) for item_id in item_ids]
        results = await self.graph.batch(room.mailbox, requests)
        states: list[ItemState] = []
        for item_id, result in zip(item_ids, results, strict=True):
            try:
                if result.error is not None:
                    raise result.error
                event = result.event
                if event is None or (event.series_master_id and not _is_series(event)) or _is_series(event):
                    states.append(await self.read(room, item_id))  # an instance, or a series: its instances too
                else:
                    states.append(self._state(room, event))
            except NotFound:
                states.append(ItemState(side=self.side, item_id=item_id, booking=None))
            except CalsyncError as exc:
                if exc.retryable:
                    raise
                log.warning("room %s: Outlook item %s left out of the listing: %s", room.key, item_id, exc)
        return states

    async def create(self, room: Room, booking: Booking, *, stamp: str, idempotency_key: str) -> ItemState:
        event = booking_to_event(booking, private_subject=self.private_subject, stamp=stamp)
        created = await self.graph.create_event(room.mailbox, event, idempotency_key)
        if booking.recurrence is not None and (booking.recurrence.exdates or booking.recurrence.overrides):
            return await self._fix_instances(room, created.id or "", booking)
        return self._state(room, created)

    async def create_many(self, room: Room, items: list[tuple[Booking, str, str]]) -> list[ItemState | CalsyncError]:
        """``create`` for many (booking, stamp, idempotency key) items, the POSTs sent as JSON batches.

        Batches of at most 20, at most GRAPH_MAX_CONCURRENCY_PER_MAILBOX in flight for the room,
        throttled items sent again within the retry budget (GraphCalendar.batch). Each POST carries
        the item's transactionId like ``create``, so sending an item again after an answer was lost
        gives back the same event. A series with EXDATEs or moved occurrences needs its instances
        fixed after the create and goes through ``create`` one by one. Per item, in order: the
        created copy, or the error that item met (a failed batch as a whole raises).
        """
        results: list[ItemState | CalsyncError | None] = [None] * len(items)
        batched: list[int] = []
        for index, (booking, stamp, key) in enumerate(items):
            if booking.recurrence is not None and (booking.recurrence.exdates or booking.recurrence.overrides):
                try:
                    results[index] = await self.create(room, booking, stamp=stamp, idempotency_key=key)
                except CalsyncError as exc:
                    results[index] = exc
            else:
                batched.append(index)
        url = self.graph.create_url(room.mailbox)
        requests = [BatchRequest("POST", url, self.graph.create_body(
            booking_to_event(items[i][0], private_subject=self.private_subject, stamp=items[i][1]), items[i][2]))
            for i in batched]  # fmt: skip
        answers = await self.graph.batch(room.mailbox, requests) if requests else []
        for index, answer in zip(batched, answers, strict=True):
            if answer.error is not None:
                results[index] = answer.error
            elif answer.event is None or not answer.event.id:
                results[index] = TransientError("Graph answered a batched create without the event", side="outlook")
            else:
                results[index] = self._state(room, answer.event)
        return [r if r is not None else TransientError("no answer", side="outlook") for r in results]

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
