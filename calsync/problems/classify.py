"""How a hint's message is settled after the sync engine ran: complete, retry, or dead-letter at once.

    success                                    -> COMPLETE
    a CalsyncError with retryable = True       -> RETRY        (abandoned: Service Bus redelivers it, and
                                                                dead-letters it after maxDeliveryCount)
    a CalsyncError with retryable = False      -> DEAD_LETTER  (at once, reason = the error's type)
    a message that is not a ChangeHint         -> DEAD_LETTER  (reason InvalidMessage)
    any other exception (a bug, a library's)   -> RETRY        (unknown: invariant 5 still catches it)

The dead-letter description is ``describe(exc)``: the error's type and message, with
secrets, credential fragments and echoed input values masked, cut to what Service Bus
keeps (DeadLetterErrorDescription holds at most 4096 characters; we keep 1024).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from calsync.errors import CalsyncError
from calsync.telemetry.redaction import MASK, redact

MAX_DESCRIPTION = 1024
INVALID_MESSAGE = "InvalidMessage"
"""The DeadLetterReason of a message that is not a ChangeHint."""

_INPUT_VALUE = re.compile(r"input_value=(?:'[^']*'|\"[^\"]*\"|\S+)")  # pydantic echoes the input: a subject, say


class Verdict(StrEnum):
    COMPLETE = "complete"
    RETRY = "retry"
    DEAD_LETTER = "dead-letter"


@dataclass(frozen=True)
class Settlement:
    """What to do with the message; for DEAD_LETTER the reason and description Service Bus stores with it."""

    verdict: Verdict
    reason: str | None = None
    description: str | None = None


COMPLETE = Settlement(Verdict.COMPLETE)


def describe(exc: BaseException) -> str:
    """``ErrorType: message``, safe to store and show to operators (no secrets, no echoed input)."""
    text = redact(_INPUT_VALUE.sub(f"input_value={MASK}", f"{type(exc).__name__}: {exc}"))
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def can_succeed_later(exc: BaseException) -> bool:
    """Whether another delivery of the same hint may succeed (unknown exceptions: yes)."""
    return exc.retryable if isinstance(exc, CalsyncError) else True


def classify(exc: BaseException) -> Settlement:
    """How to settle a hint whose sync raised ``exc``."""
    if can_succeed_later(exc):
        return Settlement(Verdict.RETRY, type(exc).__name__, describe(exc))
    return Settlement(Verdict.DEAD_LETTER, type(exc).__name__, describe(exc))
