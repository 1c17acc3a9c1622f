"""``handle_change``: one hint's message in, how to settle it out (the ``sync_change`` trigger's one call).

    parse the ChangeHint        not one -> DEAD_LETTER InvalidMessage
    engine.handle(hint)         success -> COMPLETE; the item's open problem is resolved once it
                                           is mapped on both sides (a successful create or update)
    a retryable failure         -> raised again: the caller abandons the message, Service Bus
                                   redelivers it; nothing is recorded (it may pass next time)
    a failure that cannot pass  -> record the sync problem (room, item, side, redacted message),
                                   tell the organiser where the other side allows it, DEAD_LETTER

Telling the organiser: a booking whose copy Outlook cannot take (an RRULE Graph cannot
express, Graph answering 400/422 to its data) is rejected in the booking system with
the reason (``reject_booking``: the organiser sees it there). A failure of calsync's own
(permissions, configuration, a peer breaking its contract, an id too long for a table
key) is an operator's problem and is only recorded. Outlook items are never declined
for a technical failure: a decline is a policy decision (conflicts, ownership).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic import ValidationError as PydanticValidationError

from calsync.errors import CalsyncError, MassDeletionGuardTripped, SideError, ValidationError
from calsync.model import ChangeHint, Side
from calsync.problems.classify import COMPLETE, INVALID_MESSAGE, Settlement, Verdict, classify, describe
from calsync.store.keys import KeyTooLong
from calsync.store.problems import ProblemStore
from calsync.sync.state import ItemState

if TYPE_CHECKING:
    from calsync.sync.engine import SyncEngine

log = logging.getLogger(__name__)

REJECTION_PREFIX = "calsync cannot copy this booking to Outlook"


def organiser_can_fix(hint: ChangeHint, exc: BaseException) -> bool:
    """A booking's own data that Outlook refuses: worth a rejection the organiser reads."""
    if hint.source is not Side.BOOKING or isinstance(exc, KeyTooLong):
        return False
    if isinstance(exc, ValidationError):
        return exc.fields.get("side") != Side.BOOKING.value  # the booking system's own answer is not the booking
    return type(exc) is SideError and exc.side == Side.OUTLOOK.value and exc.status in (400, 422)


async def _tell_organiser(engine: SyncEngine, hint: ChangeHint, reason: str) -> bool:
    room = engine.settings.room(hint.room)
    if room is None:
        return False
    try:
        await engine.sides[Side.BOOKING].decline(room, ItemState(Side.BOOKING, hint.item_id, None), reason)
    except CalsyncError as exc:  # the problem is recorded and dead-lettered all the same
        log.warning("room %s: could not reject booking %s: %s", hint.room, hint.item_id, describe(exc))
        return False
    log.info("room %s: booking %s rejected, the organiser is told why", hint.room, hint.item_id)
    return True


async def _cannot_succeed(engine: SyncEngine, hint: ChangeHint, exc: BaseException, settlement: Settlement) -> None:
    description = settlement.description or describe(exc)
    told = False
    if organiser_can_fix(hint, exc):
        told = await _tell_organiser(engine, hint, f"{REJECTION_PREFIX}: {description.partition(': ')[2]}")
    await ProblemStore(engine.tables).record(
        hint.room, hint.source, hint.item_id, error_type=type(exc).__name__, message=description,
        now=engine.clock(), message_id=hint.message_id, organiser_told=told,
    )  # fmt: skip
    log.error("room %s: %s %s cannot sync, dead-lettered: %s", hint.room, hint.source.value, hint.item_id,
              description)  # fmt: skip


async def handle_change(body: bytes | str, engine: SyncEngine) -> Settlement:
    """Sync the hint in ``body``; say how to settle its message: COMPLETE or DEAD_LETTER.

    Raises the failure when another delivery may succeed (retryable, or not calsync's),
    and StoreError when a problem could not be recorded: the caller abandons the message.
    """
    try:
        hint = ChangeHint.from_json(body)
    except (PydanticValidationError, ValueError) as exc:
        log.error("a message on the changes queue is not a ChangeHint; dead-lettered")
        return Settlement(Verdict.DEAD_LETTER, INVALID_MESSAGE, describe(exc))
    try:
        outcome = await engine.handle(hint)
    except Exception as exc:  # the settlement boundary: every failure is settled one way or the other
        settlement = classify(exc)
        if not isinstance(exc, CalsyncError):
            log.exception("room %s: unexpected failure; the hint is retried", hint.room)
        if settlement.verdict is not Verdict.DEAD_LETTER:
            raise
        if not isinstance(exc, MassDeletionGuardTripped):  # a held room shows its hold, not one problem per hint
            await _cannot_succeed(engine, hint, exc, settlement)
        return settlement
    if outcome.outlook_id and outcome.booking_id:  # in sync on both sides: whichever side failed before is fine
        problems = ProblemStore(engine.tables, memory=engine.memory)  # perf (#16): deletes only open problems
        await problems.resolve(hint.room, Side.OUTLOOK, outcome.outlook_id)
        await problems.resolve(hint.room, Side.BOOKING, outcome.booking_id)
    return COMPLETE
