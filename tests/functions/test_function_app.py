"""function_app.py as the Functions host indexes it: every function's bindings, and a light webhook path."""

from __future__ import annotations

import os
import subprocess
import sys

from calsync.functions.indexing import raw_bindings, user_functions


def bindings() -> dict[str, list[dict]]:
    return raw_bindings()


def test_the_app_declares_exactly_calsyncs_functions() -> None:
    assert set(user_functions()) >= {
        "graph_webhook",
        "graph_lifecycle",
        "booking_webhook",
        "sync_change",
        "maintenance",
        "reconcile_room",
    }


def test_http_triggers_have_their_routes_methods_and_anonymous_auth() -> None:
    expected = {"graph_webhook": "graph/notifications", "graph_lifecycle": "graph/lifecycle",
                "booking_webhook": "booking/webhook"}  # fmt: skip
    found = bindings()
    for name, route in expected.items():
        trigger = next(b for b in found[name] if b["type"] == "httpTrigger")
        assert trigger["route"] == route
        assert trigger["methods"] == ["POST"]
        assert trigger["authLevel"] == "ANONYMOUS"  # Graph cannot send function keys; clientState/HMAC authenticate
        assert any(b["type"] == "http" and b["direction"] == "OUT" for b in found[name])


def test_sync_change_listens_to_the_changes_queue_with_sessions_and_identity_connection() -> None:
    trigger = next(b for b in bindings()["sync_change"] if b["type"] == "serviceBusTrigger")
    assert trigger["queueName"] == "%CHANGES_QUEUE%"
    assert trigger["connection"] == "ServiceBusConnection"  # -> ServiceBusConnection__fullyQualifiedNamespace
    assert trigger["isSessionsEnabled"] is True


def test_indexing_the_app_does_not_import_the_graph_sdk() -> None:
    code = "import sys, function_app; sys.exit(1 if any(m.startswith('msgraph') for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)  # noqa: S603
    assert result.returncode == 0, result.stderr or "function_app.py imported msgraph at indexing time"


def test_maintenance_timer_runs_every_15_minutes() -> None:
    [trigger] = [b for b in bindings()["maintenance"] if b["type"] == "timerTrigger"]
    assert trigger["schedule"] == "0 */15 * * * *"
    assert trigger["runOnStartup"] is False  # a scale-out or restart must not start an extra run


def test_reconcile_room_listens_to_the_reconcile_queue_without_sessions() -> None:
    trigger = next(b for b in bindings()["reconcile_room"] if b["type"] == "serviceBusTrigger")
    assert trigger["queueName"] == "%RECONCILE_QUEUE%"
    assert trigger["connection"] == "ServiceBusConnection"
    assert not trigger.get("isSessionsEnabled", False)  # rooms reconcile in parallel, jobs carry no session


def test_the_worker_builds_settings_and_telemetry_at_load_not_on_the_first_webhook() -> None:
    code = (
        "import function_app\n"
        "from calsync.functions import runtime\n"
        "assert runtime._current is not None, 'runtime not built at load'\n"
    )
    env = {**os.environ, "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true", "GRAPH_AUTH_MODE": "none"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)  # noqa: S603
    assert result.returncode == 0, result.stderr


def test_invalid_settings_are_reported_at_load_and_indexing_still_works() -> None:
    code = "import function_app; assert len(function_app.app.get_functions()) >= 6"
    env = {k: v for k, v in os.environ.items() if k not in ("TABLES_CONNECTION_STRING", "TABLES_ENDPOINT")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)  # noqa: S603
    assert result.returncode == 0, result.stderr
    assert "calsync cannot start" in result.stderr and "TABLES_CONNECTION_STRING" in result.stderr
