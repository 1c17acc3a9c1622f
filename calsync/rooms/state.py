"""A room's lifecycle in calsync, and the one rule that says whether calsync writes for it.

::

    pending ──(calsync onboard --apply)──► onboarding ──(plan applied)──► live ◄──► paused
       ▲                                       │  (failed: back to pending)        (pause / resume)
       └───────────────────────────────────────┘

- ``pending``: registered; its Graph subscription is kept and notifications are
  observed (logged, counted), but nothing is written on either side: it waits for
  its onboarding (pairing of what already exists, docs/planning.md).
- ``onboarding``: an onboarding job is applying the room's plan; only that job's
  hints (reason ``backfill``) write.
- ``live``: synchronised both ways (webhooks, reconcile, the maintenance timer).
- ``paused``: an operator stopped it; subscription kept, nothing written, nothing
  reconciled. ``resume`` makes it live again (reconcile catches what changed).
"""

from __future__ import annotations

from enum import StrEnum

from calsync.model.hint import HintReason


class RoomState(StrEnum):
    PENDING = "pending"
    ONBOARDING = "onboarding"
    LIVE = "live"
    PAUSED = "paused"


# state -> the states an operator or the onboarding job may move it to
TRANSITIONS: dict[RoomState, frozenset[RoomState]] = {
    RoomState.PENDING: frozenset({RoomState.ONBOARDING, RoomState.PAUSED}),
    RoomState.ONBOARDING: frozenset({RoomState.LIVE, RoomState.PENDING, RoomState.PAUSED}),
    RoomState.LIVE: frozenset({RoomState.PAUSED}),
    RoomState.PAUSED: frozenset({RoomState.LIVE, RoomState.PENDING}),
}


def can_move(current: RoomState, target: RoomState) -> bool:
    """Whether ``current -> target`` is a transition of the lifecycle above (staying put is allowed)."""
    return current is target or target in TRANSITIONS[current]


def admits(state: RoomState, reason: HintReason) -> bool:
    """Whether calsync may act (read to decide, then write) on a hint of this reason in a room in ``state``."""
    if state is RoomState.LIVE:
        return True  # live: every hint syncs
    # onboarding: only the onboarding job's own hints; pending and paused: nothing
    return state is RoomState.ONBOARDING and reason is HintReason.BACKFILL


def keeps_subscription(state: RoomState) -> bool:
    """Every registered room stays subscribed, so going live (or resuming) loses no notification."""
    return True


def reconciles(state: RoomState) -> bool:
    """Only live rooms are reconciled by the maintenance timer (a full compare writes)."""
    return state is RoomState.LIVE
