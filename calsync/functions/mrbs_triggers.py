"""The ``mrbs_outbox`` timer: with BOOKING_BACKEND=mrbs, turns MRBS outbox rows into hints.

Runs on MRBS_POLL_SCHEDULE (every 10 s by default); does nothing with the REST backend.
It only binds: the work is calsync.booking.mrbs.poller.poll_from_settings.
"""

from __future__ import annotations

import azure.functions as func

from calsync.functions import runtime

bp = func.Blueprint()


@bp.function_name("mrbs_outbox")
@bp.timer_trigger(arg_name="timer", schedule="%MRBS_POLL_SCHEDULE%", run_on_startup=False, use_monitor=False)
async def mrbs_outbox(timer: func.TimerRequest) -> None:
    from calsync.booking.mrbs.poller import poll_from_settings

    current = runtime.current()
    await poll_from_settings(current.settings, current.publisher)
