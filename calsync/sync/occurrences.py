"""Per-occurrence conflicts, the I/O half: a series giving way on some dates, and its copy written without them.

The choice of which occurrences give way is pure (calsync.sync.conflicts); here is only
what the actions (calsync.sync.actions) do through ``Effects``. How each side releases
occurrences is its own (``CalendarSide.decline_occurrences``):

| origin | the lost occurrences |
| --- | --- |
| a person's Outlook meeting | each instance declined as the room, the dates in the comment |
| a room-organised Outlook series (an event made in the room calendar) | EXDATEs added with one update (Outlook: the instances deleted) |
| a booking-system series | EXDATEs added with one update, the reason as the booking's ``note`` (the booking API has no per-occurrence reject, and ``reject`` would free the whole series) |

Each step is idempotent: an occurrence already declined or cancelled is not there to
release again, and a copy already without those dates is written unchanged; so a retry
after a lost response or a crash ends in the same place, and the conflict record
(written first, keyed by what conflicted) exists once.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from calsync.errors import Conflict, RoomTaken
from calsync.model import Side
from calsync.sync.recurrence_edits import without_occurrences
from calsync.sync.state import ItemState
from calsync.sync.translate import desired_copy

if TYPE_CHECKING:
    from calsync.sync.effects import Effects
    from calsync.sync.state import Loser


async def release_occurrences(ctx: Effects, loser: Loser, reason: str) -> None:
    """The loser's origin gives way on ``loser.occurrences`` (original starts); its organiser reads ``reason``."""
    origin, side = loser.origin, ctx.side(loser.origin.side)
    if loser.declines_instances:
        # a person's meeting: the room declines each of those instances (never PATCH a person's meeting)
        await side.decline_occurrences(ctx.room, origin, loser.occurrences, reason)
        return
    # a booking-system series or a room-organised Outlook series: one update adds those dates as EXDATEs
    current = await side.read(ctx.room, origin.item_id)
    if current.booking is None or current.booking.recurrence is None:
        return  # gone or no longer a series: its own hint decides again
    trimmed = without_occurrences(current.booking, loser.occurrences)
    if trimmed.recurrence == current.booking.recurrence:
        return  # already without those dates (a retry)
    await side.update(ctx.room, current, trimmed.model_copy(update={"note": reason}))


async def trim_copy_of(ctx: Effects, origin: ItemState) -> None:
    """Write the origin's copy as the origin reads now (without the released dates) and save the mapping."""
    mapping = await ctx.mappings.find(ctx.room.key, origin.side, origin.item_id)
    copy_side = origin.side.other
    copy_id = mapping.id_on(copy_side) if mapping is not None else None
    if mapping is None or not copy_id:
        return  # no copy yet: the source's own write makes it
    now = await ctx.side(origin.side).read(ctx.room, origin.item_id)
    if now.booking is None or not now.exists:
        return  # the origin vanished meanwhile: its own hint removes the copy
    copy = dataclasses.replace(ItemState.from_mapping(copy_side, copy_id, mapping.version_on(copy_side)),
                               organizer_id=mapping.outlook_organizer_id if copy_side is Side.OUTLOOK else None)
    desired = desired_copy(now.booking, private_subject=ctx.policy.private_subject)
    side = ctx.side(copy_side)
    try:
        written = await side.update(ctx.room, copy, desired)
    except RoomTaken:
        raise  # the booking system refuses the time: writing the same again cannot succeed
    except Conflict:
        # the copy changed since the mapping's version (a room move and back, or a user's edit, which the
        # origin overrides as every write of a copy does): written against its current version
        current = await side.read(ctx.room, copy_id)
        if not current.exists:
            return  # gone or cancelled meanwhile: its own hint decides, and a cancelled copy stays cancelled
        written = await side.update(ctx.room, current, desired)
    await ctx.save(now, written, mapping)
