"""Telemetry of timer runs: one span and one counted outcome per run, flushed before the run returns.

Why calsync does this itself: with ``"telemetryMode": "OpenTelemetry"`` (host.json) the
Functions host exports a request per invocation only for HTTP, Service Bus and Event Hubs
triggers. A timer run would leave nothing in the ``requests`` table, so a failing
``maintenance`` run would be invisible to the failure alert. ``timer_run`` emits:

- a span named after the function, of kind SERVER, so Azure Monitor's exporter stores it
  as a request (``requests`` table: ``name``, ``success``, ``duration``); a failed run
  has status ERROR and an exception event, both with secrets masked;
- ``calsync.timer.runs`` (``function``, ``outcome`` succeeded|failed, ``error_type``,
  ``past_due``), which the alerts in infra/modules/alerts.bicep query.

Then it flushes traces, metrics and logs (``flush_telemetry``): on Flex Consumption an
instance may be stopped as soon as no invocation runs, before a periodic export; a run
whose telemetry never leaves the instance is as invisible as one never recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import traceback
from collections.abc import AsyncIterator

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from calsync.telemetry.metrics import TimerOutcome, meter_provider, record_timer_run
from calsync.telemetry.redaction import redact

TRACER_NAME = "calsync"

FLUSH_TIMEOUT_MILLIS = 5_000
"""How long one run waits for its telemetry to be exported: one round trip to the ingestion endpoint."""

log = logging.getLogger(__name__)

_lock = threading.Lock()
_tracer_provider: trace.TracerProvider | None = None


def use_tracer_provider(provider: trace.TracerProvider | None) -> None:
    """Start spans on ``provider`` from now on (tests); ``None``: the global one (configure_azure_monitor's)."""
    global _tracer_provider
    with _lock:
        _tracer_provider = provider


def tracer_provider() -> trace.TracerProvider:
    return _tracer_provider or trace.get_tracer_provider()


def flush_telemetry(timeout_millis: int = FLUSH_TIMEOUT_MILLIS) -> bool:
    """Export what calsync's tracer, meter and logger providers still hold; True when all of them did.

    Providers without ``force_flush`` (the API's no-op and proxy providers: nothing is
    configured) are skipped. A failed flush is logged, never raised: telemetry must not
    fail the run it describes.
    """
    from opentelemetry import _logs

    providers: list[object] = []
    for provider in (tracer_provider(), meter_provider(), _logs.get_logger_provider()):
        if provider not in providers:
            providers.append(provider)
    flushed = True
    for provider in providers:
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is None:
            continue
        try:
            flushed = bool(force_flush(timeout_millis=timeout_millis)) and flushed
        except Exception:
            log.warning("telemetry could not be flushed by %s", type(provider).__name__, exc_info=True)
            flushed = False
    return flushed


@contextlib.asynccontextmanager
async def timer_run(function: str, *, past_due: bool = False,
                    flush_timeout_millis: int = FLUSH_TIMEOUT_MILLIS) -> AsyncIterator[trace.Span]:  # fmt: skip
    """Wrap one run of the timer function ``function``: span, outcome counter, then a flush.

    The body's exception (cancellation included) marks the run failed and is raised again
    unchanged, so the Functions host still sees the failure.
    """
    tracer = tracer_provider().get_tracer(TRACER_NAME)
    outcome, error_type = TimerOutcome.FAILED, None
    try:
        with tracer.start_as_current_span(
            function,
            kind=SpanKind.SERVER,  # Azure Monitor's exporter turns SERVER spans into requests
            attributes={"faas.trigger": "timer", "faas.name": function, "calsync.timer.past_due": past_due},
            record_exception=False,  # recorded below, with secrets masked
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as exc:
                error_type = type(exc).__name__
                message = redact(str(exc))
                span.record_exception(exc, attributes={
                    "exception.message": message,
                    "exception.stacktrace": redact("".join(traceback.format_exception(exc))),
                }, escaped=True)  # fmt: skip
                span.set_status(Status(StatusCode.ERROR, f"{error_type}: {message}"))
                raise
            outcome = TimerOutcome.SUCCEEDED
    finally:
        record_timer_run(function, outcome, error_type=error_type, past_due=past_due)
        # Off the event loop: an export is a blocking HTTP request.
        await asyncio.to_thread(flush_telemetry, flush_timeout_millis)
