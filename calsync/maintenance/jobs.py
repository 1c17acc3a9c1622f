"""The maintenance timer's run, and the handling of one MaintenanceJob from the "reconcile" queue.

``run_maintenance`` (timer ``maintenance``, every 15 minutes): keep every room's Graph
subscription alive, sweep the booking system's change feed once, then fan out one
MaintenanceJob(kind=reconcile) per room onto the "reconcile" queue, so rooms
reconcile in parallel on other instances and the timer invocation stays short.
When the feed cursor was lost, the jobs ask for a full compare.

``handle_job`` (queue trigger ``reconcile_room``): reconcile -> the room's reconcile;
reauthorize -> reauthorize its subscription; resubscribe (Graph's
subscriptionRemoved) -> recreate the subscription, then reconcile the room, since
notifications may have been lost in between. A failing job raises, so Service Bus
retries and finally dead-letters it.

``MaintenanceService`` holds what both need; ``calsync.wiring.Services.maintenance``
builds it over the process's one Graph adapter, booking client, tables and clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from calsync.booking.protocol import BookingSystem
from calsync.errors import TransientError
from calsync.maintenance.reconcile import FeedReport, Reconciler, ReconcileReport
from calsync.maintenance.subscriptions import Clock, SubscriptionKeeper, SubscriptionResult
from calsync.model.job import JobKind, MaintenanceJob
from calsync.queues.publisher import HintPublisher, job_message
from calsync.rooms.directory import RoomDirectory
from calsync.rooms.gate import admit_job, rooms_to_reconcile
from calsync.settings import Room, Settings
from calsync.store.client import TableStore
from calsync.store.records import SubscriptionStore

if TYPE_CHECKING:
    from calsync.outlook.graph_client import GraphCalendar
    from calsync.sync.outlook_side import OutlookSide
    from calsync.sync.window import SyncWindow

log = logging.getLogger(__name__)


@dataclass
class MaintenanceService:
    """Subscriptions and reconciliation over one Graph adapter, booking client, table store and publisher."""

    settings: Settings
    keeper: SubscriptionKeeper
    reconciler: Reconciler
    publisher: HintPublisher
    clock: Clock
    rooms: RoomDirectory
    onboard: Callable[[MaintenanceJob], Awaitable[None]] | None = None  # the worker runtime sets it (calsync.onboarding.job)

    @classmethod
    def build(cls, settings: Settings, graph: GraphCalendar, outlook: OutlookSide, booking: BookingSystem,
              tables: TableStore, publisher: HintPublisher, *, clock: Clock,
              window: SyncWindow, rooms: RoomDirectory | None = None) -> MaintenanceService:  # fmt: skip
        directory = rooms or RoomDirectory(None, settings.rooms)
        keeper = SubscriptionKeeper(settings, graph, SubscriptionStore(tables), clock=clock)
        reconciler = Reconciler(settings, outlook, booking, tables, publisher, clock=clock, window=window)
        keeper.rooms = reconciler.rooms = directory
        return cls(settings, keeper, reconciler, publisher, clock, directory)

    async def room(self, key: str, *, reconcile: bool = False) -> Room | None:
        """The known room with this key; for a reconcile only when it is live (calsync.rooms.gate)."""
        return await admit_job(self.rooms, key, reconcile=reconcile)


@dataclass(frozen=True)
class MaintenanceRun:
    """What one timer run did."""

    subscriptions: list[SubscriptionResult]
    feed: FeedReport
    jobs: list[MaintenanceJob]


async def run_maintenance(service: MaintenanceService) -> MaintenanceRun:
    """Subscriptions kept, the booking feed swept, one reconcile job per room enqueued."""
    subscriptions = await service.keeper.ensure_all()
    feed = await service.reconciler.sweep_booking_feed()
    now = service.clock()
    jobs = [MaintenanceJob(kind=JobKind.RECONCILE, room=room.key, full=feed.full_pass_needed, requested_at=now)
            for room in await rooms_to_reconcile(service.rooms)]  # fmt: skip
    messages = [job_message(job.model_dump_json(), message_id=job.message_id, kind=job.kind.value) for job in jobs]
    await service.publisher.send(messages, queue=service.settings.reconcile_queue)  # one batch for every room
    failed = [r.room for r in subscriptions if r.error]
    log.info("maintenance: %d subscription(s) kept (%d failed), %d feed hint(s), %d reconcile job(s)",
             len(subscriptions), len(failed), feed.hints, len(jobs))  # fmt: skip
    return MaintenanceRun(subscriptions, feed, jobs)


async def publish_job(service: MaintenanceService, job: MaintenanceJob) -> None:
    await service.publisher.publish_job(job.model_dump_json(), queue=service.settings.reconcile_queue,
                                        message_id=job.message_id, kind=job.kind.value)  # fmt: skip


@dataclass(frozen=True)
class JobResult:
    job: MaintenanceJob
    subscription: SubscriptionResult | None = None
    reconcile: ReconcileReport | None = None


async def handle_job(job: MaintenanceJob, service: MaintenanceService) -> JobResult:
    """Do what the job asks for its room (see the module docstring); raises when it failed."""
    if job.kind is JobKind.ONBOARD:
        if service.onboard is None:
            raise TransientError("this process cannot onboard rooms", side="outlook", status=None)
        await service.onboard(job)
        return JobResult(job)
    room = await service.room(job.room, reconcile=job.kind is JobKind.RECONCILE)
    if room is None:
        log.warning("maintenance job %s for room %r which is not configured (or not live); ignored", job.kind.value,
                    job.room)  # fmt: skip
        return JobResult(job)
    if job.kind is JobKind.RECONCILE:
        return JobResult(job, reconcile=await service.reconciler.reconcile_room(room, full=job.full))
    if job.kind is JobKind.REAUTHORIZE:
        result = await service.keeper.reauthorize(room, job.subscription_id)
        _raise_if_failed(result)
        return JobResult(job, subscription=result)
    result = await service.keeper.recreate(room, job.subscription_id)
    _raise_if_failed(result)
    if await service.room(job.room, reconcile=True) is None:
        return JobResult(job, subscription=result)  # not live: subscribed, nothing reconciled
    report = await service.reconciler.reconcile_room(room, full=job.full)
    return JobResult(job, subscription=result, reconcile=report)


def _raise_if_failed(result: SubscriptionResult) -> None:
    if result.error is not None:
        raise TransientError(f"the subscription of room {result.room} could not be kept: {result.error}",
                             side="outlook", status=None)  # fmt: skip
