"""`calsync onboard ROOM... --dry-run|--apply`: plan or apply rooms' onboarding, here or in the deployed app.

Two ways to run the same ``calsync.onboarding.apply.Onboarding``:

- ``onboard_here``: in this process over Services opened from the settings (the local
  stack, or an operator machine that holds the Graph and booking credentials);
- ``onboard_in_azure``: enqueue one MaintenanceJob(kind=onboard) per room on the
  "reconcile" queue and follow each room's progress row until it finishes; the
  deployed app reads and writes with its managed identity, the command needs only
  the table and Service Bus data roles (DefaultAzureCredential, docs/operations.md).

Rooms run side by side (``concurrency`` at a time), each one item at a time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from calsync.errors import CalsyncError, QueueError
from calsync.model.job import JobKind, MaintenanceJob
from calsync.onboarding.apply import Applied, Onboarding
from calsync.onboarding.plan import RoomPlan
from calsync.operations.maintenance import open_services
from calsync.queues.publisher import HintPublisher
from calsync.settings import Settings
from calsync.store.onboarding import OnboardingProgress, OnboardingStore
from calsync.wiring import open_tables

Progress = Callable[[OnboardingProgress], None]


@dataclass
class OnboardResult:
    plans: dict[str, RoomPlan] = field(default_factory=dict)
    applied: dict[str, Applied] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


async def onboard_here(settings: Settings, keys: Sequence[str], *, apply: bool, plan_first: bool = False,
                       concurrency: int = 8, on_progress: Progress | None = None) -> OnboardResult:  # fmt: skip
    """Dry run (or apply the stored plan of) each room in this process. Errors are collected per room."""
    result = OnboardResult()
    async with open_services(settings) as services:
        onboarding = Onboarding(services, on_progress=on_progress)
        slots = asyncio.Semaphore(concurrency)

        async def one(key: str) -> None:
            async with slots:
                try:
                    if not apply or plan_first:
                        result.plans[key] = await onboarding.dry_run(key)
                    if apply:
                        result.applied[key] = await onboarding.apply(key)
                        result.plans[key] = await onboarding.stored_plan(key) or result.plans[key]
                except CalsyncError as exc:
                    result.errors[key] = str(exc)

        await asyncio.gather(*(one(key) for key in keys))
    return result


async def onboard_in_azure(settings: Settings, publisher: HintPublisher, keys: Sequence[str], *, apply: bool,
                           on_progress: Progress | None = None, poll_seconds: float = 2.0,
                           timeout_seconds: float = 3600.0) -> OnboardResult:  # fmt: skip
    """Enqueue one onboarding job per room and follow the progress rows; the stored plans come back."""
    request_id = uuid.uuid4().hex[:16]
    now = dt.datetime.now(dt.UTC)
    jobs = [MaintenanceJob(kind=JobKind.ONBOARD, room=key, apply=apply, request_id=request_id, requested_at=now)
            for key in keys]  # fmt: skip
    for job in jobs:
        await publisher.publish_job(job.model_dump_json(), queue=settings.reconcile_queue, message_id=job.message_id,
                                    kind=job.kind.value)  # fmt: skip
    result = OnboardResult()
    async with open_tables(settings) as tables:
        store = OnboardingStore(tables)
        waiting = set(keys)
        deadline = asyncio.get_running_loop().time() + timeout_seconds
        while waiting:
            for key in sorted(waiting):
                row = await store.progress(key)
                if row is None or row.request_id != request_id:
                    continue
                if on_progress is not None:
                    on_progress(row)
                if row.finished:
                    waiting.discard(key)
                    if row.step in ("refused", "failed"):
                        result.errors[key] = row.message
            if waiting and asyncio.get_running_loop().time() > deadline:
                raise QueueError(f"no answer from the deployed app for {', '.join(sorted(waiting))} within "
                                 f"{timeout_seconds:.0f} s; is reconcile_room running?")  # fmt: skip
            if waiting:
                await asyncio.sleep(poll_seconds)
        for key in keys:
            text = await store.load_plan(key)
            if text is not None:
                result.plans[key] = RoomPlan.from_json(text)
    return result
