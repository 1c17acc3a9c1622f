"""calsync's telemetry: start-up wiring, custom metrics, log correlation and redaction.

Call ``configure_telemetry(settings)`` once at start-up (function_app.py, the CLI, the
local runner). With APPLICATIONINSIGHTS_CONNECTION_STRING set it runs Azure Monitor's
OpenTelemetry distro (``configure_azure_monitor``) with the managed identity as
credential; without it OpenTelemetry stays unconfigured and metrics are no-ops, which
is what local runs want. Tests pass ``metric_readers`` / ``log_exporters`` /
``span_exporters`` (in-memory) and get the same wiring without Azure. Repeated calls are cheap and do not configure
Azure Monitor twice.

Either way the settings' secret values are registered for masking: a log-record
factory masks them in every record, whichever handler later writes it (the Functions
host's, Azure Monitor's, the console), and filters on the handlers add the sync
context's correlation attributes and mask ``extra=`` values. The modules:

- ``metrics``      instruments on the meter ``calsync`` and ``record_*`` functions
- ``runs``         ``timer_run(...)``: span, outcome and flush for each timer run
- ``correlation``  ``sync_context(...)``: room/source/ids on every log line of a sync
- ``redaction``    masking of secrets and private values; ``describe_booking``
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from calsync.telemetry.correlation import (
    CORRELATION_KEYS,
    CorrelationFilter,
    SyncContext,
    correlation_attributes,
    current_context,
    sync_context,
)
from calsync.telemetry.metrics import (
    METER_NAME,
    METRIC_NAMES,
    RenewalOutcome,
    SyncAction,
    TimerOutcome,
    lag_seconds,
    record_action,
    record_conflict,
    record_failure,
    record_hint,
    record_subscription_renewal,
    record_timer_run,
    use_meter_provider,
)
from calsync.telemetry.redaction import (
    MASK,
    RedactingLogRecordProcessor,
    RedactionFilter,
    describe_booking,
    redact,
    register_secret,
    secret_values,
)
from calsync.telemetry.runs import flush_telemetry, timer_run, use_tracer_provider

if TYPE_CHECKING:
    from opentelemetry.sdk._logs.export import LogRecordExporter
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace.export import SpanExporter

    from calsync.settings import Settings

__all__ = [
    "CORRELATION_KEYS",
    "LOGGER_NAME",
    "MASK",
    "METER_NAME",
    "METRIC_NAMES",
    "CorrelationFilter",
    "RedactingLogRecordProcessor",
    "RedactionFilter",
    "RenewalOutcome",
    "SyncAction",
    "SyncContext",
    "TimerOutcome",
    "configure_telemetry",
    "correlation_attributes",
    "current_context",
    "describe_booking",
    "flush_telemetry",
    "install_log_filters",
    "lag_seconds",
    "record_action",
    "record_conflict",
    "record_failure",
    "record_hint",
    "record_subscription_renewal",
    "record_timer_run",
    "redact",
    "register_secret",
    "reset_telemetry",
    "sync_context",
    "timer_run",
]

LOGGER_NAME = "calsync"
"""The logger whose records (and its children's) are exported as traces."""

_lock = threading.Lock()
_azure_monitor_configured = False
_local_handler: logging.Handler | None = None
_previous_factory: Any = None
_correlation = CorrelationFilter()
_redaction = RedactionFilter()


def install_log_filters(handler: logging.Handler | None = None) -> None:
    """Redact every log record from now on, and correlate and redact what ``handler`` writes.

    A log-record factory masks secrets in every record's message and exception, however
    it is handled later (the Functions host's own handler included). The correlation
    attributes are added by a filter on the handler instead, after ``extra=`` has been
    applied: adding them in the factory would make ``extra={"room": ...}`` raise
    (logging refuses extras that overwrite record attributes). Idempotent.
    """
    global _previous_factory
    with _lock:
        if _previous_factory is None:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                _redaction.filter(record)
                return record

            _previous_factory = previous
            logging.setLogRecordFactory(factory)
    if handler is not None:
        for log_filter in (_correlation, _redaction):
            if log_filter not in handler.filters:
                handler.addFilter(log_filter)


def configure_telemetry(
    settings: Settings,
    *,
    metric_readers: Sequence[MetricReader] = (),
    log_exporters: Sequence[LogRecordExporter] = (),
    span_exporters: Sequence[SpanExporter] = (),
    logger_name: str = LOGGER_NAME,
) -> bool:
    """Wire telemetry for this process; True when it exports to Azure Monitor.

    - ``metric_readers`` / ``log_exporters`` / ``span_exporters`` given: record into those
      (tests, or any other exporter), with redaction ahead of every log exporter; Azure
      Monitor untouched.
    - else, APPLICATIONINSIGHTS_CONNECTION_STRING set: ``configure_azure_monitor`` once
      per process, logs of ``logger_name`` exported as traces, redaction processor first.
    - else: nothing is exported (metrics are no-ops), logs go where logging sends them.
    """
    global _azure_monitor_configured
    register_secret(*secret_values(settings))
    install_log_filters()
    logger = logging.getLogger(logger_name)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    _filter_existing_handlers(logger)  # e.g. the Functions worker's handler on the root logger

    if metric_readers or log_exporters or span_exporters:
        _use_local_exporters(metric_readers, log_exporters, span_exporters, logger)
        return False

    connection = settings.applicationinsights_connection_string
    connection_string = connection.get_secret_value().strip() if connection is not None else ""
    if not connection_string:
        return _azure_monitor_configured
    with _lock:
        if _azure_monitor_configured:
            return True
        from azure.monitor.opentelemetry import configure_azure_monitor

        options: dict[str, Any] = {}
        if settings.azure_client_id:
            # Application Insights has local (key) auth off: send with the managed identity.
            from azure.identity import ManagedIdentityCredential

            options["credential"] = ManagedIdentityCredential(client_id=settings.azure_client_id)
        configure_azure_monitor(
            connection_string=connection_string,
            logger_name=logger_name,
            log_record_processors=[RedactingLogRecordProcessor()],
            **options,
        )
        _azure_monitor_configured = True
    _filter_existing_handlers(logger)
    use_meter_provider(None)
    use_tracer_provider(None)
    return True


def _filter_existing_handlers(logger: logging.Logger) -> None:
    """Correlation and redaction on every handler that writes calsync's records (root's included)."""
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            install_log_filters(handler)
        current = current.parent if current.propagate else None


def _use_local_exporters(
    metric_readers: Sequence[MetricReader],
    log_exporters: Sequence[LogRecordExporter],
    span_exporters: Sequence[SpanExporter],
    logger: logging.Logger,
) -> None:
    global _local_handler
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider

    if metric_readers:
        use_meter_provider(MeterProvider(metric_readers=list(metric_readers)))
    if span_exporters:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        tracer_provider = TracerProvider()
        for span_exporter in span_exporters:
            tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
        use_tracer_provider(tracer_provider)
    if log_exporters:
        provider = LoggerProvider()
        provider.add_log_record_processor(RedactingLogRecordProcessor())  # before any exporter
        for exporter in log_exporters:
            provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
        handler = LoggingHandler(logger_provider=provider)
        install_log_filters(handler)
        with _lock:
            if _local_handler is not None:
                logger.removeHandler(_local_handler)
            logger.addHandler(handler)
            _local_handler = handler


def reset_telemetry(logger_name: str = LOGGER_NAME) -> None:
    """Detach exporters wired by ``configure_telemetry(metric_readers=..., log_exporters=...)`` (tests)."""
    global _local_handler
    with _lock:
        if _local_handler is not None:
            logging.getLogger(logger_name).removeHandler(_local_handler)
            _local_handler = None
    use_meter_provider(None)
    use_tracer_provider(None)
