"""The reads the pure decision can ask for: one frozen class each, whose ``fetch`` fills one field of Facts.

``calsync.sync.plan.decide`` returns one of these when it needs to know more; the
engine runs ``fetch`` and asks again. Like the actions, these import no SDK: the
I/O goes through ``Effects`` (calsync.sync.effects).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from calsync.model import ChangeKind, HintReason, Side
from calsync.model.mapping import likely_mapping_id, mapping_id_for
from calsync.sync.guard import Tally, missing_from
from calsync.sync.state import Facts, ItemState

if TYPE_CHECKING:
    from calsync.sync.effects import Effects

A = TypeVar("A")
B = TypeVar("B")


class Read:
    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        raise NotImplementedError


@dataclass(frozen=True)
class ReadHold(Read):
    """The room's mass-deletion hold, if any."""

    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        return dataclasses.replace(facts, hold=await ctx.read_hold())


@dataclass(frozen=True)
class ReadSource(Read):
    """The item's current state on the side the hint came from (an occurrence's hint reads its series)."""

    side: Side
    item_id: str

    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        source = await ctx.side(self.side).read(ctx.room, self.item_id)
        ctx.observed(source)
        return dataclasses.replace(facts, source=source)


@dataclass(frozen=True)
class ReadMapping(Read):
    """The item's mapping. The room's session memory answers only a webhook's hint whose source exists:
    a decision that deletes, and the safety nets (reconcile, replay, backfill), read the table
    (calsync.store.mappings)."""

    side: Side
    item_id: str

    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        source = facts.source
        recent = source is not None and source.exists and facts.hint.reason is HintReason.WEBHOOK
        likely = None
        if source is not None and (source.side, source.item_id) == (self.side, self.item_id):
            # the source's read told whose main row likely maps it (its stamp): one table read instead of two
            likely = likely_mapping_id(self.side, self.item_id, source.stamp)
        mapping = await ctx.mappings.find(ctx.room.key, self.side, self.item_id, recent=recent, likely=likely)
        return dataclasses.replace(facts, mapping=mapping, mapping_read=True)


@dataclass(frozen=True)
class ReadSourceAndMapping(Read):
    """ReadSource and ReadMapping at once (two requests in flight, not one after the other), for a hint
    whose item the room's session memory does not know, so that its mapping comes from the table anyway.

    The mapping is looked up as the source's own (an original's main row, ``mapping_id_for``), before
    the source tells its stamp; for a hint of a new item (``created``) through its index row only,
    since a new item is mapped nowhere, or as a copy under its original's row: one read, not a miss
    on the main row first (perf, #16). If the source read turns out to be another item (an
    occurrence's hint reads its series), the mapping read is dropped and the decision asks for the
    series' own.
    """

    side: Side
    item_id: str

    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        created = facts.hint.change_kind is ChangeKind.CREATED
        likely = None if created else mapping_id_for(self.side, self.item_id)
        source, mapping = await _together(
            ctx.side(self.side).read(ctx.room, self.item_id),
            ctx.mappings.find(ctx.room.key, self.side, self.item_id, likely=likely),
        )
        ctx.observed(source)
        if (source.side, source.item_id) != (self.side, self.item_id):
            return dataclasses.replace(facts, source=source)
        return dataclasses.replace(facts, source=source, mapping=mapping, mapping_read=True)


async def _together(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Both results; a failure raised as itself (the first's before the second's), after both have ended."""
    one, two = await asyncio.gather(first, second, return_exceptions=True)
    for outcome in (one, two):
        if isinstance(outcome, BaseException):
            raise outcome
    return one, two  # type: ignore[return-value]


@dataclass(frozen=True)
class ReadHintedMapping(Read):
    """The mapping of the item a webhook's hint names, as the room's session memory holds it (no I/O):
    is the version the hint carries the one calsync last wrote or saw? Not remembered: the mapping
    naming the item at exactly that version, if this process wrote that (calsync.store.own_versions:
    a backfill's bulk writes, say, made outside the room's hints). Neither: the source and its mapping are read
    as for any hint."""

    side: Side
    item_id: str

    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        mapping = ctx.mappings.remembered(ctx.room.key, self.side, self.item_id)
        written = mapping is None and ctx.mappings.wrote(ctx.room.key, self.side, self.item_id, facts.hint.version)
        return dataclasses.replace(facts, hinted=mapping, hinted_read=True, hinted_written=written)


@dataclass(frozen=True)
class _ReadItem(Read):
    """Read one item by id on one side; ``_keep`` says where the decision finds it."""

    side: Side
    item_id: str

    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        return self._keep(facts, await ctx.side(self.side).read(ctx.room, self.item_id))

    def _keep(self, facts: Facts, item: ItemState) -> Facts:
        raise NotImplementedError


@dataclass(frozen=True)
class ReadStamped(Read):
    """The original named by the source's stamp (the source is a copy calsync made), and that original's mapping.

    The source has no mapping of its own here (it was lost, or never saved): the original's mapping says
    whether the original has another copy meanwhile.
    """

    side: Side
    item_id: str

    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        item = await ctx.side(self.side).read(ctx.room, self.item_id)
        mapping = await ctx.mappings.find(ctx.room.key, self.side, self.item_id) if item.exists else None
        return dataclasses.replace(facts, found=item, found_mapping=mapping, looked_up=True)


@dataclass(frozen=True)
class FindCopy(Read):
    """The item calsync stamped with the source's id, if any (its mapping may have been lost)."""

    side: Side
    source_id: str

    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        found = await ctx.side(self.side).find_copy(ctx.room, self.source_id)
        return dataclasses.replace(facts, found=found, looked_up=True)


@dataclass(frozen=True)
class ListAround(Read):
    """The other side's items of the room in [start, end), with their content (rivals of the source)."""

    side: Side
    start: dt.datetime
    end: dt.datetime

    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        items = await ctx.side(self.side).list_window(ctx.room, self.start, self.end, content=True)
        return dataclasses.replace(facts, listing=tuple(items))


@dataclass(frozen=True)
class CountForGuard(Read):
    """The mass-deletion guard's counts: the room's mapped items and the deletions already propagated."""

    side: Side

    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        recent = await ctx.recent_deletions(self.side)
        mapped = tuple(row.id_on(self.side) for row in await ctx.mappings.list_room(ctx.room.key))
        return dataclasses.replace(facts, tally=Tally(mapped_ids=mapped, recent=recent))


@dataclass(frozen=True)
class ListForGuard(Read):
    """Which of the room's mapped items are missing from ``side`` now."""

    side: Side

    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        assert facts.tally is not None
        present = {item.item_id for item in await ctx.side(self.side).list_window(ctx.room, *facts.window)}
        return dataclasses.replace(facts, tally=missing_from(facts.tally, present))


@dataclass(frozen=True)
class ReadOrigin(_ReadItem):
    """The authoritative item of a mapping whose copy changed: what the copy must agree with."""

    def _keep(self, facts: Facts, item: ItemState) -> Facts:
        return dataclasses.replace(facts, origin=item, origin_read=True)


@dataclass(frozen=True)
class ReadRivalOrigin(_ReadItem):
    """The Outlook original of a rival booking that is calsync's copy: who organises it, when it was made."""

    def _keep(self, facts: Facts, item: ItemState) -> Facts:
        return dataclasses.replace(facts, rival_origins=(*facts.rival_origins, item))


@dataclass(frozen=True)
class ReadBookingRoom(Read):
    """The room a booking with no mapping here was last mapped in: did it move here? (calsync.sync.moves)"""

    booking_id: str

    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        room = await ctx.booking_room(self.booking_id)
        return dataclasses.replace(facts, booking_room=room, booking_room_read=True)


@dataclass(frozen=True)
class ReadRivalRoom(Read):
    """The room a rival copy whose original is not in this room was mapped in: is it on its way back there?

    Only if that room still maps it (its mapping may have been lost in a crash: then that room's pass
    does not know the copy as its own and will not take it back, and nothing is waited for).
    """

    booking_id: str

    async def fetch(self, ctx: Effects, facts: Facts) -> Facts:
        room = await ctx.booking_room(self.booking_id)
        if room is not None and room != ctx.room.key and await ctx.mappings.find(room, Side.BOOKING,
                                                                                  self.booking_id) is None:  # fmt: skip
            room = None
        return dataclasses.replace(facts, rival_rooms=(*facts.rival_rooms, (self.booking_id, room)))
