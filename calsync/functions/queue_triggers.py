"""Service Bus queue triggers: one ChangeHint per message on "changes" (sessions: one room at a time).

``sync_change`` binds the SDK types of azurefunctions-extensions-bindings-servicebus:
the message as ``ServiceBusReceivedMessage`` and, with autoCompleteMessages off,
``ServiceBusMessageActions`` to settle it itself (docs/architecture.md, "Settling a
hint"). It decodes the body, calls calsync.problems.service.handle_change, and settles
as told: complete, or dead-letter at once with the reason and description (a failure
that cannot succeed, invariant 8). When handle_change raises (a failure a retry may
cure), the message is abandoned and the failure raised for the host to log: Service
Bus redelivers it and, after maxDeliveryCount, dead-letters it (invariant 5).
"""

from __future__ import annotations

import logging

import azure.functions as func
import azurefunctions.extensions.bindings.servicebus as servicebus

from calsync.functions import runtime
from calsync.problems.classify import Settlement, Verdict

log = logging.getLogger(__name__)

bp = func.Blueprint()


def message_body(message: servicebus.ServiceBusReceivedMessage) -> bytes:
    """The message's body bytes (the SDK type yields its AMQP data sections)."""
    body = message.body
    return bytes(body) if isinstance(body, bytes | bytearray) else b"".join(body)


def settle(actions: servicebus.ServiceBusMessageActions, message: servicebus.ServiceBusReceivedMessage,
           settlement: Settlement) -> None:  # fmt: skip
    if settlement.verdict is Verdict.DEAD_LETTER:
        actions.deadletter(message, deadletter_reason=settlement.reason,
                           deadletter_error_description=settlement.description)  # fmt: skip
    elif settlement.verdict is Verdict.COMPLETE:
        actions.complete(message)
    else:
        actions.abandon(message)


@bp.function_name("sync_change")
@bp.service_bus_queue_trigger(arg_name="message", queue_name="%CHANGES_QUEUE%", connection="ServiceBusConnection",
                              is_sessions_enabled=True, auto_complete_messages=False)  # fmt: skip
async def sync_change(message: servicebus.ServiceBusReceivedMessage,
                      message_actions: servicebus.ServiceBusMessageActions) -> None:  # fmt: skip
    from calsync.problems.service import handle_change

    try:
        settlement = await handle_change(message_body(message), await runtime.current().engine())
    except Exception:  # not a catch-all: abandoned for redelivery, and raised again
        message_actions.abandon(message)
        raise
    settle(message_actions, message, settlement)
