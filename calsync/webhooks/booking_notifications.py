"""Booking-system webhooks -> one ChangeHint each, after HMAC verification and a replay check.

The signature (header ``Booking-Signature``, HMAC-SHA256 over timestamp and body,
±5 minutes, up to two active secrets; strict ASCII header grammar) is checked
before the body is trusted; the signed body is then parsed with limits
(calsync.json_limits) and its fields checked with the ChangeHint's limits; a
forged, stale or malformed request gets a 4xx and enqueues nothing. A correctly
signed request whose (timestamp, signature) was already accepted is a replay
(409, calsync.webhooks.replay). A webhook for a room calsync does not
synchronise is logged and acknowledged. A webhook of calsync's own write, as this
process recorded it (calsync.store.own_versions), is acknowledged with no hint.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Mapping

from pydantic import ValidationError as PydanticValidationError

from calsync.booking.api_models import WebhookEventType
from calsync.booking.webhook_signature import parse_webhook_body, verify_signature
from calsync.errors import CalsyncError, ValidationError
from calsync.model import ChangeHint, ChangeKind, HintReason, Side
from calsync.model.hint import VERSIONED_KINDS
from calsync.queues.publisher import HintPublisher
from calsync.rooms.directory import RoomDirectory
from calsync.rooms.gate import booking_notification_room
from calsync.settings import Settings
from calsync.store.keys import encode_key
from calsync.store.own_versions import OwnVersions
from calsync.telemetry import metrics
from calsync.webhooks.replay import ReplayGuard
from calsync.webhooks.responses import PayloadTooLarge, WebhookResponse, refuse, shown

log = logging.getLogger(__name__)

CHANGE_KINDS = {
    WebhookEventType.CREATED: ChangeKind.CREATED,
    WebhookEventType.UPDATED: ChangeKind.UPDATED,
    WebhookEventType.DELETED: ChangeKind.DELETED,
}


async def handle_booking_webhook(
    *, headers: Mapping[str, str], body: bytes, settings: Settings, publisher: HintPublisher,
    replays: ReplayGuard, now: dt.datetime | None = None, rooms: RoomDirectory | None = None,
    own_versions: OwnVersions | None = None,
) -> WebhookResponse:  # fmt: skip
    """The booking_webhook function: verify, check for replay, then enqueue one ChangeHint (202).

    A created/updated webhook naming a version this process's engine wrote (``own_versions``)
    is calsync's own echo: acknowledged (202) with no hint, before the replay check.
    """
    if len(body) > settings.webhook_max_body_bytes:
        return refuse("booking_webhook", PayloadTooLarge(
            f"body of {len(body)} bytes exceeds the limit of {settings.webhook_max_body_bytes}"))  # fmt: skip
    observed = now or dt.datetime.now(dt.UTC)
    try:
        timestamp, signature = verify_signature(headers, body, settings.booking_webhook_secrets, now=observed)
        event = parse_webhook_body(body)
        room = await booking_notification_room(event.room_id, settings, rooms)  # live rooms only
        if room is None:
            log.warning("booking webhook for room %s which is not configured; ignored", shown(event.room_id))
            return WebhookResponse.accepted(0)
        kind = CHANGE_KINDS.get(event.event, ChangeKind.UNKNOWN)
        if own_versions is not None and kind in VERSIONED_KINDS and await own_versions.is_echo(
                room.key, Side.BOOKING, event.booking_id, event.version):  # fmt: skip
            metrics.record_echo(room=room.key, source=Side.BOOKING)
            return WebhookResponse.accepted(0)
        try:
            encode_key(event.booking_id)  # the engine keys its mapping rows by it: refuse now, not at the write
            hint = ChangeHint(
                source=Side.BOOKING, room=room.key, item_id=event.booking_id, change_kind=kind,
                reason=HintReason.WEBHOOK, observed_at=observed, version=event.version,
            )  # fmt: skip
        except PydanticValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            raise ValidationError(f"webhook cannot become a hint: {first['loc'][0]}: {first['msg']}") from None
        await replays.first_use(timestamp, signature)
        try:
            await publisher.publish([hint], queue=settings.changes_queue)
        except Exception:
            with contextlib.suppress(CalsyncError):  # the sender's retry must not count as a replay
                await replays.release(timestamp, signature)
            raise
        return WebhookResponse.accepted(1)
    except CalsyncError as exc:
        return refuse("booking_webhook", exc)
