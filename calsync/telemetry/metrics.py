"""calsync's custom metrics: names, attributes, and the small functions the engine calls.

All instruments live on the OpenTelemetry meter ``calsync``. With Azure Monitor they
land in Application Insights' ``customMetrics`` table under the names below, their
attributes in ``customDimensions``; docs/operations.md lists them with KQL. Attribute
values are strings (booleans as ``"true"``/``"false"``) so queries compare them alike.

    name                               kind       attributes
    calsync.hints.received             counter    source, reason, room
    calsync.syncs.applied              counter    action, source, room
    calsync.echoes.suppressed          counter    source, room
    calsync.conflicts                  counter    policy, winner, room
    calsync.failures                   counter    error_type, retryable, side, room
    calsync.sync.lag                   histogram  action, source, room   (seconds)
    calsync.subscriptions.renewals     counter    outcome, room
    calsync.mass_deletion_guard.trips  counter    side, room
    calsync.timer.runs                 counter    function, outcome, error_type, past_due
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from enum import Enum, StrEnum

from opentelemetry import metrics

from calsync.errors import CalsyncError, MassDeletionGuardTripped, SideError
from calsync.model.hint import ChangeHint

METER_NAME = "calsync"

HINTS_RECEIVED = "calsync.hints.received"
SYNCS_APPLIED = "calsync.syncs.applied"
ECHOES_SUPPRESSED = "calsync.echoes.suppressed"
CONFLICTS = "calsync.conflicts"
FAILURES = "calsync.failures"
SYNC_LAG = "calsync.sync.lag"
SUBSCRIPTION_RENEWALS = "calsync.subscriptions.renewals"
MASS_DELETION_GUARD_TRIPS = "calsync.mass_deletion_guard.trips"
TIMER_RUNS = "calsync.timer.runs"

METRIC_NAMES = (
    HINTS_RECEIVED,
    SYNCS_APPLIED,
    ECHOES_SUPPRESSED,
    CONFLICTS,
    FAILURES,
    SYNC_LAG,
    SUBSCRIPTION_RENEWALS,
    MASS_DELETION_GUARD_TRIPS,
    TIMER_RUNS,
)

LAG_BUCKETS_SECONDS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 21600, 86400)
"""Histogram bounds for the sync lag: seconds for webhooks, up to a day for a backlog."""


class SyncAction(StrEnum):
    """What one sync did, as counted in ``calsync.syncs.applied``."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RELEASE = "release"  # a copy was cancelled: its original declined (a person's meeting) or rejected (a booking)
    DECLINE = "decline"
    SKIP_ECHO = "skip-echo"  # our own write came back: dropped (invariant 2)
    SKIP_UNCHANGED = "skip-unchanged"  # nothing to do (invariant 1)
    CONFLICT = "conflict"  # overlapping bookings from both sides; see calsync.conflicts
    CANCEL = "cancel"  # soft cancellation of a copy (issue #14)
    REJECT = "reject"  # the room declined calsync's meeting: its booking rejected (issue #14)


class RenewalOutcome(StrEnum):
    """What became of one Graph subscription at the maintenance run."""

    RENEWED = "renewed"
    RECREATED = "recreated"
    FAILED = "failed"


class TimerOutcome(StrEnum):
    """How one run of a timer function ended, as counted in ``calsync.timer.runs``."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class _Instruments:
    hints: metrics.Counter
    applied: metrics.Counter
    echoes: metrics.Counter
    conflicts: metrics.Counter
    failures: metrics.Counter
    lag: metrics.Histogram
    renewals: metrics.Counter
    guard: metrics.Counter
    timer_runs: metrics.Counter

    @classmethod
    def create(cls, meter: metrics.Meter) -> _Instruments:
        return cls(
            hints=meter.create_counter(HINTS_RECEIVED, unit="{hint}", description="Change hints received"),
            applied=meter.create_counter(SYNCS_APPLIED, unit="{sync}", description="Syncs applied, by action"),
            echoes=meter.create_counter(ECHOES_SUPPRESSED, unit="{hint}", description="Own writes recognised"),
            conflicts=meter.create_counter(CONFLICTS, unit="{conflict}", description="Overlaps across sides"),
            failures=meter.create_counter(FAILURES, unit="{failure}", description="Syncs that raised"),
            lag=meter.create_histogram(
                SYNC_LAG,
                unit="s",
                description="Seconds from the source change to the write on the other side",
                explicit_bucket_boundaries_advisory=LAG_BUCKETS_SECONDS,
            ),
            renewals=meter.create_counter(SUBSCRIPTION_RENEWALS, unit="{subscription}", description="Renewals"),
            guard=meter.create_counter(MASS_DELETION_GUARD_TRIPS, unit="{trip}", description="Guard trips"),
            timer_runs=meter.create_counter(TIMER_RUNS, unit="{run}", description="Timer function runs, by outcome"),
        )


_lock = threading.Lock()
_instruments: _Instruments | None = None
_provider: metrics.MeterProvider | None = None


def use_meter_provider(provider: metrics.MeterProvider | None) -> None:
    """Record into ``provider`` from now on (tests: one with an InMemoryMetricReader).

    ``None`` goes back to the global provider (set by configure_azure_monitor, or a no-op).
    """
    global _instruments, _provider
    with _lock:
        _provider = provider
        meter = (provider or metrics.get_meter_provider()).get_meter(METER_NAME)
        _instruments = _Instruments.create(meter)


def meter_provider() -> metrics.MeterProvider:
    """The provider calsync's instruments record into (what ``flush_telemetry`` must flush)."""
    return _provider or metrics.get_meter_provider()


def _get() -> _Instruments:
    global _instruments
    if _instruments is None:
        with _lock:
            if _instruments is None:
                # The API's proxy meter follows a global provider set later by configure_azure_monitor.
                _instruments = _Instruments.create(metrics.get_meter(METER_NAME))
    return _instruments


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _attrs(**values: object) -> dict[str, str]:
    return {key: _text(value) for key, value in values.items() if value is not None}


def lag_seconds(changed_at: dt.datetime, now: dt.datetime | None = None) -> float:
    """Seconds from ``changed_at`` (aware) to ``now`` (default: the current UTC time); never negative."""
    if changed_at.tzinfo is None:
        raise ValueError("changed_at must be timezone-aware")
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (now - changed_at).total_seconds())


def record_hint(hint: ChangeHint) -> None:
    """A ChangeHint reached the sync engine (each delivery counts, so retries count again)."""
    _get().hints.add(1, _attrs(source=hint.source, reason=hint.reason, room=hint.room))


def record_action(action: SyncAction | str, *, room: str, source: object, lag_seconds: float | None = None) -> None:
    """One sync finished with ``action``; ``source`` is the side the change came from.

    ``lag_seconds`` (from the source change to our write on the other side; see
    ``lag_seconds()``) is recorded for actions that wrote. ``skip-echo`` also counts in
    ``calsync.echoes.suppressed``. An unknown action raises ValueError.
    """
    action = SyncAction(action)
    instruments = _get()
    attributes = _attrs(action=action, source=source, room=room)
    instruments.applied.add(1, attributes)
    if action is SyncAction.SKIP_ECHO:
        record_echo(room=room, source=source)
    if lag_seconds is not None:
        if lag_seconds < 0:
            raise ValueError(f"lag_seconds must not be negative (got {lag_seconds})")
        instruments.lag.record(lag_seconds, attributes)


def record_echo(*, room: str, source: object) -> None:
    """A notification of calsync's own write was dropped: by the engine, or at the webhook with no hint
    (calsync.store.own_versions)."""
    _get().echoes.add(1, _attrs(source=source, room=room))


def record_conflict(*, room: str, policy: object, winner: object) -> None:
    """Bookings from both sides overlapped; ``winner`` is the side whose booking stays."""
    _get().conflicts.add(1, _attrs(policy=policy, winner=winner, room=room))


def record_failure(exc: BaseException, *, room: str | None = None, side: object | None = None) -> None:
    """A sync (or maintenance step) raised ``exc``.

    ``error_type`` is the exception's class name; ``retryable`` comes from calsync's
    error tree (anything else counts as not retryable). A MassDeletionGuardTripped
    also counts in ``calsync.mass_deletion_guard.trips``.
    """
    if isinstance(exc, MassDeletionGuardTripped):
        # The guard names the side that looks empty, which need not be the hint's side.
        side, room = exc.side, exc.room
    elif side is None and isinstance(exc, SideError):
        side = exc.side
    retryable = exc.retryable if isinstance(exc, CalsyncError) else False
    instruments = _get()
    instruments.failures.add(1, _attrs(error_type=type(exc).__name__, retryable=retryable, side=side, room=room))
    if isinstance(exc, MassDeletionGuardTripped):
        instruments.guard.add(1, _attrs(side=side, room=room))


def record_subscription_renewal(outcome: RenewalOutcome | str, *, room: str) -> None:
    """The maintenance run renewed, recreated, or failed to keep a room's Graph subscription."""
    _get().renewals.add(1, _attrs(outcome=RenewalOutcome(outcome), room=room))


def record_timer_run(function: str, outcome: TimerOutcome | str, *, error_type: str | None = None,
                     past_due: bool = False) -> None:  # fmt: skip
    """One run of the timer function ``function`` ended with ``outcome`` (``error_type``: the exception's class).

    The Functions host exports no request for timer triggers in OpenTelemetry mode, so this
    counter (with the span of ``calsync.telemetry.runs.timer_run``) is what alerts on them read.
    """
    _get().timer_runs.add(
        1, _attrs(function=function, outcome=TimerOutcome(outcome), error_type=error_type, past_due=past_due)
    )
