"""Service Bus queue triggers: one ChangeHint per message on "changes" (sessions: one room at a time).

The trigger decodes the hint and hands it to the engine. A failure raises, so
the host abandons the message; Service Bus redelivers it and, after
maxDeliveryCount, dead-letters it with the reason (DESIGN invariant 5). A message
that is not a ChangeHint can never succeed: it is logged and raised at once.
"""

from __future__ import annotations

import logging

import azure.functions as func

from calsync.functions import runtime
from calsync.model import ChangeHint

log = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.function_name("sync_change")
@bp.service_bus_queue_trigger(arg_name="message", queue_name="%CHANGES_QUEUE%", connection="ServiceBusConnection",
                              is_sessions_enabled=True)  # fmt: skip
async def sync_change(message: func.ServiceBusMessage) -> None:
    hint = ChangeHint.from_json(message.get_body())
    engine = await runtime.current().engine()
    await engine.handle(hint)
