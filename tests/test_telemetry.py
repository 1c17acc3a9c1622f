"""Telemetry as an operator sees it: the documented metrics, correlated log lines, and no leaks.

Everything is captured with OpenTelemetry's in-memory metric reader and log exporter,
wired by the same ``configure_telemetry`` that production calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import calsync.telemetry as telemetry
from calsync.errors import MassDeletionGuardTripped, NotFound, Throttled
from calsync.model import Booking, ChangeHint, HintReason, Sensitivity, Side, SourceIds
from calsync.settings import load_settings
from calsync.telemetry import (
    MASK,
    METRIC_NAMES,
    configure_telemetry,
    describe_booking,
    lag_seconds,
    record_action,
    record_conflict,
    record_failure,
    record_hint,
    record_subscription_renewal,
    reset_telemetry,
    sync_context,
)
from calsync.telemetry.redaction import clear_secrets

CLIENT_STATE = "cs-9f8e7d6c5b4a3f2e1d0c"
WEBHOOK_SECRETS = ("whsec-current-0123456789", "whsec-previous-9876543210")
API_KEY = "bk-api-key-ABCDEFGHIJKLMNOP"
PRIVATE_SUBJECT = "Divorce lawyer with Sam"

log = logging.getLogger("calsync.sync")
OPERATIONS_DOC = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


@dataclass
class Captured:
    reader: InMemoryMetricReader
    exporter: InMemoryLogRecordExporter

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, data point) for every point of metric ``name``."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend((dict(point.attributes), point) for point in metric.data.data_points)
        return found

    def total(self, name: str, **attributes: str) -> float:
        return sum(
            point.value
            for attrs, point in self.points(name)
            if all(attrs.get(key) == value for key, value in attributes.items())
        )

    def logs(self) -> list[Any]:
        return [item.log_record for item in self.exporter.get_finished_logs()]

    def exported_text(self) -> str:
        """Everything exported as logs: bodies and attribute values, as one string."""
        parts = []
        for record in self.logs():
            parts.append(str(record.body))
            parts.extend(f"{key}={value}" for key, value in (record.attributes or {}).items())
        return "\n".join(parts)


@pytest.fixture
def settings():
    return load_settings(
        tables_endpoint="https://example.table.core.windows.net",
        graph_auth_mode="none",
        graph_client_state=CLIENT_STATE,
        booking_webhook_secrets=",".join(WEBHOOK_SECRETS),
        booking_api_key=API_KEY,
    )


@pytest.fixture
def captured(settings) -> Iterator[Captured]:
    reader, exporter = InMemoryMetricReader(), InMemoryLogRecordExporter()
    exported = configure_telemetry(settings, metric_readers=[reader], log_exporters=[exporter])
    assert exported is False  # in-memory only, never Azure
    try:
        yield Captured(reader, exporter)
    finally:
        reset_telemetry()
        clear_secrets()


def hint(**overrides: Any) -> ChangeHint:
    values: dict[str, Any] = {
        "source": Side.OUTLOOK,
        "room": "room-a",
        "item_id": "AAMkAGI2TG93AAA=",
        "reason": HintReason.WEBHOOK,
        "observed_at": dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC),
    }
    values.update(overrides)
    return ChangeHint(**values)


def private_booking() -> Booking:
    return Booking(
        room="room-a",
        subject=PRIVATE_SUBJECT,
        start=dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC),
        end=dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC),
        sensitivity=Sensitivity.PRIVATE,
        organizer={"name": "Sam Doe", "email": "sam@contoso.com"},
        ids=SourceIds(outlook="AAMk-1", booking="B-7"),
    )


# --- metrics ---------------------------------------------------------------------------------


def test_hints_are_counted_by_source_reason_and_room(captured: Captured) -> None:
    record_hint(hint())
    record_hint(hint(item_id="other"))
    record_hint(hint(source=Side.BOOKING, reason=HintReason.RECONCILE, item_id="B-1"))

    assert captured.total("calsync.hints.received", source="outlook", reason="webhook", room="room-a") == 2
    assert captured.total("calsync.hints.received", source="booking", reason="reconcile") == 1


@pytest.mark.parametrize("action", ["create", "update", "delete", "decline", "skip-echo", "skip-unchanged", "conflict"])
def test_every_documented_action_is_counted(captured: Captured, action: str) -> None:
    record_action(action, room="room-a", source=Side.BOOKING)

    assert captured.total("calsync.syncs.applied", action=action, source="booking", room="room-a") == 1


def test_an_echo_also_counts_as_suppressed_and_other_actions_do_not(captured: Captured) -> None:
    record_action("skip-echo", room="room-a", source="outlook")
    record_action("update", room="room-a", source="outlook")

    assert captured.total("calsync.echoes.suppressed", source="outlook", room="room-a") == 1


def test_an_unknown_action_is_refused_instead_of_starting_a_new_series(captured: Captured) -> None:
    with pytest.raises(ValueError):
        record_action("created", room="room-a", source="outlook")
    assert captured.points("calsync.syncs.applied") == []


def test_lag_is_a_histogram_in_seconds_by_action(captured: Captured) -> None:
    changed = dt.datetime(2026, 11, 24, 9, 0, 0, tzinfo=dt.UTC)
    written = changed + dt.timedelta(seconds=3.5)
    record_action("create", room="room-a", source="outlook", lag_seconds=lag_seconds(changed, written))
    record_action("update", room="room-a", source="outlook", lag_seconds=1.5)
    record_action("skip-unchanged", room="room-a", source="outlook")  # wrote nothing: no lag

    points = captured.points("calsync.sync.lag")
    by_action = {attrs["action"]: point for attrs, point in points}
    assert set(by_action) == {"create", "update"}
    assert by_action["create"].sum == pytest.approx(3.5)
    assert by_action["create"].count == 1
    assert lag_seconds(written, changed) == 0.0  # clocks a little apart never give a negative lag


def test_conflicts_carry_policy_and_winner(captured: Captured) -> None:
    record_conflict(room="room-a", policy="first-come", winner=Side.OUTLOOK)

    assert captured.total("calsync.conflicts", policy="first-come", winner="outlook", room="room-a") == 1


def test_failures_say_what_failed_and_whether_a_retry_can_help(captured: Captured) -> None:
    record_failure(Throttled("429 from Graph", side="outlook", status=429), room="room-a")
    record_failure(NotFound("gone", side="booking", status=404), room="room-a")
    record_failure(KeyError("bug"), room="room-a")

    assert captured.total("calsync.failures", error_type="Throttled", retryable="true", side="outlook") == 1
    assert captured.total("calsync.failures", error_type="NotFound", retryable="false", side="booking") == 1
    assert captured.total("calsync.failures", error_type="KeyError", retryable="false", room="room-a") == 1


def test_a_tripped_mass_deletion_guard_has_its_own_counter(captured: Captured) -> None:
    guard = MassDeletionGuardTripped("half gone", room="room-b", side="booking", missing=8, mapped=10)
    record_failure(guard, room="room-b", side="outlook")  # the hint came from Outlook; the booking side looks empty

    assert captured.total("calsync.mass_deletion_guard.trips", room="room-b", side="booking") == 1
    assert captured.total("calsync.failures", error_type="MassDeletionGuardTripped", room="room-b") == 1


def test_subscription_renewals_are_counted_by_outcome(captured: Captured) -> None:
    record_subscription_renewal("renewed", room="room-a")
    record_subscription_renewal("failed", room="room-b")

    assert captured.total("calsync.subscriptions.renewals", outcome="failed", room="room-b") == 1
    assert captured.total("calsync.subscriptions.renewals", outcome="renewed") == 1


def test_every_metric_is_documented_in_the_runbook() -> None:
    text = OPERATIONS_DOC.read_text(encoding="utf-8")
    missing = [name for name in METRIC_NAMES if f"`{name}`" not in text]
    assert missing == []


# --- correlation -----------------------------------------------------------------------------


def test_log_lines_inside_a_sync_carry_room_source_ids_and_message_id(captured: Captured) -> None:
    change = hint()
    log.info("before any sync")
    with sync_context(
        room=change.room, source=change.source, item_id=change.item_id, message_id=change.message_id
    ) as ctx:
        log.info("fetched current state")
        ctx.update(booking_id="B-42")
        logging.getLogger("calsync.booking.client").warning("created on the booking side")
    log.info("after the sync")

    before, fetched, created, after = captured.logs()
    expected = {"room": "room-a", "source": "outlook", "item_id": change.item_id, "message_id": change.message_id}
    assert expected.items() <= dict(fetched.attributes).items()
    assert "booking_id" not in fetched.attributes
    assert dict(created.attributes)["booking_id"] == "B-42"
    assert expected.items() <= dict(created.attributes).items()
    for outside in (before, after):
        assert not {"room", "message_id", "item_id"} & set(outside.attributes)


async def test_concurrent_syncs_of_different_rooms_keep_their_own_correlation(captured: Captured) -> None:
    async def sync(room: str) -> None:
        with sync_context(room=room, source="booking", item_id=f"{room}-item"):
            await asyncio.sleep(0)
            log.info("applied")
            await asyncio.sleep(0)
            log.info("saved mapping")

    await asyncio.gather(sync("room-a"), sync("room-b"))

    pairs = {(dict(r.attributes)["room"], dict(r.attributes)["item_id"]) for r in captured.logs()}
    assert pairs == {("room-a", "room-a-item"), ("room-b", "room-b-item")}


def test_an_unknown_correlation_attribute_is_refused(captured: Captured) -> None:
    with sync_context(room="room-a") as ctx, pytest.raises(TypeError):
        ctx.update(subject="Board meeting")


# --- redaction ---------------------------------------------------------------------------------


def test_registered_secrets_logged_by_mistake_come_out_masked(captured: Captured) -> None:
    log.warning("clientState mismatch: expected %s", CLIENT_STATE)
    log.info("webhook secrets %s", list(WEBHOOK_SECRETS))
    log.info("calling booking API", extra={"authorization": f"Bearer {API_KEY}"})

    text = captured.exported_text()
    for secret in (CLIENT_STATE, *WEBHOOK_SECRETS, API_KEY):
        assert secret not in text
    assert text.count(MASK) >= 4
    assert "clientState mismatch: expected" in text  # the line itself still says what happened


def test_a_secret_inside_an_exception_never_leaves_the_process(captured: Captured) -> None:
    try:
        raise RuntimeError(f"booking API rejected key {API_KEY}")
    except RuntimeError:
        log.exception("booking call failed")

    (record,) = captured.logs()
    assert API_KEY not in captured.exported_text()
    assert dict(record.attributes)["exception.type"] == "RuntimeError"
    assert MASK in dict(record.attributes)["exception.stacktrace"]


def test_credential_shaped_strings_are_masked_even_when_not_registered(captured: Captured) -> None:
    log.error("storage failed: DefaultEndpointsProtocol=https;AccountName=st1;AccountKey=c2VjcmV0LWtleS0xMjM0NTY3OA==;")
    text = captured.exported_text()
    assert "c2VjcmV0LWtleS0xMjM0NTY3OA==" not in text
    assert f"AccountKey={MASK}" in text


def test_a_private_subject_logged_by_mistake_inside_its_sync_is_masked(captured: Captured) -> None:
    booking = private_booking()
    with sync_context(room="room-a", source="outlook", item_id="AAMk-1") as ctx:
        ctx.protect(booking)
        log.info(f"copying '{booking.subject}' to the booking system")  # the mistake
        log.info("copying booking", extra={"attendees": ["sam@contoso.com", "lawyer@example.org"]})

    text = captured.exported_text()
    assert PRIVATE_SUBJECT not in text
    assert "sam@contoso.com" not in text and "lawyer@example.org" not in text


def test_describe_booking_shows_a_normal_subject_but_never_a_private_one_or_people() -> None:
    private = describe_booking(private_booking())
    normal = describe_booking(private_booking().model_copy(update={"sensitivity": Sensitivity.NORMAL}))

    assert private["subject"] == "[private]"
    assert normal["subject"] == PRIVATE_SUBJECT
    for description in (private, normal):
        assert "sam@contoso.com" not in str(description) and "Sam Doe" not in str(description)
        assert description["outlook_id"] == "AAMk-1" and description["booking_id"] == "B-7"


def test_masking_also_reaches_handlers_other_than_opentelemetry(captured: Captured, caplog) -> None:
    """The Functions host forwards worker logs through its own handler: it must not see secrets either."""
    with caplog.at_level(logging.INFO, logger="calsync"):
        log.info("state is %s", CLIENT_STATE)
    assert CLIENT_STATE not in caplog.text
    assert MASK in caplog.text


# --- start-up ----------------------------------------------------------------------------------


def test_without_a_connection_string_nothing_is_exported(monkeypatch, settings) -> None:
    import azure.monitor.opentelemetry as distro

    def refuse(**_: Any) -> None:
        raise AssertionError("configure_azure_monitor must not run without a connection string")

    monkeypatch.setattr(distro, "configure_azure_monitor", refuse)
    monkeypatch.setattr(telemetry, "_azure_monitor_configured", False)
    try:
        assert configure_telemetry(settings) is False
    finally:
        clear_secrets()


def test_azure_monitor_is_configured_once_with_redaction_ahead_of_the_exporter(monkeypatch, settings) -> None:
    import azure.monitor.opentelemetry as distro

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(distro, "configure_azure_monitor", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(telemetry, "_azure_monitor_configured", False)
    connection = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.invalid/"
    configured = settings.model_copy(
        update={
            "applicationinsights_connection_string": load_settings(
                tables_endpoint="https://example.table.core.windows.net",
                graph_auth_mode="none",
                applicationinsights_connection_string=connection,
            ).applicationinsights_connection_string,
            "azure_client_id": "11111111-2222-3333-4444-555555555555",
        }
    )
    try:
        assert configure_telemetry(configured) is True
        assert configure_telemetry(configured) is True  # a second start-up path: no second pipeline
    finally:
        clear_secrets()

    (call,) = calls
    assert call["connection_string"] == connection
    assert call["logger_name"] == "calsync"
    assert [type(p).__name__ for p in call["log_record_processors"]] == ["RedactingLogRecordProcessor"]
    assert call["credential"] is not None  # Application Insights accepts Entra-authenticated telemetry only


# --- a real sync run -----------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.slow
async def test_a_real_sync_run_emits_the_documented_metrics_and_correlated_logs_without_leaks(azurite) -> None:
    """Azurite, both emulators, the loopback functions host and the engine, as in tests/e2e."""
    from devstack.local_stack import BOOKING_API_KEY, LocalStack

    reader, exporter = InMemoryMetricReader(), InMemoryLogRecordExporter()
    async with LocalStack(azurite=azurite) as stack:
        configure_telemetry(stack.settings, metric_readers=[reader], log_exporters=[exporter])
        try:
            booked = stack.booking.user_create_booking(
                "R-100", title="Quarterly review", start="2026-12-03T09:00:00+01:00",
                end="2026-12-03T10:00:00+01:00", time_zone="Europe/Berlin",
                organizer={"name": "Ada", "email": "ada@contoso.example"},
            )  # fmt: skip
            stack.graph.user_create_event(
                "room-a@contoso.example",
                {"subject": PRIVATE_SUBJECT, "sensitivity": "private",
                 "start": {"dateTime": "2026-12-10T15:00:00", "timeZone": "W. Europe Standard Time"},
                 "end": {"dateTime": "2026-12-10T16:00:00", "timeZone": "W. Europe Standard Time"}},
            )  # fmt: skip
            await stack.settle()
            captured = Captured(reader, exporter)

            # Metrics: the booking's hint, its create on the Outlook side, the lag, and our own write's echo.
            assert captured.total("calsync.hints.received", source="booking", room="room-a") >= 1
            assert captured.total("calsync.syncs.applied", action="create", source="booking", room="room-a") == 1
            assert captured.total("calsync.syncs.applied", action="create", source="outlook", room="room-a") == 1
            lags = [p for attrs, p in captured.points("calsync.sync.lag") if attrs["action"] == "create"]
            assert sum(p.count for p in lags) == 2
            assert captured.total("calsync.echoes.suppressed", room="room-a") >= 1

            # Logs: the engine's line about the booking's sync carries the whole correlation.
            correlated = [
                dict(r.attributes)
                for r in captured.logs()
                if dict(r.attributes).get("item_id") == booked["id"] and dict(r.attributes).get("source") == "booking"
            ]
            assert correlated, "no log line of the booking's sync carried its item id"
            for attributes in correlated:
                assert attributes["room"] == "room-a"
                assert attributes["message_id"].startswith("booking-")

            # Nothing secret or private left the process.
            text = captured.exported_text()
            for secret in (stack.client_state, stack.webhook_secret, BOOKING_API_KEY):
                assert secret not in text
            assert PRIVATE_SUBJECT not in text
        finally:
            reset_telemetry()
            clear_secrets()


def test_extras_inside_a_sync_win_over_the_context_and_never_break_logging(captured: Captured) -> None:
    booking = private_booking()
    with sync_context(room="room-a", source="outlook", item_id="AAMk-1", message_id="outlook-1"):
        log.info("created on the booking side", extra=describe_booking(booking))
        log.info("adopted", extra={"booking_id": "B-99"})

    described, adopted = (dict(r.attributes) for r in captured.logs())
    assert described["subject"] == "[private]" and described["booking_id"] == "B-7"
    assert described["message_id"] == "outlook-1"  # the context still fills in what extra= did not give
    assert adopted["booking_id"] == "B-99" and adopted["item_id"] == "AAMk-1"
