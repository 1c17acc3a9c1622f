"""The onboarding job on the "reconcile" queue: the deployed app plans or applies one room.

`calsync onboard ROOM --dry-run|--apply --in-azure` enqueues one MaintenanceJob(kind=onboard)
per room and follows the room's progress row (calsync.store.onboarding); the
``reconcile_room`` queue function hands the job here through MaintenanceService. The
reads and writes run with the app's managed identity, so no Graph or booking-system
credential is ever on an operator's laptop. A refused apply (the calendars changed
since the dry run) is reported in the progress row and not retried.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from calsync.model.job import MaintenanceJob
from calsync.onboarding.apply import Onboarding, OnboardingRefused

if TYPE_CHECKING:
    from calsync.wiring import Services

log = logging.getLogger(__name__)


async def run_onboarding_job(services: Services, job: MaintenanceJob) -> None:
    """Plan (``apply`` False) or apply the room's stored plan; progress goes to the Onboarding table."""
    onboarding = Onboarding(services)
    try:
        if job.apply:
            await onboarding.apply(job.room, request_id=job.request_id)
        else:
            await onboarding.dry_run(job.room, request_id=job.request_id)
    except OnboardingRefused as exc:
        log.warning("onboarding of room %s refused: %s", job.room, exc)  # in the progress row; not retried
