"""calsync's one error tree: every error calsync raises on purpose derives from it.

Each error says whose fault it is, whether retrying can help (``retryable``) and,
where it can reach a webhook caller, which HTTP status it maps to (``http_status``).
The sync engine decides on these types, never on library exceptions.

``retryable`` decides a hint's fate (calsync.problems): a retryable failure is
abandoned and redelivered; any other is dead-lettered at once with its reason
(DESIGN invariant 8). A peer's 4xx is retryable only for 408, 409, 412 and 429
(``RETRYABLE_STATUSES``): the same request answered 400, 401, 403 or 422 will be
refused again.

    CalsyncError
    ├── ConfigurationError        a setting is missing or invalid (operator's fault)
    ├── ValidationError           a payload or model value is wrong (caller's fault, 400)
    │   └── UnsupportedRecurrence an RRULE the other side cannot express (not retryable)
    ├── AuthenticationError       forged or unsigned input (401/403)
    ├── StoreError                Table Storage failed (retryable; a webhook answers 503)
    │   └── ConcurrencyError      an ETag-guarded write lost a race (retryable)
    ├── SideError                 a calendar side (Graph or booking system) failed
    │   ├── NotFound              the item is gone (404/410)
    │   │   └── SyncStateExpired  a delta cursor (Graph deltaLink) expired: start a fresh delta
    │   ├── Throttled             429/503 after the bounded wait (retryable)
    │   ├── Conflict              changed meanwhile, precondition failed, double booking (retryable: re-read)
    │   │   └── RoomTaken         the room is already booked then (the sync decides what gives way)
    │   ├── PermissionDenied      the app may not do this (operator's fault; not retryable)
    │   ├── PeerContractError     answered outside the contract: a redirect, an oversized body (not retryable)
    │   │   └── ResponseTooLarge  a body (or its Content-Length) over the client's cap; never retried
    │   └── TransientError        5xx, timeouts, deadlines, connection errors, a garbled body (retryable)
    ├── QueueError                a queue refused or failed a send, or did not drain (retryable, 503)
    └── MassDeletionGuardTripped  one side suddenly looks empty; sync for the room stops
"""

from __future__ import annotations

RETRYABLE_STATUSES = frozenset({408, 409, 412, 429})
"""The 4xx answers a later attempt can cure (timeout, conflict, stale precondition, throttling)."""


def retryable_status(status: int | None) -> bool:
    """Whether a peer's HTTP status says a retry can help: 5xx, 408/409/412/429, or no answer at all."""
    return status is None or status >= 500 or status in RETRYABLE_STATUSES


class CalsyncError(Exception):
    """Root of calsync's errors."""

    retryable: bool = False
    http_status: int = 500

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __str__(self) -> str:
        return self.message


class ConfigurationError(CalsyncError):
    """A setting is missing or invalid; the operator must fix the configuration."""


class ValidationError(CalsyncError):
    """An input value is wrong; the message names the field and the problem."""

    http_status = 400


class IdempotencyKeyReused(ValidationError):
    """A create's idempotency key was used before with another body (booking API: 422). Not retried as is:
    the decision answers it with a create keyed on the content (calsync.sync.plan.after_failure)."""

    http_status = 422


class UnsupportedRecurrence(ValidationError):
    """A recurrence rule that the target side cannot express; never approximated."""

    http_status = 422


class AuthenticationError(CalsyncError):
    """Input that failed authentication (clientState, HMAC, timestamp window)."""

    http_status = 401


class StoreError(CalsyncError):
    """Table Storage refused or failed an operation."""

    retryable = True
    http_status = 503  # a webhook caller (Graph, the booking system) retries later


class ConcurrencyError(StoreError):
    """An ETag-guarded write found the row changed by someone else (lost race)."""

    http_status = 409


class SideError(CalsyncError):
    """A calendar side (Microsoft Graph or the booking system) failed a request."""

    def __init__(self, message: str, *, side: str, status: int | None = None, **fields: object) -> None:
        super().__init__(message, side=side, status=status, **fields)
        self.side = side
        self.status = status
        if type(self) is SideError and status is not None:
            # an unclassified answer (Graph's 400 refusing a request, a 408): its status decides
            self.retryable = retryable_status(status)


class NotFound(SideError):
    """The item does not exist (any more) on that side."""

    http_status = 404


class SyncStateExpired(NotFound):
    """A delta cursor (Graph deltaLink, 410 SyncStateNotFound) is no longer valid; start a fresh delta."""


class Throttled(SideError):
    """The side kept answering 429/503 beyond the bounded wait."""

    retryable = True
    http_status = 503

    def __init__(
        self, message: str, *, side: str, status: int | None = None, retry_after: float | None = None, **fields: object
    ) -> None:
        super().__init__(message, side=side, status=status, retry_after=retry_after, **fields)
        self.retry_after = retry_after


class Conflict(SideError):
    """The item changed meanwhile (stale ETag/changeKey) or the room is already booked.

    Retryable: the next delivery re-reads both sides and decides again.
    """

    retryable = True
    http_status = 409


class RoomTaken(Conflict):
    """The side refused the write because the room is already booked then (a booking system's double booking).

    Retrying the same write cannot help while the other booking stands; the sync decides
    what gives way instead (calsync.sync.plan.after_failure). ``conflicting_booking_id``
    names that booking when the side says which.
    """


class RoomHeldInTransit(Conflict):
    """The room is held by another room's copy, moved here by the booking system's users and on its way back.

    Retryable: once that room's pass has taken its copy back, the next delivery finds the room free.
    """


class PermissionDenied(SideError):
    """The app is not allowed to do this (missing role, RBAC scope, wrong mailbox)."""

    http_status = 403


class PeerContractError(SideError):
    """The side answered outside its contract (a redirect, an oversized body): retrying cannot help.

    A redirect is never followed (not across hosts, never with credentials) and never
    taken for success: the write it answered did not happen as asked. An operator must
    fix the side or calsync's base URL.
    """

    http_status = 502


class ResponseTooLarge(PeerContractError):
    """A response whose body, or whose Content-Length claim, exceeds the client's cap; not read further."""


class TransientError(SideError):
    """A failure that a later retry can cure: 5xx, timeouts, dropped connections."""

    retryable = True
    http_status = 503


class QueueError(CalsyncError):
    """Service Bus (or the in-process queue) refused or failed an operation; a webhook answers 503."""

    retryable = True
    http_status = 503


class MassDeletionGuardTripped(CalsyncError):
    """One side of a room suddenly reports most of its bookings gone; nothing was deleted."""

    def __init__(self, message: str, *, room: str, side: str, missing: int, mapped: int) -> None:
        super().__init__(message, room=room, side=side, missing=missing, mapped=mapped)
        self.room = room
        self.side = side
        self.missing = missing
        self.mapped = mapped
