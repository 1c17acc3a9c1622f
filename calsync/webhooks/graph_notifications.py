"""Microsoft Graph change and lifecycle notifications -> ChangeHints and maintenance jobs.

Graph POSTs to the notification URL that calsync registered with ``?room=<key>``,
so the room is known without a store read. The validation handshake
(``?validationToken=``) is echoed as text/plain. Otherwise, in this order:

1. the body is parsed with limits (calsync.json_limits: depth, number size,
   string length, lone surrogates) and every field the handlers use is checked
   against the model's limits (``ChangeNotification``); anything else is a 400;
2. every notification's clientState is compared in constant time with the
   configured secret; one forged notification refuses the whole request (401);
3. what each notification claims is checked (403 otherwise): its
   ``subscriptionId`` must be a live subscription calsync recorded for the room in
   the URL (``SubscriptionDirectory``, a cached view of the Subscriptions table),
   and a change notification's ``resource`` must be ``Users/{user}/Events/{id}``
   with ``{user}`` the room's mailbox (or, as Graph writes it, a directory object
   id: the room's ``user_id`` when configured) and ``{id}`` the notified event;
4. valid change notifications become one ChangeHint each on the "changes" queue;
   lifecycle notifications become maintenance jobs on the "reconcile" queue, and
   an unknown ``lifecycleEvent`` is logged and skipped (a refused batch would be
   redelivered by Graph, and the known events in it lost to calsync).

Nothing is enqueued from a refused request. Graph wants an answer within 3 s,
so nothing here reads calendars, and untrusted values reach logs and problem
bodies only escaped and truncated (``shown``).

Payload shape: Microsoft Graph "changeNotification resource type"
(https://learn.microsoft.com/en-us/graph/api/resources/changenotification):
subscriptionId (Guid), clientState (at most 255 characters), changeType
(created | updated | deleted) and lifecycleEvent (missed | subscriptionRemoved |
reauthorizationRequired) mutually exclusive, resource relative to
https://graph.microsoft.com, resourceData (id, @odata.etag, ...) optional.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticValidationError

from calsync import json_limits
from calsync.errors import AuthenticationError, CalsyncError, ValidationError
from calsync.model import ChangeHint, ChangeKind, HintReason, Side
from calsync.model.hint import MAX_ITEM_ID_CHARS, MAX_VERSION_CHARS, VERSIONED_KINDS
from calsync.model.job import JobKind, MaintenanceJob
from calsync.queues.publisher import HintPublisher
from calsync.rooms.directory import RoomDirectory
from calsync.rooms.gate import notification_room
from calsync.settings import Room, Settings
from calsync.store.keys import encode_key
from calsync.store.own_versions import OwnVersions
from calsync.telemetry import metrics
from calsync.webhooks.responses import PayloadTooLarge, WebhookResponse, refuse, shown
from calsync.webhooks.subscriptions import SubscriptionDirectory

log = logging.getLogger(__name__)

MAX_VALIDATION_TOKEN = 1024
MAX_NOTIFICATIONS = 1000
GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# Graph item ids are base64 (standard or URL-safe alphabet): no '.', so no '..' segment, no '?', '#', '%'.
EVENT_ID = r"^[A-Za-z0-9+/=_-]+$"
_RESOURCE = re.compile(r"^/?users/(?P<user>[^/]+)/events/(?P<id>.+)$", re.IGNORECASE)

Guid = Annotated[str, StringConstraints(pattern=GUID)]
Word = Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z]+$")]
PrintableAscii = Annotated[str, StringConstraints(max_length=2048, pattern=r"^[\x20-\x7e]*$")]


class ResourceData(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(min_length=1, max_length=MAX_ITEM_ID_CHARS, pattern=EVENT_ID)
    etag: str | None = Field(default=None, alias="@odata.etag", max_length=MAX_VERSION_CHARS,
                             pattern=r"^[\x20-\x7e]*$")  # fmt: skip


class ChangeNotification(BaseModel):
    """One entry of Graph's notification ``value`` array (the fields calsync uses, with Graph's limits)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    subscription_id: Guid = Field(alias="subscriptionId")
    client_state: str | None = Field(default=None, alias="clientState", max_length=255)
    change_type: Word | None = Field(default=None, alias="changeType")
    resource: PrintableAscii | None = None
    resource_data: ResourceData | None = Field(default=None, alias="resourceData")
    lifecycle_event: Word | None = Field(default=None, alias="lifecycleEvent")


class NotificationBatch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: list[ChangeNotification] = Field(min_length=1, max_length=MAX_NOTIFICATIONS)


class NotificationMismatch(AuthenticationError):
    """An authenticated notification that claims something calsync did not subscribe to (403)."""

    http_status = 403


CHANGE_KINDS = {"created": ChangeKind.CREATED, "updated": ChangeKind.UPDATED, "deleted": ChangeKind.DELETED}
LIFECYCLE_JOBS = {
    "reauthorizationRequired": JobKind.REAUTHORIZE,
    "subscriptionRemoved": JobKind.RESUBSCRIBE,
    "missed": JobKind.RECONCILE,
}


def _query(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    return value if value else None


def validation_echo(query: Mapping[str, str]) -> WebhookResponse | None:
    """Graph's subscription handshake: echo ``validationToken`` as text/plain, or None if absent."""
    token = _query(query, "validationToken")
    if token is None:
        return None
    if len(token) > MAX_VALIDATION_TOKEN:
        return WebhookResponse.problem(400, "Bad validation request", "validationToken is too long")
    if not token.isprintable():
        return WebhookResponse.problem(400, "Bad validation request", "validationToken has unprintable characters")
    return WebhookResponse(200, token, "text/plain")


def _first_error(exc: PydanticValidationError) -> str:
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def parse_batch(body: bytes, settings: Settings) -> NotificationBatch:
    """The notification batch in ``body``; ValidationError (400) or PayloadTooLarge (413) naming what is wrong."""
    if len(body) > settings.webhook_max_body_bytes:
        raise PayloadTooLarge(f"body of {len(body)} bytes exceeds the limit of {settings.webhook_max_body_bytes}")
    payload = json_limits.loads(body)
    try:
        return NotificationBatch.model_validate(payload)
    except PydanticValidationError as exc:
        raise ValidationError(f"not a Graph notification batch: {_first_error(exc)}") from None


def check_client_state(notifications: Sequence[ChangeNotification], settings: Settings) -> None:
    """Every notification must carry calsync's clientState; compared in constant time."""
    if settings.graph_client_state is None:
        raise AuthenticationError("GRAPH_CLIENT_STATE is not configured; refusing all notifications")
    expected = settings.graph_client_state.get_secret_value().encode()
    for notification in notifications:
        given = (notification.client_state or "").encode("utf-8", errors="replace")
        if not hmac.compare_digest(given, expected):
            raise AuthenticationError(
                f"notification for subscription {shown(notification.subscription_id)} has a wrong clientState"
            )


async def _room(query: Mapping[str, str], settings: Settings, rooms: RoomDirectory | None, *,
                live_only: bool) -> Room | None:  # fmt: skip
    return await notification_room(_query(query, "room"), settings, rooms, live_only=live_only)


def _names_room_mailbox(user: str, room: Room) -> bool:
    """Whether a resource's user segment names the room's mailbox (by address, or by object id)."""
    if user.lower() == room.mailbox.lower():
        return True
    if re.fullmatch(GUID, user) is None:
        return False
    # Graph names the mailbox by its directory object id, which the webhook cannot resolve without
    # a Graph call; when the room's user_id is configured it must match, otherwise the subscription
    # id (checked first, and bound to the room's mailbox when calsync subscribed) vouches for it.
    return room.user_id is None or user.lower() == room.user_id.lower()


def check_resource(notification: ChangeNotification, room: Room) -> None:
    """A change notification must name an event of the room's mailbox, the one in resourceData."""
    data = notification.resource_data
    if data is None:
        raise ValidationError(f"notification for {shown(notification.subscription_id)} has no resourceData")
    match = _RESOURCE.match(notification.resource or "")
    if match is None:
        raise NotificationMismatch(
            f"notification resource {shown(notification.resource)} is not Users/{{user}}/Events/{{id}}",
            reason="resource",
        )
    if not _names_room_mailbox(match["user"], room):
        raise NotificationMismatch(
            f"notification resource names mailbox {shown(match['user'])}, not room {room.key}'s", reason="resource"
        )
    if match["id"] != data.id:
        raise NotificationMismatch("notification resource names another event than its resourceData.id",
                                   reason="resource")  # fmt: skip
    try:
        encode_key(data.id)  # the engine stores it as a table key; refuse now rather than dead-letter later
    except ValidationError as exc:
        raise ValidationError(f"resourceData.id: {exc.message}") from None


async def check_subscriptions(notifications: Sequence[ChangeNotification], room: Room,
                              directory: SubscriptionDirectory) -> None:  # fmt: skip
    """Each notification's subscription must be a live one calsync recorded for ``room``."""
    for subscription_id in dict.fromkeys(n.subscription_id for n in notifications):
        owner = await directory.room_of(subscription_id)
        if owner != room.key:
            raise NotificationMismatch(
                f"subscription {shown(subscription_id)} is not a live subscription of calsync's for room {room.key}"
                + ("" if owner is None else f" (it is room {owner}'s)"),
                reason="subscription",
            )


Enqueue = Callable[[list[ChangeNotification], Room, dt.datetime], Awaitable[int]]


async def _handle(name: str, *, query: Mapping[str, str], body: bytes, settings: Settings,
                  directory: SubscriptionDirectory, now: dt.datetime | None, enqueue: Enqueue,
                  rooms: RoomDirectory | None = None) -> WebhookResponse:  # fmt: skip
    """Shared by both routes: handshake, parse, authenticate, resolve the room, check claims, enqueue, answer."""
    echo = validation_echo(query)
    if echo is not None:
        return echo
    try:
        batch = parse_batch(body, settings)
        check_client_state(batch.value, settings)
        room = await _room(query, settings, rooms, live_only=name == "graph_webhook")  # pending: observed only
        if room is None:
            log.warning("%s: notification for room %s which is not configured; ignored", name,
                        shown(query.get("room")))  # fmt: skip
            return WebhookResponse.accepted(0)
        await check_subscriptions(batch.value, room, directory)
        return WebhookResponse.accepted(await enqueue(batch.value, room, now or dt.datetime.now(dt.UTC)))
    except CalsyncError as exc:
        return refuse(name, exc)


async def _own_echo(notification: ChangeNotification, room: Room, own_versions: OwnVersions | None) -> bool:
    """Whether ``notification`` is the echo of a write this instance made (calsync.store.own_versions)."""
    data = notification.resource_data
    kind = CHANGE_KINDS.get(notification.change_type or "", ChangeKind.UNKNOWN)
    if own_versions is None or data is None or kind not in VERSIONED_KINDS:
        return False
    return await own_versions.is_echo(room.key, Side.OUTLOOK, data.id, data.etag)


async def handle_change_notifications(
    *, query: Mapping[str, str], body: bytes, settings: Settings, publisher: HintPublisher,
    subscriptions: SubscriptionDirectory, now: dt.datetime | None = None, rooms: RoomDirectory | None = None,
    own_versions: OwnVersions | None = None,
) -> WebhookResponse:  # fmt: skip
    """The graph_webhook function: handshake, or authenticated notifications -> ChangeHints (202).

    A created/updated notification naming a version this process's engine wrote
    (``own_versions``) is calsync's own echo: acknowledged with no hint.
    """

    async def enqueue(notifications: list[ChangeNotification], room: Room, observed: dt.datetime) -> int:
        for notification in notifications:
            check_resource(notification, room)
        # calsync's own echoes, told all at once: one wait for the writes in flight, whatever the batch's size
        echoes = await asyncio.gather(*(_own_echo(notification, room, own_versions) for notification in notifications))
        hints = []
        for notification, echo in zip(notifications, echoes, strict=True):
            assert notification.resource_data is not None
            kind = CHANGE_KINDS.get(notification.change_type or "", ChangeKind.UNKNOWN)
            version = notification.resource_data.etag
            if echo:
                metrics.record_echo(room=room.key, source=Side.OUTLOOK)
                continue
            try:
                hints.append(ChangeHint(
                    source=Side.OUTLOOK, room=room.key, item_id=notification.resource_data.id, change_kind=kind,
                    reason=HintReason.WEBHOOK, observed_at=observed, version=version,
                ))  # fmt: skip
            except PydanticValidationError as exc:  # the edge checks above use the model's limits; belt and braces
                raise ValidationError(f"notification cannot become a hint: {_first_error(exc)}") from None
        if hints:
            await publisher.publish(hints, queue=settings.changes_queue)
        return len(hints)

    return await _handle("graph_webhook", query=query, body=body, settings=settings, directory=subscriptions,
                         now=now, enqueue=enqueue, rooms=rooms)  # fmt: skip


async def handle_lifecycle_notifications(
    *, query: Mapping[str, str], body: bytes, settings: Settings, publisher: HintPublisher,
    subscriptions: SubscriptionDirectory, now: dt.datetime | None = None, rooms: RoomDirectory | None = None,
) -> WebhookResponse:  # fmt: skip
    """The graph_lifecycle function: reauthorize, resubscribe or reconcile the room (202).

    Only the room's own subscription is acted on (``check_subscriptions``); an unknown
    lifecycleEvent (Graph may add values: ``unknownFutureValue``) is logged and skipped.
    """

    async def enqueue(notifications: list[ChangeNotification], room: Room, observed: dt.datetime) -> int:
        jobs = []
        for notification in notifications:
            kind = LIFECYCLE_JOBS.get(notification.lifecycle_event or "")
            if kind is None:
                log.warning("graph_lifecycle: unknown lifecycleEvent %s for subscription %s of room %s; skipped",
                            shown(notification.lifecycle_event), shown(notification.subscription_id), room.key)  # fmt: skip
                continue
            jobs.append(MaintenanceJob(kind=kind, room=room.key, subscription_id=notification.subscription_id,
                                       requested_at=observed))  # fmt: skip
        for job in jobs:
            await publisher.publish_job(job.model_dump_json(), queue=settings.reconcile_queue,
                                        message_id=job.message_id, kind=job.kind.value)  # fmt: skip
        return len(jobs)

    return await _handle("graph_lifecycle", query=query, body=body, settings=settings, directory=subscriptions,
                         now=now, enqueue=enqueue, rooms=rooms)  # fmt: skip
