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
series master, which is what calsync maps. An event out of the room's scope
(calsync.sync.scope) reads as cancelled too, with the reason.

Service-mailbox mode (calsync.sync.service_meetings): the room's copy of a meeting
the service mailbox organises reads with role SERVICE and the organiser's event's
content (found by iCalUId: one more GET); ``create`` POSTs the meeting in the service
mailbox and finds the room's copy (one more GET); ``update``, ``cancel`` and
``delete`` go to the organiser's event, never to the room's copy.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from calsync.errors import CalsyncError, NotFound, TransientError
from calsync.model import Booking, BookingStatus, Side, content_hash
from calsync.model.booking import Cancellation
from calsync.outlook.event_mapping import (
    InstanceAction,
    booking_to_event,
    event_patch,
    event_to_booking,
    instance_original_start,
    plan_instance_changes,
    stamp_of,
)
from calsync.outlook.graph_client import BatchRequest, GraphCalendar
from calsync.outlook.wire import GraphEvent
from calsync.room_options import RoomOptions
from calsync.settings import Room
from calsync.sync import service_meetings as svc
from calsync.sync.scope import out_of_scope, outlook_out_of_scope
from calsync.sync.state import ItemState, OrganizerRole

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


def _organizer_address(event: GraphEvent) -> str:
    address = event.organizer.email_address.address if event.organizer and event.organizer.email_address else None
    return (address or "").lower()


def role_of(event: GraphEvent, room: Room, *, stamped: bool, service: str | None = None) -> OrganizerRole:
    """Who organises the event in the room's calendar (EXCHANGE.md "Who owns an event in a room calendar").

    An event organised by the configured service mailbox (``service``) is calsync's meeting.
    ``isOrganizer`` false means the room's copy of someone's meeting. When Graph leaves it
    out, an event calsync stamped or one whose organiser is the room itself is the room's;
    anything else is treated as a person's meeting, the safe reading (never patched).
    """
    if service and _organizer_address(event) == service.lower():
        return OrganizerRole.SERVICE
    if event.is_organizer is not None:
        return OrganizerRole.ROOM if event.is_organizer else OrganizerRole.PERSON
    address = event.organizer.email_address.address if event.organizer and event.organizer.email_address else None
    if stamped or (address or "").lower() == room.mailbox.lower():
        return OrganizerRole.ROOM
    return OrganizerRole.PERSON


def _enum(value: object) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _is_series(event: GraphEvent) -> bool:
    return getattr(event.type, "value", event.type) == "seriesMaster"


def _cancellation(event: GraphEvent, room: Room) -> Cancellation | None:
    """Who cancelled, as far as the room's calendar shows it: the organiser, or the room declining."""
    who = event.organizer.email_address if event.organizer and event.organizer.email_address else None
    if event.is_cancelled:
        name = (who.name or who.address) if who else "its organiser"
        return Cancellation(reason=f"The meeting was cancelled in Outlook by {name}.", by=who.address if who else None,
                            at=event.last_modified_date_time)  # fmt: skip
    if _declined(event):
        return Cancellation(reason=f"The room {room.name or room.mailbox} declined the meeting.", by=room.mailbox,
                            at=event.last_modified_date_time)  # fmt: skip
    return None


class OutlookSide:
    side = Side.OUTLOOK

    def __init__(self, graph: GraphCalendar, *, private_subject: str, window: Window,
                 options: Callable[[Room], RoomOptions] | None = None) -> None:  # fmt: skip
        self.graph = graph
        self.private_subject = private_subject
        self.window = window
        self.options = options or (lambda room: RoomOptions())

    def _state(self, room: Room, event: GraphEvent, instances: list[GraphEvent] | None = None, *,
               copy: GraphEvent | None = None) -> ItemState:  # fmt: skip
        """``event`` as an ItemState; ``copy``: the room's copy when ``event`` is the service mailbox's meeting."""
        booking = event_to_booking(event, room=room.key, instances=instances or ())
        seen = copy or event
        if (_declined(seen) or seen.is_cancelled) and not booking.is_cancelled:
            booking = booking.model_copy(update={"status": BookingStatus.CANCELLED})
        if booking.is_cancelled:
            booking = booking.model_copy(update={"cancellation": _cancellation(seen, room)})
        stamp = stamp_of(event)
        options = self.options(room)
        role = role_of(seen, room, stamped=stamp is not None, service=options.organizer)
        if stamp is None and role is not OrganizerRole.SERVICE:
            address = _organizer_address(event) or None
            reason = outlook_out_of_scope(options.outlook_scope, show_as=_enum(event.show_as),
                                          categories=event.categories or (), organizer_email=address)  # fmt: skip
            booking = out_of_scope(booking, reason) if reason else booking
        return ItemState(
            side=self.side, item_id=seen.id or "", booking=booking, content_hash=content_hash(booking),
            version=event.change_key, created_at=seen.created_date_time, stamp=stamp, role=role,
            organizer_id=event.id if copy is not None else None,
        )  # fmt: skip

    async def _event(self, mailbox: str, item_id: str) -> tuple[GraphEvent, list[GraphEvent] | None]:
        """The event (an occurrence's series master) and, for a series, its instances in the window."""
        event = await self.graph.get_event(mailbox, item_id)
        if event.series_master_id and not _is_series(event):
            event = await self.graph.get_event(mailbox, event.series_master_id)
        instances = None
        if _is_series(event):
            instances = await self.graph.list_instances(mailbox, event.id or item_id, *self.window())
        return event, instances

    async def read(self, room: Room, item_id: str) -> ItemState:
        try:
            event, instances = await self._event(room.mailbox, item_id)
            service = self.options(room).organizer
            if service and role_of(event, room, stamped=False, service=service) is OrganizerRole.SERVICE:
                return await self._service_state(room, service, event, instances)
        except NotFound:
            return ItemState(side=self.side, item_id=item_id, booking=None)
        return self._state(room, event, instances)

    async def _service_state(self, room: Room, service: str, copy: GraphEvent,
                             instances: list[GraphEvent] | None) -> ItemState:  # fmt: skip
        """The room's copy of the service mailbox's meeting, read with the organiser's event's content."""
        found = [e for e in await self.graph.find_events_by_ical_uid(service, copy.i_cal_uid or "") if e.id]
        organiser = next((e for e in found if e.is_organizer is not False and not e.series_master_id), None)
        if organiser is None:
            # the organiser's event is gone (cancelled or deleted): what the room's copy shows, not a live booking
            state = self._state(room, copy, instances)
            booking = state.booking.model_copy(update={"status": BookingStatus.CANCELLED}) if state.booking else None
            return ItemState(side=self.side, item_id=state.item_id, booking=booking, role=OrganizerRole.SERVICE,
                             content_hash=content_hash(booking) if booking else None, version=state.version,
                             created_at=state.created_at)  # fmt: skip
        if _is_series(organiser):
            instances = await self.graph.list_instances(service, organiser.id or "", *self.window())
        return self._state(room, organiser, instances, copy=copy)

    async def _organiser_of(self, room: Room, current: ItemState) -> tuple[str, str] | None:
        """(service mailbox, organiser's event id) when ``current`` is the room's copy of calsync's meeting."""
        service = self.options(room).organizer
        if current.role not in (OrganizerRole.SERVICE, None) or not service:
            return None
        if current.organizer_id:
            return service, current.organizer_id
        state = await self.read(room, current.item_id)  # a copy known only by its id: who organises it?
        if state.role is OrganizerRole.SERVICE and state.organizer_id:
            return service, state.organizer_id
        if state.role is OrganizerRole.SERVICE:
            raise NotFound(f"the service mailbox's meeting of {current.item_id} is gone", side="outlook", status=404)
        return None

    async def find_copy(self, room: Room, source_id: str) -> ItemState | None:
        service = self.options(room).organizer
        event = await self.graph.find_event_by_stamp(service or room.mailbox, source_id)
        if event is None or not event.id:
            return None
        if service:
            return await self._room_copy(room, event)
        return await self.read(room, event.id)

    async def _room_copy(self, room: Room, organiser: GraphEvent) -> ItemState | None:
        """The room's copy of the service mailbox's meeting ``organiser``, read as calsync's copy; None if none yet."""
        copies = [e for e in await self.graph.find_events_by_ical_uid(room.mailbox, organiser.i_cal_uid or "")
                  if e.id and not e.series_master_id]  # fmt: skip
        if not copies:
            return None
        instances = None
        if _is_series(organiser):
            instances = await self.graph.list_instances(self.options(room).organizer or "", organiser.id or "",
                                                        *self.window())  # fmt: skip
        return self._state(room, organiser, instances, copy=copies[0])

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
        """The copy; in service-mailbox mode the room's copy of the new meeting (cancelled: the room declined).

        Raises TransientError when the room has not answered the invitation yet (the retry's
        transactionId finds the same meeting).
        """
        options = self.options(room)
        if options.organizer:
            return await self._create_meeting(room, options, booking, stamp=stamp, idempotency_key=idempotency_key)
        event = booking_to_event(booking, private_subject=self.private_subject, stamp=stamp)
        created = await self.graph.create_event(room.mailbox, event, idempotency_key)
        if booking.recurrence is not None and (booking.recurrence.exdates or booking.recurrence.overrides):
            return await self._fix_instances(room, created.id or "", booking)
        return self._state(room, created)

    async def _create_meeting(self, room: Room, options: RoomOptions, booking: Booking, *, stamp: str,
                              idempotency_key: str) -> ItemState:  # fmt: skip
        service = options.organizer or ""
        event = svc.meeting_event(booking, room, options, private_subject=self.private_subject, stamp=stamp)
        created = await self.graph.create_event(service, event, idempotency_key)
        if booking.recurrence is not None and (booking.recurrence.exdates or booking.recurrence.overrides):
            await self._fix_instances(room, created.id or "", booking, mailbox=service)
            created = await self.graph.get_event(service, created.id or "")
        copy = await self._room_copy(room, created)
        if copy is not None:
            return copy
        if svc.room_response(created, room) == "declined":
            # the attendant declined and removed its copy: the meeting is calsync's, and not a live booking
            cancelled = event_to_booking(created, room=room.key).model_copy(
                update={"status": BookingStatus.CANCELLED, "cancellation": svc.declined(room)})
            return ItemState(side=self.side, item_id=created.id or "", booking=cancelled, role=OrganizerRole.SERVICE,
                             organizer_id=created.id, content_hash=content_hash(cancelled), version=created.change_key,
                             stamp=stamp)  # fmt: skip
        raise TransientError(f"room {room.key} has not answered the service mailbox's invitation yet",
                             side="outlook")  # fmt: skip

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
        """PATCH the event; for calsync's meeting, the organiser's event (the room's copy follows)."""
        organiser = await self._organiser_of(room, current)
        mailbox, event_id = organiser or (room.mailbox, current.item_id)
        if current.booking is None and desired.recurrence is None:
            # a single event: patch every synced field at once, guarded by the stored changeKey
            patch = booking_to_event(desired, private_subject=self.private_subject, stamp=None)
            patch.recurrence = None
            patch.subject = desired.subject  # a PATCH writes the subject given (event_mapping: the caller masks)
            updated = await self.graph.update_event(mailbox, event_id, patch, etag=current.version)
            if organiser is None:
                return self._state(room, updated)
            # the room's copy follows the organiser's event: read as calsync's copy without reading it again
            return self._state(room, updated, copy=GraphEvent(id=current.item_id, organizer=updated.organizer))
        if current.booking is None:
            current = await self.read(room, current.item_id)
            if current.booking is None:
                raise NotFound(f"event {current.item_id} is gone", side=self.side.value, status=404)
        patch = event_patch(current.booking, desired, private_subject=self.private_subject)
        if patch is not None:
            await self.graph.update_event(mailbox, event_id, patch, etag=current.version)
        if desired.recurrence is not None:
            await self._fix_instances(room, event_id, desired, mailbox=mailbox)
        return await self.read(room, current.item_id)

    async def _fix_instances(self, room: Room, series_id: str, desired: Booking, *,
                             mailbox: str | None = None) -> ItemState:  # fmt: skip
        """Delete cancelled occurrences and move overridden ones, then read the series back."""
        mailbox = mailbox or room.mailbox
        instances = await self.graph.list_instances(mailbox, series_id, *self.window())
        for change in plan_instance_changes(desired, instances):
            if change.action is InstanceAction.DELETE:
                await self.graph.delete_event(mailbox, change.instance_id)
            elif change.patch is not None:
                await self.graph.update_event(mailbox, change.instance_id, change.patch)
        return await self.read(room, series_id) if mailbox == room.mailbox else ItemState(self.side, series_id, None)

    async def delete(self, room: Room, current: ItemState) -> None:
        """DELETE the event; calsync's meeting is deleted at its organiser (attendees get the cancellation)."""
        organiser = await self._organiser_of(room, current)
        if organiser is not None:
            await self.graph.delete_event(*organiser)
            return
        await self.graph.delete_event(room.mailbox, current.item_id, etag=current.version)

    async def cancel(self, room: Room, current: ItemState, cancellation: Cancellation) -> ItemState | None:
        """Cancel calsync's meeting at its organiser with the reason as the comment; a room event is deleted."""
        organiser = await self._organiser_of(room, current)
        if organiser is None:
            await self.delete(room, current)
            return None
        await self.graph.cancel_event(*organiser, cancellation.reason or "The booking was cancelled.")
        return None

    async def decline(self, room: Room, item: ItemState, reason: str) -> None:
        await self.graph.decline_event(room.mailbox, item.item_id, reason)

    async def decline_occurrences(self, room: Room, item: ItemState, starts: tuple[dt.datetime, ...],
                                  reason: str) -> None:  # fmt: skip
        """Decline as the room each instance of the person's meeting ``item`` that originally starts at ``starts``
        (POST .../events/{instanceId}/decline with ``reason``); instances already declined or cancelled are
        skipped, so a retry declines nothing twice."""
        wanted = set(starts)
        instances = await self.graph.list_instances(room.mailbox, item.item_id, *self.window())
        for instance in instances:
            original = instance_original_start(instance)
            if instance.id is None or original not in wanted or _declined(instance) or instance.is_cancelled:
                continue
            await self.graph.decline_event(room.mailbox, instance.id, reason)

    async def close(self) -> None:
        await self.graph.aclose()
