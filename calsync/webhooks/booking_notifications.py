"""Booking-system webhooks -> one ChangeHint each, after HMAC verification.

The signature (header ``Booking-Signature``, HMAC-SHA256 over timestamp and body,
±5 minutes, up to two active secrets) is checked before the body is trusted;
a forged, stale or malformed request gets a 4xx and enqueues nothing. A webhook
for a room calsync does not synchronise is logged and acknowledged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from calsync.booking.api_models import WebhookEventType
from calsync.booking.webhook_signature import verify_webhook
from calsync.errors import CalsyncError
from calsync.model import ChangeHint, ChangeKind, HintReason, Side
from calsync.queues.publisher import HintPublisher
from calsync.rooms.directory import RoomDirectory
from calsync.rooms.gate import booking_notification_room
from calsync.settings import Settings
from calsync.webhooks.responses import PayloadTooLarge, WebhookResponse, refuse

log = logging.getLogger(__name__)

CHANGE_KINDS = {
    WebhookEventType.CREATED: ChangeKind.CREATED,
    WebhookEventType.UPDATED: ChangeKind.UPDATED,
    WebhookEventType.DELETED: ChangeKind.DELETED,
}


async def handle_booking_webhook(
    *, headers: Mapping[str, str], body: bytes, settings: Settings, publisher: HintPublisher,
    now: dt.datetime | None = None, rooms: RoomDirectory | None = None,
) -> WebhookResponse:  # fmt: skip
    """The booking_webhook function: verify, then enqueue one ChangeHint (202)."""
    if len(body) > settings.webhook_max_body_bytes:
        return refuse("booking_webhook", PayloadTooLarge(
            f"body of {len(body)} bytes exceeds the limit of {settings.webhook_max_body_bytes}"))  # fmt: skip
    observed = now or dt.datetime.now(dt.UTC)
    try:
        event = verify_webhook(headers, body, settings.booking_webhook_secrets, now=observed)
        room = await booking_notification_room(event.room_id, settings, rooms)  # live rooms only
        if room is None:
            log.warning("booking webhook for room %r which is not configured; ignored", event.room_id)
            return WebhookResponse.accepted(0)
        hint = ChangeHint(
            source=Side.BOOKING, room=room.key, item_id=event.booking_id,
            change_kind=CHANGE_KINDS.get(event.event, ChangeKind.UNKNOWN), reason=HintReason.WEBHOOK,
            observed_at=observed, version=event.version,
        )  # fmt: skip
        await publisher.publish([hint], queue=settings.changes_queue)
        return WebhookResponse.accepted(1)
    except CalsyncError as exc:
        return refuse("booking_webhook", exc)
