"""Microsoft Graph change and lifecycle notifications -> ChangeHints and maintenance jobs.

Graph POSTs to the notification URL that calsync registered with ``?room=<key>``,
so the room is known without a store read. Every notification's clientState is
compared in constant time with the configured secret; one forged notification
refuses the whole request (401) and nothing is enqueued. The validation
handshake (``?validationToken=``) is echoed as text/plain. Valid change
notifications become one ChangeHint each on the "changes" queue; lifecycle
notifications become maintenance jobs on the "reconcile" queue. Graph wants an
answer within 3 s, so nothing here reads calendars.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from calsync.errors import AuthenticationError, CalsyncError, ValidationError
from calsync.model import ChangeHint, ChangeKind, HintReason, Side
from calsync.model.job import JobKind, MaintenanceJob
from calsync.queues.publisher import HintPublisher
from calsync.rooms.directory import RoomDirectory
from calsync.rooms.gate import notification_room
from calsync.settings import Settings
from calsync.webhooks.responses import PayloadTooLarge, WebhookResponse, refuse

log = logging.getLogger(__name__)

MAX_VALIDATION_TOKEN = 1024


class ResourceData(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(min_length=1, max_length=1024)
    etag: str | None = Field(default=None, alias="@odata.etag")


class ChangeNotification(BaseModel):
    """One entry of Graph's change-notification ``value`` array (the fields calsync uses)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    subscription_id: str = Field(alias="subscriptionId", min_length=1)
    client_state: str | None = Field(default=None, alias="clientState")
    change_type: str | None = Field(default=None, alias="changeType")
    resource: str | None = None
    resource_data: ResourceData | None = Field(default=None, alias="resourceData")
    lifecycle_event: str | None = Field(default=None, alias="lifecycleEvent")


class NotificationBatch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: list[ChangeNotification] = Field(min_length=1, max_length=1000)


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
    return WebhookResponse(200, token, "text/plain")


def parse_batch(body: bytes, settings: Settings) -> NotificationBatch:
    """The notification batch in ``body``; ValidationError naming what is wrong otherwise."""
    if len(body) > settings.webhook_max_body_bytes:
        raise PayloadTooLarge(f"body of {len(body)} bytes exceeds the limit of {settings.webhook_max_body_bytes}")
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"body is not JSON: {exc}") from None
    try:
        return NotificationBatch.model_validate(payload)
    except PydanticValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ValidationError(f"not a Graph notification batch: {where}: {first['msg']}") from None


def check_client_state(notifications: Sequence[ChangeNotification], settings: Settings) -> None:
    """Every notification must carry calsync's clientState; compared in constant time."""
    if settings.graph_client_state is None:
        raise AuthenticationError("GRAPH_CLIENT_STATE is not configured; refusing all notifications")
    expected = settings.graph_client_state.get_secret_value().encode()
    for notification in notifications:
        given = (notification.client_state or "").encode()
        if not hmac.compare_digest(given, expected):
            raise AuthenticationError(
                f"notification for subscription {notification.subscription_id} has a wrong clientState"
            )


async def _room(query: Mapping[str, str], settings: Settings, rooms: RoomDirectory | None, *,
                live_only: bool) -> str | None:  # fmt: skip
    return await notification_room(_query(query, "room"), settings, rooms, live_only=live_only)


Enqueue = Callable[[list[ChangeNotification], str, dt.datetime], Awaitable[int]]


async def _handle(name: str, *, query: Mapping[str, str], body: bytes, settings: Settings, now: dt.datetime | None,
                  enqueue: Enqueue, rooms: RoomDirectory | None = None) -> WebhookResponse:  # fmt: skip
    """Shared by both routes: handshake, parse, authenticate, resolve the room, enqueue, answer."""
    echo = validation_echo(query)
    if echo is not None:
        return echo
    try:
        batch = parse_batch(body, settings)
        check_client_state(batch.value, settings)
        room = await _room(query, settings, rooms, live_only=name == "graph_webhook")  # pending: observed only
        if room is None:
            log.warning("%s: notification for room %r which is not configured; ignored", name, query.get("room"))
            return WebhookResponse.accepted(0)
        return WebhookResponse.accepted(await enqueue(batch.value, room, now or dt.datetime.now(dt.UTC)))
    except CalsyncError as exc:
        return refuse(name, exc)


async def handle_change_notifications(
    *, query: Mapping[str, str], body: bytes, settings: Settings, publisher: HintPublisher,
    now: dt.datetime | None = None, rooms: RoomDirectory | None = None,
) -> WebhookResponse:  # fmt: skip
    """The graph_webhook function: handshake, or authenticated notifications -> ChangeHints (202)."""

    async def enqueue(notifications: list[ChangeNotification], room: str, observed: dt.datetime) -> int:
        hints = []
        for notification in notifications:
            if notification.resource_data is None:
                raise ValidationError(f"notification for {notification.subscription_id} has no resourceData")
            hints.append(ChangeHint(
                source=Side.OUTLOOK, room=room, item_id=notification.resource_data.id,
                change_kind=CHANGE_KINDS.get(notification.change_type or "", ChangeKind.UNKNOWN),
                reason=HintReason.WEBHOOK, observed_at=observed, version=notification.resource_data.etag,
            ))  # fmt: skip
        await publisher.publish(hints, queue=settings.changes_queue)
        return len(hints)

    return await _handle("graph_webhook", query=query, body=body, settings=settings, now=now, enqueue=enqueue,
                         rooms=rooms)  # fmt: skip


async def handle_lifecycle_notifications(
    *, query: Mapping[str, str], body: bytes, settings: Settings, publisher: HintPublisher,
    now: dt.datetime | None = None, rooms: RoomDirectory | None = None,
) -> WebhookResponse:  # fmt: skip
    """The graph_lifecycle function: reauthorize, resubscribe or reconcile the room (202)."""

    async def enqueue(notifications: list[ChangeNotification], room: str, observed: dt.datetime) -> int:
        jobs = []
        for notification in notifications:
            kind = LIFECYCLE_JOBS.get(notification.lifecycle_event or "")
            if kind is None:
                raise ValidationError(f"unknown lifecycleEvent {notification.lifecycle_event!r}")
            jobs.append(MaintenanceJob(kind=kind, room=room, subscription_id=notification.subscription_id,
                                       requested_at=observed))  # fmt: skip
        for job in jobs:
            await publisher.publish_job(job.model_dump_json(), queue=settings.reconcile_queue,
                                        message_id=job.message_id, kind=job.kind.value)  # fmt: skip
        return len(jobs)

    return await _handle("graph_lifecycle", query=query, body=body, settings=settings, now=now, enqueue=enqueue,
                         rooms=rooms)  # fmt: skip
