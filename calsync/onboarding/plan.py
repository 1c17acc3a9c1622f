"""A room's onboarding plan (pure): what each listed item becomes, the dry run's rows, and what changed since.

``plan_room`` sorts every item both sides list in the sync window into one of:
``pair`` (a mapping is written, nothing else), ``copy-to-booking`` / ``copy-to-outlook``
(created through the engine when the plan is applied), ``conflict`` (reported, left
alone) and ``skipped`` (already mapped, a calsync copy, cancelled or declined, or
outside the sync window). ``RoomPlan.actions()`` is what applying does, in order;
the apply records what it did in the same shape, so a test compares the two.

A plan carries every item's version (Graph changeKey, booking ETag). ``changed_since``
compares a stored plan with a fresh one and names each item that appeared, vanished
or changed: apply refuses to run a plan that no longer describes the calendars.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from calsync.model import Side
from calsync.model.mapping import MappingRow
from calsync.onboarding.pairing import pair_items
from calsync.sync.state import ItemState

PAIR, TO_BOOKING, TO_OUTLOOK, CONFLICT, SKIPPED = "pair", "copy-to-booking", "copy-to-outlook", "conflict", "skipped"
Action = tuple[str, str | None, str | None]  # (kind, Outlook id, booking id)


@dataclass(frozen=True)
class PlanRow:
    """One line of the dry run's report."""

    kind: str
    outlook_id: str | None = None
    booking_id: str | None = None
    subject: str = ""
    start: str = ""
    end: str = ""
    recurring: bool = False
    origin: str = ""  # pairs: the side whose item was created first
    reason: str = ""


@dataclass(frozen=True)
class RoomPlan:
    room: str
    made_at: dt.datetime
    window: tuple[dt.datetime, dt.datetime]
    rows: tuple[PlanRow, ...]
    versions: dict[str, str | None] = field(default_factory=dict)  # "outlook:<id>" / "booking:<id>" -> version

    def of(self, kind: str) -> list[PlanRow]:
        return [row for row in self.rows if row.kind == kind]

    def counts(self) -> dict[str, int]:
        return {kind: len(self.of(kind)) for kind in (PAIR, TO_BOOKING, TO_OUTLOOK, CONFLICT, SKIPPED)}

    def actions(self) -> list[Action]:
        """What applying does, in order: the pairs' mappings, then the copies (Outlook items first)."""
        return [(row.kind, row.outlook_id, row.booking_id) for kind in (PAIR, TO_BOOKING, TO_OUTLOOK)
                for row in self.of(kind)]  # fmt: skip

    def to_json(self) -> str:
        return json.dumps({"room": self.room, "made_at": self.made_at.isoformat(),
                           "window": [moment.isoformat() for moment in self.window], "counts": self.counts(),
                           "rows": [asdict(row) for row in self.rows], "versions": self.versions})  # fmt: skip

    @classmethod
    def from_json(cls, text: str | bytes) -> RoomPlan:
        data = json.loads(text)
        start, end = (dt.datetime.fromisoformat(moment) for moment in data["window"])
        return cls(room=data["room"], made_at=dt.datetime.fromisoformat(data["made_at"]), window=(start, end),
                   rows=tuple(PlanRow(**row) for row in data["rows"]), versions=data["versions"])  # fmt: skip


def _key(item: ItemState) -> str:
    return f"{item.side.value}:{item.item_id}"


def _describe(item: ItemState, private_subject: str) -> dict[str, object]:
    booking = item.booking
    if booking is None:
        return {}
    start, end = (booking.start, booking.end) if booking.all_day else booking.interval_utc()
    subject = private_subject if booking.sensitivity.hides_subject else booking.subject
    return {"subject": subject, "start": start.isoformat(), "end": end.isoformat(),
            "recurring": booking.recurrence is not None}  # fmt: skip


def _skip_reason(item: ItemState, mapped: set[str], window: tuple[dt.datetime, dt.datetime]) -> str | None:
    if item.booking is None:
        return "gone while listing"
    if item.item_id in mapped:
        return "already mapped"
    if item.stamp:
        return f"a calsync copy of {item.stamp} (the engine re-links it)"
    if item.booking.is_cancelled:
        return "cancelled or declined: holds no room"
    if item.booking.recurrence is None:
        start, end = item.booking.interval_utc()
        if end <= window[0] or start >= window[1]:
            return "outside the sync window"
    return None


def plan_room(room: str, outlook: Sequence[ItemState], booking: Sequence[ItemState], mappings: Sequence[MappingRow],
              *, window: tuple[dt.datetime, dt.datetime], now: dt.datetime,
              private_subject: str = "Private booking") -> RoomPlan:  # fmt: skip
    """The onboarding plan of one room from both sides' listings (with content) and its mapping rows."""
    mapped = {m.outlook_id for m in mappings if m.outlook_id} | {m.booking_id for m in mappings if m.booking_id}
    rows: list[PlanRow] = []
    live: dict[Side, list[ItemState]] = {Side.OUTLOOK: [], Side.BOOKING: []}
    for item in [*outlook, *booking]:
        why = _skip_reason(item, mapped, window)
        if why is None:
            live[item.side].append(item)
            continue
        ids = {"outlook_id": item.item_id} if item.side is Side.OUTLOOK else {"booking_id": item.item_id}
        rows.append(PlanRow(SKIPPED, **ids, **_describe(item, private_subject), reason=why))  # type: ignore[arg-type]
    pairing = pair_items(live[Side.OUTLOOK], live[Side.BOOKING], window)
    for pair in pairing.pairs:
        rows.append(PlanRow(PAIR, pair.outlook.item_id, pair.booking.item_id, origin=pair.origin.value,
                            reason=pair.reason, **_describe(pair.outlook, private_subject)))  # type: ignore[arg-type]
    for item in pairing.copies_to_booking:
        rows.append(PlanRow(TO_BOOKING, item.item_id, None, reason="only in Outlook",
                            **_describe(item, private_subject)))  # type: ignore[arg-type]
    for item in pairing.copies_to_outlook:
        rows.append(PlanRow(TO_OUTLOOK, None, item.item_id, reason="only in the booking system",
                            **_describe(item, private_subject)))  # type: ignore[arg-type]
    for clash in pairing.conflicts:
        rows.append(PlanRow(CONFLICT, clash.outlook.item_id, clash.booking.item_id, reason=clash.reason + "; left "
                            "for a person to decide", **_describe(clash.outlook, private_subject)))  # type: ignore[arg-type]
    versions = {_key(item): item.version for item in [*outlook, *booking]}
    return RoomPlan(room=room, made_at=now, window=window, rows=tuple(rows), versions=versions)


def changed_since(planned: RoomPlan, now: RoomPlan) -> list[str]:
    """What differs between a stored plan and a fresh one: items added, removed or changed, and decisions."""
    changes: list[str] = []
    for key in sorted(planned.versions.keys() | now.versions.keys()):
        side, item_id = key.split(":", 1)
        where = "Outlook" if side == Side.OUTLOOK.value else "the booking system"
        if key not in now.versions:
            changes.append(f"{where}: {item_id} is gone")
        elif key not in planned.versions:
            changes.append(f"{where}: {item_id} is new")
        elif planned.versions[key] != now.versions[key]:
            changes.append(f"{where}: {item_id} changed (version {planned.versions[key]} -> {now.versions[key]})")
    if not changes and planned.actions() != now.actions():
        changes.append("the same items now plan differently (mappings changed meanwhile)")
    return changes
