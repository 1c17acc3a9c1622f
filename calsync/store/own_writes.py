"""The items this process wrote outside a room's hints, at which version, their mapping saved: ``OwnWrites``.

Backfill and onboarding (calsync.maintenance.room_backfill) create a room's copies in
bulk and save their mappings in bulk (``MappingStore.create_many``), outside any hint of
the room, so the room's session memory (calsync.store.session_memory) does not hold
those rows. Each copy's own notification (Graph's resourceData ``@odata.etag``, the
booking webhook's ``version``) then arrives as a hint naming the version calsync wrote:
the echo of calsync's own write. Without a record of it, every echo read its source and
its mapping (three table reads: a copy's mapping is its original's row) only to drop it.
``OwnWrites`` keeps, per (room, side, item id), the version calsync wrote and the
identity of the mapping it saved with it; ``echo(...)`` answers that mapping for a hint
naming exactly that version, and the decision (calsync.sync.plan) skips it as the echo
it is, with no read at all (calsync.sync.reads.ReadHintedMapping).

Why this may answer where the session memory may not. The session memory claims that a
row is what the table holds now, which is true only while this instance holds the room's
Service Bus session. ``OwnWrites`` claims a fact that stays true on every instance:
calsync wrote this item at exactly this version and saved its mapping. A notification
naming that version tells of that write and of nothing later (a later change carries a
later version and is a hint of its own), so dropping it as an echo is right whatever
happened since. Hence it answers only:

- for the exact version written (another version: the source and the table are read);
- for a non-series item (a series' exceptions change without a new version of its
  master; the decision never skips those by version);
- for created and updated hints (the decision asks only for those: a deletion names
  the last version).

The row it answers is the saved mapping's identity and the version (no hashes, no
ETag): the decision only compares its version, and a row without an ETag cannot guard
a write. It is process-local and bounded: a miss (another instance, a restart, an entry
pushed out by newer ones) costs what it cost before, the normal path. An entry is
dropped once its echo was recognised, so what it holds is the echoes still on their way.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from typing import NamedTuple

from calsync.model.booking import Side
from calsync.model.mapping import MappingRow

MAX_OWN_WRITES = 25_000
"""Writes remembered at most (about 0.6 KiB each with their ids): a backfill's copies of 200 rooms x 100 items."""


def bare_version(version: str) -> str:
    """An item's version as an ETag (W/"x", "x") or bare (x), without the ETag's quoting: comparable."""
    version = version.removeprefix("W/")
    return version[1:-1] if len(version) >= 2 and version[0] == version[-1] == '"' else version


class _Written(NamedTuple):
    version: str  # bare
    mapping_id: str
    origin: Side
    other_id: str | None  # the item's counterpart on the other side
    saved_at: dt.datetime


class OwnWrites:
    """See the module docstring: ``record`` after a mapping was saved, ``echo`` when a hint arrives."""

    def __init__(self, limit: int = MAX_OWN_WRITES) -> None:
        self.limit = limit
        self._written: OrderedDict[tuple[str, Side, str], _Written] = OrderedDict()

    def __len__(self) -> int:
        return len(self._written)

    def record(self, row: MappingRow, side: Side) -> None:
        """calsync wrote ``row``'s item on ``side`` at the version the saved ``row`` names."""
        item_id, version = row.id_on(side), row.version_on(side)
        if row.series or not item_id or not version:
            return  # a series is never skipped by version; without a version there is nothing to recognise
        key = (row.room, side, item_id)
        self._written.pop(key, None)
        self._written[key] = _Written(bare_version(version), row.mapping_id, row.origin, row.id_on(side.other),
                                      row.updated_at)  # fmt: skip
        while len(self._written) > self.limit:
            self._written.popitem(last=False)  # the oldest write: its echo is long past, or goes the normal way

    def echo(self, room: str, side: Side, item_id: str, version: str | None) -> MappingRow | None:
        """The mapping saved with the write of this item at exactly ``version``, or None (see the module docstring).

        A hit is forgotten: one write, one echo; a duplicate delivery takes the normal path.
        """
        if not version:
            return None
        key = (room, side, item_id)
        written = self._written.get(key)
        if written is None or written.version != bare_version(version):
            return None
        del self._written[key]
        ids = {"outlook_id": item_id, "booking_id": written.other_id} if side is Side.OUTLOOK else \
            {"outlook_id": written.other_id, "booking_id": item_id}  # fmt: skip
        return MappingRow(room=room, mapping_id=written.mapping_id, origin=written.origin,
                          **{f"{side.value}_version": version}, created_at=written.saved_at,
                          updated_at=written.saved_at, **ids)  # fmt: skip

    def forget(self, room: str) -> None:
        """Drop what is remembered of the room (tests; an operator resetting a room)."""
        for key in [key for key in self._written if key[0] == room]:
            del self._written[key]
