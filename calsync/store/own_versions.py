"""The item versions calsync wrote in this process: ``OwnVersions``, so their echoes stop at the webhook.

Every write calsync makes comes back as a notification: Graph's change notification for
the event it wrote, the booking system's webhook for the booking. Both carry the version
the write produced (Graph's resourceData ``@odata.etag``, the webhook's ``version``), and
the engine drops such a hint when the mapping holds that version (``SkipEcho``, "the
hint names the version calsync last wrote or saw"). Versions are never reused: an
item's version changes with every change of the item, so a notification that names a
version calsync wrote describes exactly what calsync wrote, and any later change comes
with a notification of its own.

``OwnVersions`` records, per room, side and item, the versions the mapping rows this
process wrote hold (the version the side answered calsync's write with, and the version
of the source it read), and the webhooks ask it first: a created/updated notification naming a
recorded version is acknowledged with no hint (no replay-guard insert, no queue
message, no engine pass). Not for series, whose exceptions change without a new version
of their master, nor deletions, which name the last version: exactly where the engine's
own version check stops too.

A notification can overtake the answer to the write that caused it (a booking system
may send its webhook before its HTTP answer arrives). While a write to an item, or a
create in a room, is in flight with its mapping's save, ``is_echo`` waits for it (at most
``WAIT_SECONDS``, well inside the 3 s Graph allows a webhook) and then looks again. A
write whose mapping save failed records nothing: its echo is queued, and the engine
rebuilds the mapping from it as it always did. A booking system that sent its
webhook before answering the write, and waited for the webhook's answer, would so wait
``WAIT_SECONDS`` per write at most; the devstack's sends from a thread of its own, as a
webhook sender should.

It is an optimisation only: in Azure the notification may reach another instance, which
enqueues it and the engine drops it there, as before. Bounded: the
oldest entries go first past ``MAX_ENTRIES``, each kept as a 16-byte digest.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import OrderedDict
from collections.abc import Iterator

from calsync.model.booking import Side
from calsync.model.mapping import MappingRow, bare_version

MAX_ENTRIES = 65_536
"""About 6 MiB at most: enough for a backfill's 20,000 items in flight (two versions each)."""
WAIT_SECONDS = 1.0
"""How long a webhook waits for calsync's write in flight to the item it names (Graph wants an answer in 3 s)."""

_Pending = tuple[str, Side, str | None]  # room, side, item (None: a create, whose id is not known yet)


def _key(room: str, side: Side, item_id: str, version: str) -> bytes:
    text = "\x1f".join((room, side.value, item_id, bare_version(version)))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class OwnVersions:
    """The (room, side, item, version) calsync wrote in this process (see the module docstring)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, wait_seconds: float = WAIT_SECONDS) -> None:
        self._keys: OrderedDict[bytes, None] = OrderedDict()
        self._max = max_entries
        self._wait = wait_seconds
        self._pending: dict[_Pending, list[asyncio.Event]] = {}

    def _add(self, room: str, side: Side, item_id: str, version: str) -> None:
        key = _key(room, side, item_id, version)
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self._max:
            self._keys.popitem(last=False)

    def record(self, row: MappingRow) -> None:
        """A mapping row was written: both sides' versions it holds (not a series')."""
        if row.series:
            return
        for side in Side:
            item_id, version = row.id_on(side), row.version_on(side)
            if item_id and version:
                self._add(row.room, side, item_id, version)

    @contextlib.contextmanager
    def writing(self, room: str, side: Side, item_id: str | None) -> Iterator[None]:
        """A write to ``item_id`` (None: a create) is in flight: webhooks for it wait until it ends."""
        done = asyncio.Event()
        key = (room, side, item_id)
        self._pending.setdefault(key, []).append(done)
        try:
            yield
        finally:
            done.set()
            waiting = self._pending.get(key, [])
            if done in waiting:
                waiting.remove(done)
            if not waiting:
                self._pending.pop(key, None)

    def holds(self, room: str, side: Side, item_id: str, version: str | None) -> bool:
        """Whether calsync wrote ``item_id`` at ``version`` in this process (recorded already)."""
        return bool(version) and _key(room, side, item_id, version) in self._keys  # type: ignore[arg-type]

    async def is_echo(self, room: str, side: Side, item_id: str, version: str | None) -> bool:
        """``holds``, after waiting (bounded) for calsync's writes in flight to this item or creates in this room."""
        if not version:
            return False
        if self.holds(room, side, item_id, version):
            return True
        in_flight = [event for key in ((room, side, item_id), (room, side, None))
                     for event in self._pending.get(key, ())]  # fmt: skip
        if not in_flight:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(event.wait() for event in in_flight)), self._wait)
        return self.holds(room, side, item_id, version)

    def __len__(self) -> int:
        return len(self._keys)
