"""Onboarding one room: list both sides, plan (the dry run), and apply exactly the stored plan.

``Onboarding`` works over the process's Services (calsync.wiring): in Azure inside the
onboarding job (calsync.onboarding.job, the app's managed identity), locally inside the
`calsync onboard` command. Reads: the Outlook side's window listing with content (JSON
batches), the booking side's listing, the room's mapping rows.

``apply`` re-plans first and refuses when anything differs from the stored plan
(``OnboardingRefused`` names each change). Then: the room becomes ``onboarding``; each
pair becomes a mapping row and nothing else is written (both sides' hashes and versions,
so the engine sees both as unchanged; ``origin`` is the side created first), the rows
written per transaction (``MappingStore.create_many``); each copy goes through the
engine's decision with a ``backfill`` hint, which the room gate admits while onboarding,
as backfill runs it (``RoomBackfill``, calsync.maintenance.room_backfill: the reads
answered from the listing just read, the creates sent together, their mappings per
transaction, anything else through ``SyncEngine.handle``), so it carries the idempotency
key and stamp of any other copy; conflicts are written to the room's ``held_items`` and
left alone; at last the room becomes ``live``. The applied actions are returned in the plan's shape
(``RoomPlan.actions()``), so a caller can check that what ran is what was planned.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from calsync.errors import CalsyncError, ConcurrencyError, ValidationError
from calsync.maintenance.room_backfill import Report, RoomBackfill
from calsync.model import ChangeHint, HintReason, Side
from calsync.model.mapping import MappingRow, mapping_id_for
from calsync.onboarding.plan import CONFLICT, PAIR, TO_BOOKING, TO_OUTLOOK, Action, RoomPlan, changed_since, plan_room
from calsync.rooms.state import RoomState
from calsync.store.mappings import MappingStore
from calsync.store.onboarding import OnboardingProgress, OnboardingStore
from calsync.store.rooms import RoomRecord
from calsync.sync.state import ItemState

if TYPE_CHECKING:
    from calsync.wiring import Services

log = logging.getLogger(__name__)

Progress = Callable[[OnboardingProgress], None]


class OnboardingRefused(ValidationError):
    """The calendars changed since the dry run (or there was none): apply would not do what was planned."""


@dataclass(frozen=True)
class Failed:
    """A copy that was not made, and why."""

    why: str


PROGRESS_EVERY = 20  # items between two stored progress rows while applying


@dataclass
class Applied:
    room: str
    actions: list[Action] = field(default_factory=list)  # in the plan's shape
    created: dict[str, str] = field(default_factory=dict)  # source id -> the copy's id
    errors: list[str] = field(default_factory=list)


class Onboarding:
    def __init__(self, services: Services, *, on_progress: Progress | None = None) -> None:
        self.services = services
        self.store = OnboardingStore(services.tables)
        self.mappings = MappingStore(services.tables)
        self.on_progress = on_progress

    async def _progress(self, room: str, step: str, *, request_id: str = "", done: int = 0, total: int = 0,
                        message: str = "") -> None:  # fmt: skip
        row = OnboardingProgress(room=room, request_id=request_id, step=step, done=done, total=total,
                                 message=message, updated_at=self.services.clock())  # fmt: skip
        await self.store.set_progress(row)
        if self.on_progress is not None:
            self.on_progress(row)

    async def listing(self, record: RoomRecord) -> tuple[list[ItemState], list[ItemState], list[MappingRow]]:
        """Both sides' items in the sync window (with content) and the room's mappings."""
        room = record.room
        start, end = self.services.window.bounds()
        outlook = await self.services.outlook.list_window(room, start, end, content=True)
        booking = await self.services.sides[Side.BOOKING].list_window(room, start, end)
        return outlook, booking, await self.mappings.list_room(room.key)

    async def plan_now(self, record: RoomRecord) -> RoomPlan:
        outlook, booking, rows = await self.listing(record)
        return plan_room(record.key, outlook, booking, rows, window=self.services.window.bounds(),
                         now=self.services.clock(), private_subject=self.services.settings.private_subject)  # fmt: skip

    async def dry_run(self, key: str, *, request_id: str = "") -> RoomPlan:
        """Plan the room and store the plan (the only write: the Onboarding table). Nothing else is written."""
        record = await self.services.rooms.require(key, fresh=True)
        await self._progress(key, "planning", request_id=request_id)
        plan = await self.plan_now(record)
        await self.store.save_plan(key, plan.to_json())
        counts = plan.counts()
        await self._progress(key, "planned", request_id=request_id, total=len(plan.actions()),
                             message=", ".join(f"{n} {kind}" for kind, n in counts.items()))  # fmt: skip
        return plan

    async def stored_plan(self, key: str) -> RoomPlan | None:
        text = await self.store.load_plan(key)
        return None if text is None else RoomPlan.from_json(text)

    async def apply(self, key: str, *, request_id: str = "") -> Applied:
        """Apply the room's stored plan exactly; OnboardingRefused when there is none or the calendars changed."""
        directory = self.services.rooms
        record = await directory.require(key, fresh=True)
        if record.state not in (RoomState.PENDING, RoomState.ONBOARDING):
            raise OnboardingRefused(f"room {key} is {record.state.value}; only a pending room is onboarded", room=key)
        planned = await self.stored_plan(key)
        if planned is None:
            await self._progress(key, "refused", request_id=request_id, message="no dry run")
            raise OnboardingRefused(f"room {key} has no dry run: run `calsync onboard {key} --dry-run` first",
                                    room=key)  # fmt: skip
        outlook, booking, rows = await self.listing(record)
        fresh = plan_room(key, outlook, booking, rows, window=planned.window, now=self.services.clock(),
                          private_subject=self.services.settings.private_subject)  # fmt: skip
        changes = changed_since(planned, fresh)
        if changes:
            message = "; ".join(changes[:20])
            await self._progress(key, "refused", request_id=request_id, message=message)
            raise OnboardingRefused(f"room {key} changed since the dry run of {planned.made_at:%Y-%m-%d %H:%M} UTC: "
                                    f"{message}. Run the dry run again and read it.", room=key)  # fmt: skip
        held = tuple(sorted({i for row in planned.of(CONFLICT) for i in (row.outlook_id, row.booking_id) if i}))
        await directory.set_state(key, RoomState.ONBOARDING, note="onboarding")
        record = await directory.put((await directory.require(key, fresh=True)).model_copy(
            update={"held_items": held}))  # fmt: skip
        items = {(item.side, item.item_id): item for item in [*outlook, *booking]}
        applied = Applied(key)
        actions = planned.actions()
        total = len(actions)
        try:
            pairs = [(items[(Side.OUTLOOK, o)], items[(Side.BOOKING, b)]) for kind, o, b in actions
                     if kind == PAIR and o and b]  # fmt: skip
            paired = await self._pairs(record, pairs)
            await self._progress(key, "applying", request_id=request_id, done=len(pairs), total=total)
            copies = [(kind, o, b) for kind, o, b in actions if kind != PAIR]
            results = await self._copies(record, copies, [*outlook, *booking], [*rows, *paired],
                                         progress=lambda done: self._progress(key, "applying", request_id=request_id,
                                                                              done=len(pairs) + done, total=total))  # fmt: skip
        except CalsyncError as exc:
            await directory.set_state(key, RoomState.PENDING, note=f"onboarding failed: {exc}", force=True)
            await self._progress(key, "failed", request_id=request_id, message=str(exc))
            raise
        for kind, outlook_id, booking_id in actions:  # what ran, in the plan's shape and order
            if kind != PAIR:
                source_id = outlook_id or booking_id or ""
                created = results.get(source_id, Failed("no report of its copy"))
                if isinstance(created, Failed):
                    applied.errors.append(f"{kind} {source_id}: {created.why}")
                    continue
                applied.created[source_id] = created
            applied.actions.append((kind, outlook_id, booking_id))
        counts = planned.counts()
        note = (f"onboarded {self.services.clock():%Y-%m-%d}: {counts[PAIR]} paired, {counts[TO_BOOKING]} + "
                f"{counts[TO_OUTLOOK]} copied, {counts[CONFLICT]} conflict(s) held")  # fmt: skip
        if applied.errors:
            await directory.set_state(key, RoomState.PENDING, note="onboarding incomplete: " + "; ".join(applied.errors),
                                      force=True)  # fmt: skip
            await self._progress(key, "failed", request_id=request_id, done=total, total=total,
                                 message="; ".join(applied.errors))  # fmt: skip
            return applied
        await directory.set_state(key, RoomState.LIVE, note=note)
        await self._progress(key, "live", request_id=request_id, done=total, total=total, message=note)
        return applied

    def _pair_row(self, record: RoomRecord, outlook: ItemState, booking: ItemState) -> MappingRow:
        """The mapping row of two items that are one reservation: nothing is written on either side."""
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        origin = Side.BOOKING if (booking.created_at or far) < (outlook.created_at or far) else Side.OUTLOOK
        origin_id = outlook.item_id if origin is Side.OUTLOOK else booking.item_id
        now = self.services.clock()
        return MappingRow(
            room=record.key, mapping_id=mapping_id_for(origin, origin_id), origin=origin,
            outlook_id=outlook.item_id, booking_id=booking.item_id,
            outlook_hash=outlook.content_hash, booking_hash=booking.content_hash,
            outlook_version=outlook.version, booking_version=booking.version,
            series=bool(outlook.booking and outlook.booking.recurrence), created_at=now, updated_at=now,
        )  # fmt: skip

    async def _pairs(self, record: RoomRecord, pairs: list[tuple[ItemState, ItemState]]) -> list[MappingRow]:
        """The pairs' mapping rows, written per transaction (MappingStore.create_many); the rows as stored."""
        rows = [self._pair_row(record, outlook, booking) for outlook, booking in pairs]
        stored: list[MappingRow] = []
        for row, result in zip(rows, await self.mappings.create_many(rows), strict=True):
            if isinstance(result, ConcurrencyError):
                existing = await self.mappings.get(record.key, row.mapping_id)
                if existing is None or (existing.outlook_id, existing.booking_id) != (row.outlook_id, row.booking_id):
                    raise result
                result = existing  # a retried apply: the pair's mapping is already there
            elif isinstance(result, CalsyncError):
                raise result
            stored.append(result)
        return stored

    async def _copies(self, record: RoomRecord, copies: list[Action], listed: list[ItemState], rows: list[MappingRow],
                      *, progress: Callable[[int], Awaitable[None]]) -> dict[str, str | Failed]:  # fmt: skip
        """Each copy through the engine's decision (RoomBackfill): source id -> the copy's id, or why not.

        The room's listing just read is the decision's listing (no read per item); the creates go
        out together and their mappings per transaction, as in backfill. Progress is stored every
        PROGRESS_EVERY items (the CLI polls it every two seconds), and at the end.
        """
        if not copies:
            return {}
        engine = self.services.engine

        room = RoomBackfill(engine, record.room)
        await room.start(listed, rows)
        results: dict[str, str | Failed] = {}
        stored = 0

        async def collect(reports: list[Report]) -> None:
            nonlocal stored
            for report in reports:
                source, item_id = report.hint.source, report.hint.item_id
                if report.action in ("create", "adopt") and report.copy_id:
                    results[item_id] = report.copy_id
                else:
                    why = report.error or f"the engine did not create it ({report.action})"
                    log.warning("onboarding room %s: %s %s not copied: %s", record.key, source.value, item_id, why)
                    results[item_id] = Failed(why)
            if len(results) - stored >= PROGRESS_EVERY:
                stored = len(results)
                await progress(stored)

        for kind, outlook_id, booking_id in copies:
            source = Side.OUTLOOK if kind == TO_BOOKING else Side.BOOKING
            hint = ChangeHint(source=source, room=record.key, item_id=outlook_id or booking_id or "",
                              reason=HintReason.BACKFILL, observed_at=self.services.clock())  # fmt: skip
            await collect(await room.offer(hint))
        await collect(await room.flush())
        return results
