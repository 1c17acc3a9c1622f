"""Maintenance triggers: the timer ``maintenance`` and the queue trigger ``reconcile_room``.

``maintenance`` runs every 15 minutes: it keeps the rooms' Graph subscriptions
alive, sweeps the booking change feed and fans out one reconcile job per room.
``reconcile_room`` handles one MaintenanceJob from the "reconcile" queue (no
sessions: rooms run in parallel; a failure raises, so Service Bus retries and then
dead-letters). Both import calsync.maintenance (and, through the engine,
msgraph-sdk) only when they run, so indexing the app stays light.

Every ``maintenance`` run is wrapped in ``timer_run``: the Functions host exports no
request for timer triggers, so calsync emits the run's span and outcome metric itself
and flushes them before returning (calsync/telemetry/runs.py).
"""

from __future__ import annotations

import logging

import azure.functions as func

from calsync.functions import runtime
from calsync.telemetry.runs import timer_run

log = logging.getLogger(__name__)

bp = func.Blueprint()

SCHEDULE = "0 */15 * * * *"


@bp.function_name("maintenance")
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, run_on_startup=False, use_monitor=True)
async def maintenance(timer: func.TimerRequest) -> None:
    async with timer_run("maintenance", past_due=timer.past_due):
        from calsync.maintenance.jobs import run_maintenance

        if timer.past_due:
            log.warning("the maintenance timer is running late")
        await run_maintenance(await runtime.current().maintenance())


@bp.function_name("reconcile_room")
@bp.service_bus_queue_trigger(arg_name="message", queue_name="%RECONCILE_QUEUE%", connection="ServiceBusConnection")
async def reconcile_room(message: func.ServiceBusMessage) -> None:
    from calsync.maintenance.jobs import handle_job
    from calsync.model.job import MaintenanceJob

    job = MaintenanceJob.model_validate_json(message.get_body())
    await handle_job(job, await runtime.current().maintenance())
