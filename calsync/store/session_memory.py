"""What this worker instance may remember about a room between two of its hints: ``SessionMemory``.

All hints of a room share one Service Bus session, and one instance holds a session at
a time (DESIGN "Shape"). Another instance can take the room's session only after this
one let it go: after host.json's ``sessionIdleTimeout`` (10 s) without a message for it,
or when its lock was lost, which fails the settlement of the hint in flight. So while a
room's hints follow each other on this instance closer than that, nobody else processed
the room in between, and what this instance last read or wrote for the room is still
what the tables hold. ``SessionMemory`` keeps, per room:

- mapping rows as last read or written (with their ETags), by either side's id
  (calsync.store.mappings): the echo of calsync's own write needs no table read;
- which of the room's items have an open sync problem (calsync.store.problems): the
  resolve after a successful sync deletes only rows that exist.

A room's memory is started afresh when its previous hint ended more than
``SESSION_MEMORY_SECONDS`` ago (below the idle timeout; tests/test_infra_consistency.py
checks it), and forgotten at once when a hint fails or a write raises: a write that
raised may or may not have happened. It is only used inside ``hint(room)``, the
engine's handling of one hint; other callers read and write the tables as before.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from calsync.model.booking import Side
from calsync.model.mapping import MappingRow

SESSION_MEMORY_SECONDS = 5.0
"""How long after a room's hint its memory stays valid: below host.json's sessionIdleTimeout (10 s)."""
MAX_ROWS_PER_ROOM = 4096
"""A room with more remembered rows starts afresh (bounds the memory of a very busy room)."""


@dataclass
class RoomMemory:
    """One room's remembered mapping rows (by side and id) and open problems (None: not read yet)."""

    rows: dict[tuple[Side, str], MappingRow] = field(default_factory=dict)
    problems: set[tuple[Side, str]] | None = None
    running: int = 0  # hints of the room running now (one, under sessions)
    ended: float = 0.0  # monotonic time the last hint of the room ended

    def remember(self, row: MappingRow) -> None:
        if len(self.rows) >= MAX_ROWS_PER_ROOM:
            self.rows.clear()
        for side in Side:
            item_id = row.id_on(side)
            if item_id:
                self.rows[(side, item_id)] = row

    def forget(self, row: MappingRow) -> None:
        for side in Side:
            item_id = row.id_on(side)
            if item_id:
                self.rows.pop((side, item_id), None)


class SessionMemory:
    """Per-room memory, valid only while this instance holds the room's session (see the module docstring)."""

    def __init__(self, seconds: float = SESSION_MEMORY_SECONDS, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.seconds = seconds
        self._monotonic = monotonic
        self._rooms: dict[str, RoomMemory] = {}

    @contextlib.contextmanager
    def hint(self, room: str) -> Iterator[RoomMemory]:
        """The room's memory for the duration of one hint; forgotten if the hint raises."""
        memory = self._rooms.get(room)
        if memory is None or (memory.running == 0 and self._monotonic() - memory.ended > self.seconds):
            memory = self._rooms[room] = RoomMemory()
        memory.running += 1
        try:
            yield memory
        except BaseException:
            self.forget(room)
            raise
        finally:
            memory.running -= 1
            memory.ended = self._monotonic()

    def active(self, room: str) -> RoomMemory | None:
        """The room's memory while one of its hints runs, else None."""
        memory = self._rooms.get(room)
        return memory if memory is not None and memory.running else None

    def recent(self, room: str) -> RoomMemory | None:
        """The room's memory while a hint runs or just after it ended (its message not settled yet)."""
        memory = self._rooms.get(room)
        if memory is None or not (memory.running or self._monotonic() - memory.ended <= self.seconds):
            return None
        return memory

    def forget(self, room: str) -> None:
        """Drop everything remembered about the room (a failed hint, a write whose outcome is unknown)."""
        self._rooms.pop(room, None)
