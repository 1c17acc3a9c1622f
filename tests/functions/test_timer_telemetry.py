"""The maintenance timer's telemetry, as the alerts in infra/modules/alerts.bicep read it.

In OpenTelemetry mode the Functions host exports no request for a timer invocation, so
every ``maintenance`` run emits its own SERVER span (stored as a row of ``requests``) and
counts its outcome in ``calsync.timer.runs``, then flushes. These tests call the real
decorated function as the host would, capture with OpenTelemetry's in-memory exporters,
and look for exactly what each alert's query filters on.
"""

from __future__ import annotations

import contextlib
import re
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import calsync.maintenance.jobs as jobs
from calsync.errors import TransientError
from calsync.functions import runtime
from calsync.functions.indexing import user_functions
from calsync.settings import Settings, load_settings
from calsync.telemetry import configure_telemetry, reset_telemetry
from calsync.telemetry.metrics import TIMER_RUNS, TimerOutcome, use_meter_provider
from calsync.telemetry.redaction import MASK, clear_secrets
from calsync.telemetry.runs import use_tracer_provider
from tests.test_infra_consistency import ALERTS_BICEP, alert_queries

CLIENT_STATE = "timer-test-client-state-0123456789"


@dataclass
class Captured:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def runs(self) -> list[dict[str, Any]]:
        """(attributes + value) of every calsync.timer.runs point."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == TIMER_RUNS:
                        found.extend({**point.attributes, "value": point.value} for point in metric.data.data_points)
        return found

    def span(self, name: str) -> ReadableSpan:
        (span,) = [s for s in self.spans.get_finished_spans() if s.name == name]
        return span


@pytest.fixture
def settings() -> Settings:
    return load_settings(
        tables_connection_string="UseDevelopmentStorage=true", graph_auth_mode="none",
        graph_client_state=CLIENT_STATE, booking_webhook_secrets="whsec-timer-test",
    )  # fmt: skip


@pytest.fixture
def captured(settings: Settings) -> Iterator[Captured]:
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    configure_telemetry(settings, metric_readers=[reader], log_exporters=[InMemoryLogRecordExporter()],
                        span_exporters=[spans])  # fmt: skip
    try:
        yield Captured(spans, reader)
    finally:
        reset_telemetry()
        clear_secrets()


def failing_services(settings: Settings, error: Exception) -> contextlib.AbstractContextManager[runtime.Runtime]:
    """The runtime's services cannot be opened (Graph down, say): the maintenance run raises."""

    async def services_factory(_: Settings) -> Any:
        raise error

    return runtime.installed(runtime.Runtime(settings, publisher=object(), services_factory=services_factory))  # type: ignore[arg-type]


async def run_maintenance_function(*, past_due: bool = False) -> None:
    maintenance = user_functions()["maintenance"]
    timer: func.TimerRequest = TimerRequest(past_due=past_due)
    await maintenance(timer)


@pytest.fixture
def failing_run(settings: Settings, captured: Captured) -> Iterator[Captured]:
    with failing_services(settings, TransientError("Graph answered 503", side="outlook", status=503)):
        yield captured


async def test_a_failing_maintenance_run_emits_a_failed_server_span_and_counts_the_failure(
    failing_run: Captured,
) -> None:
    with pytest.raises(TransientError):  # the host still sees the failure
        await run_maintenance_function(past_due=True)

    span = failing_run.span("maintenance")
    assert span.kind is SpanKind.SERVER
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["faas.trigger"] == "timer"
    assert span.attributes["calsync.timer.past_due"] is True
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"].endswith("TransientError")
    assert failing_run.runs() == [
        {"function": "maintenance", "outcome": "failed", "error_type": "TransientError", "past_due": "true",
         "value": 1}
    ]  # fmt: skip


async def test_a_successful_run_counts_as_succeeded_and_its_span_is_not_an_error(
    settings: Settings, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    maintenance_service = types.SimpleNamespace(onboard=None)

    class Services:
        def maintenance(self, publisher: Any) -> Any:
            return maintenance_service

    async def services_factory(_: Settings) -> Any:
        return Services()

    async def run(service: Any) -> None:
        assert service is maintenance_service

    monkeypatch.setattr(jobs, "run_maintenance", run)
    with runtime.installed(runtime.Runtime(settings, publisher=object(), services_factory=services_factory)):  # type: ignore[arg-type]
        await run_maintenance_function()

    span = captured.span("maintenance")
    assert span.status.is_ok and not span.events
    assert captured.runs() == [{"function": "maintenance", "outcome": "succeeded", "past_due": "false", "value": 1}]


# --- what the alerts query -----------------------------------------------------------------------


def _maintenance_alert_query() -> str:
    (query,) = [q for q in alert_queries(ALERTS_BICEP.read_text(encoding="utf-8")).values() if "calsync.timer.runs" in q]
    return query


def test_the_maintenance_alert_filters_on_what_a_failing_run_emits() -> None:
    """The alert's metric name, function and outcome values are the ones calsync records."""
    query = _maintenance_alert_query()
    assert re.search(rf'name == "{re.escape(TIMER_RUNS)}"', query)
    assert 'tostring(customDimensions.function) == "maintenance"' in query
    outcomes = set(re.findall(r'customDimensions\.outcome\) == "(\w+)"', query))
    assert outcomes == {TimerOutcome.SUCCEEDED.value, TimerOutcome.FAILED.value}
    assert "succeeded == 0" in query  # a timer that stops running alerts as well


async def test_a_failing_run_is_found_by_each_alert_that_covers_the_timer(failing_run: Captured) -> None:
    with pytest.raises(TransientError):
        await run_maintenance_function()

    # Alert 6 (maintenance-runs): the counter point its query sums as `failed`.
    query = _maintenance_alert_query()
    filters = dict(re.findall(r"tostring\(customDimensions\.(\w+)\) == \"(\w+)\"", query.split("| summarize")[0]))
    failed = [p for p in failing_run.runs() if all(p.get(k) == v for k, v in filters.items())]
    assert [p["outcome"] for p in failed] == ["failed"]

    # Alert 2 (function-failure-rate) reads `requests`: Azure Monitor's exporter turns the
    # SERVER span into a request named after the function, with success = false.
    failure_rate = next(q for q in alert_queries(ALERTS_BICEP.read_text(encoding="utf-8")).values()
                        if q.startswith("requests"))  # fmt: skip
    assert "success == false" in failure_rate
    request = _as_application_insights_item(failing_run.span("maintenance"))
    assert request.data.base_type == "RequestData"
    assert request.data.base_data.name == "maintenance"
    assert request.data.base_data.success is False


def _as_application_insights_item(span: ReadableSpan) -> Any:
    try:
        from azure.monitor.opentelemetry.exporter.export.trace._exporter import _convert_span_to_envelope
    except ImportError as exc:  # a private function of the distro's exporter; fail loudly if it moves
        pytest.fail(f"azure-monitor-opentelemetry-exporter changed: {exc}")
    return _convert_span_to_envelope(span)


# --- flushing ------------------------------------------------------------------------------------


class _HeldMetricExporter(MetricExporter):
    """Keeps what a periodic reader exports (it exports only on its interval, or on a flush)."""

    def __init__(self) -> None:
        super().__init__()
        self.exported: list[MetricsData] = []

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **_: Any) -> MetricExportResult:
        self.exported.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **_: Any) -> None:
        return None


def _metric_names(batches: Sequence[MetricsData]) -> set[str]:
    return {m.name for b in batches for r in b.resource_metrics for s in r.scope_metrics for m in s.metrics}


async def test_the_run_flushes_its_telemetry_before_it_returns(settings: Settings) -> None:
    """With exporters that send only every hour, the run's span and counter are exported anyway."""
    spans, metrics = InMemorySpanExporter(), _HeldMetricExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(spans, schedule_delay_millis=3_600_000))
    meter_provider = MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(metrics, export_interval_millis=3_600_000)]
    )
    use_tracer_provider(tracer_provider)
    use_meter_provider(meter_provider)
    try:
        with failing_services(settings, TransientError("Graph answered 503", side="outlook", status=503)), \
                pytest.raises(TransientError):
            await run_maintenance_function()
        assert [s.name for s in spans.get_finished_spans()] == ["maintenance"]
        assert TIMER_RUNS in _metric_names(metrics.exported)
    finally:
        use_tracer_provider(None)
        use_meter_provider(None)
        tracer_provider.shutdown()
        meter_provider.shutdown()


async def test_a_secret_in_the_failure_never_reaches_the_span(settings: Settings, captured: Captured) -> None:
    error = RuntimeError(f"subscription refused for clientState={CLIENT_STATE}")
    with failing_services(settings, error), pytest.raises(RuntimeError):
        await run_maintenance_function()

    span = captured.span("maintenance")
    exported = [span.status.description or ""]
    for event in span.events:
        exported.extend(str(value) for value in event.attributes.values())
    assert all(CLIENT_STATE not in text for text in exported)
    assert any(MASK in text for text in exported)
