"""calsync's error tree says which failures a retry can cure (DESIGN invariant 8)."""

from __future__ import annotations

import pytest

from calsync.booking.protocol import ChangedMeanwhile, RoomAlreadyBooked
from calsync.errors import (
    ConfigurationError,
    Conflict,
    NotFound,
    PeerContractError,
    PermissionDenied,
    QueueError,
    SideError,
    StoreError,
    Throttled,
    TransientError,
    UnsupportedRecurrence,
    ValidationError,
    retryable_status,
)
from calsync.store.keys import KeyTooLong


@pytest.mark.parametrize(
    "error",
    [
        ValidationError("bad"),
        UnsupportedRecurrence("BYHOUR"),
        KeyTooLong("too long"),
        PermissionDenied("no role", side="outlook", status=403),
        PeerContractError("redirect", side="booking", status=302),
        ConfigurationError("missing"),
        SideError("Graph refused the request", side="outlook", status=400),
        SideError("unprocessable", side="outlook", status=422),
    ],
)
def test_failures_that_cannot_succeed_are_not_retryable(error: Exception) -> None:
    assert error.retryable is False


@pytest.mark.parametrize(
    "error",
    [
        TransientError("503", side="outlook", status=503),
        Throttled("429", side="booking", status=429),
        Conflict("stale changeKey", side="outlook", status=412),
        RoomAlreadyBooked("taken", side="booking", status=409),
        ChangedMeanwhile("stale etag", side="booking", status=412),
        StoreError("azurite down"),
        QueueError("service bus down"),
        SideError("request timeout", side="outlook", status=408),
        SideError("bad gateway", side="outlook", status=502),
    ],
)
def test_failures_a_retry_can_cure_are_retryable(error: Exception) -> None:
    assert error.retryable is True


def test_only_408_409_412_429_of_the_4xx_are_retryable() -> None:
    assert [s for s in range(400, 500) if retryable_status(s)] == [408, 409, 412, 429]
    assert retryable_status(500) and retryable_status(None)


def test_not_found_is_not_retried() -> None:
    assert NotFound("gone", side="booking", status=404).retryable is False
