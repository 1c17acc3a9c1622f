"""A room's listings as the answers to the decision's reads: backfill decides each item from what it listed.

The engine answers each read of ``calsync.sync.plan.decide`` with a request: the source
(a Graph GET or a booking GET), its mapping (one or two table reads), the stamped copy
(a Graph query by extended property), the booking system's items around the source (a
listing). Backfill has listed the whole room already: both sides in the sync window with
content (Outlook's reads sent as JSON batches) and the room's mapping rows (one query).
``RoomListing.answer`` answers those reads from the listing, so deciding an item costs
no request to either side; the decision itself is the engine's own (``decide``), unchanged.
What is still read per item is Table Storage's: the room's hold (cached briefly by the
hold store) and, for a booking with no mapping in the room, the cross-room index of room
moves (``ReadBookingRoom``: was it mapped in another room?).

What a listing answers, and why it is the same answer:

- ``ReadSource``: the listed item (the listing reads each item as ``read`` does);
- ``ReadMapping``: the room's mapping rows, by either side's id;
- ``FindCopy``: the listed item of that side stamped with the source's id, or none. The
  copy of an item in the window is in the window (it has the same times); one moved out
  of it is not seen, and the create's idempotency key (transactionId) still finds it;
- ``ListAround``: the listed items whose interval meets the span (series always; the
  decision's overlap rule expands them);
- ``ReadStamped`` / ``ReadOrigin`` / ``ReadRivalOrigin``: the listed item with that id.

Anything else (the hold, the guard's counts, the cross-room index), and any item the listing does not hold, is
read as the engine reads it. Copies and mappings that backfill writes are added
(``add_copy``, ``add_mapping``), so later decisions of the room see them as the engine
would. In service-mailbox mode copies are found through the service mailbox, which the
room's listing does not show: ``FindCopy`` is then left to the real read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from calsync.model import Side
from calsync.model.mapping import MappingRow
from calsync.sync import reads
from calsync.sync.state import Facts, ItemState


def meets(item: ItemState, start: dt.datetime, end: dt.datetime) -> bool:
    """Whether a listed item can overlap [start, end): a series always may, a single item by its interval."""
    if item.booking is None:
        return False
    if item.booking.recurrence is not None:
        return True
    first, last = item.booking.interval_utc()
    return first < end and start < last


@dataclass
class RoomListing:
    """Both sides' items of one room (with content) and its mapping rows, indexed for the decision's reads."""

    room: str
    items: dict[tuple[Side, str], ItemState] = field(default_factory=dict)
    mappings: dict[tuple[Side, str], MappingRow] = field(default_factory=dict)
    stamped: dict[tuple[Side, str], ItemState] = field(default_factory=dict)  # (side, the original's id) -> copy
    finds_copies: bool = True  # False in service-mailbox mode (see the module docstring)

    @classmethod
    def of(cls, room: str, items: Iterable[ItemState], rows: Iterable[MappingRow], *,
           finds_copies: bool = True) -> RoomListing:  # fmt: skip
        listing = cls(room, finds_copies=finds_copies)
        for item in items:
            listing.add_copy(item)
        for row in rows:
            listing.add_mapping(row)
        return listing

    def item(self, side: Side, item_id: str) -> ItemState | None:
        return self.items.get((side, item_id))

    def add_copy(self, item: ItemState) -> None:
        """A listed item, or a copy backfill just created."""
        self.items[(item.side, item.item_id)] = item
        if item.stamp and item.exists:
            self.stamped.setdefault((item.side, item.stamp), item)

    def add_mapping(self, row: MappingRow) -> None:
        for side in (Side.OUTLOOK, Side.BOOKING):
            item_id = row.id_on(side)
            if item_id:
                self.mappings[(side, item_id)] = row

    def answer(self, step: reads.Read, facts: Facts) -> Facts | None:
        """``facts`` with the read answered from the listing, or None when it must really be read."""
        if isinstance(step, reads.ReadSource):
            source = self.item(step.side, step.item_id)
            return None if source is None else dataclasses.replace(facts, source=source)
        if isinstance(step, reads.ReadMapping):
            return dataclasses.replace(facts, mapping=self.mappings.get((step.side, step.item_id)), mapping_read=True)
        if isinstance(step, reads.FindCopy):
            if not self.finds_copies:
                return None
            return dataclasses.replace(facts, found=self.stamped.get((step.side, step.source_id)), looked_up=True)
        if isinstance(step, reads.ListAround):
            around = tuple(item for (side, _), item in self.items.items()
                           if side is step.side and meets(item, step.start, step.end))  # fmt: skip
            return dataclasses.replace(facts, listing=around)
        if isinstance(step, reads.ReadStamped):
            item = self.item(step.side, step.item_id)
            if item is None:
                return None
            mapping = self.mappings.get((step.side, step.item_id)) if item.exists else None
            return dataclasses.replace(facts, found=item, found_mapping=mapping, looked_up=True)
        if isinstance(step, reads.ReadOrigin | reads.ReadRivalOrigin):
            item = self.item(step.side, step.item_id)
            return None if item is None else step._keep(facts, item)
        return None
