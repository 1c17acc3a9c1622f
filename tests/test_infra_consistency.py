"""The Bicep in infra/ against the code, since no Bicep CLI can compile it here.

What an operator would otherwise find out at 3 a.m. after a deploy:
- a setting calsync reads is never set in Azure (or set under a stale name);
- a connection or queue that function_app.py binds to has no identity-based app
  settings, or names a queue that infra does not create (or creates without sessions);
- a secret sits in an infra file instead of Key Vault.

Each check is a function over text, so the tests at the bottom can show that renaming a
setting on one side only makes it fail.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from calsync.settings import Settings, env_name

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
MAIN_BICEP = INFRA / "main.bicep"
FUNCTION_APP_BICEP = INFRA / "modules" / "functionapp.bicep"
SERVICEBUS_BICEP = INFRA / "modules" / "servicebus.bicep"
MONITORING_BICEP = INFRA / "modules" / "monitoring.bicep"
ALERTS_BICEP = INFRA / "modules" / "alerts.bicep"
RBAC_BICEP = INFRA / "modules" / "rbac.bicep"
HOST_JSON = ROOT / "host.json"
EMULATOR_CONFIG = INFRA / "servicebus-emulator" / "Config.json"
SAMPLE = ROOT / "local.settings.sample.json"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"

# Settings that deliberately have no app setting in infra, each with the reason. A setting
# listed here that infra does set, or that Settings no longer has, fails the test too.
NOT_SET_IN_INFRA: dict[str, str] = {
    # Azurite only. In Azure the tables are reached with the managed identity via TABLES_ENDPOINT.
    "TABLES_CONNECTION_STRING": "Azurite only; Azure uses TABLES_ENDPOINT with the managed identity",
    # The default (https://graph.microsoft.com/v1.0) is right in Azure; tests point it at the emulator.
    "GRAPH_BASE_URL": "the default is Microsoft Graph itself",
    # Certificate auth is for runs outside Azure: in Azure calsync uses the managed identity or
    # workload identity federation, so graphAuthMode does not offer 'certificate' at all.
    "ServiceBusConnection": "Service Bus emulator's SAS string for local runs only; Azure is identity-based",
    "GRAPH_CERTIFICATE_PATH": "certificate mode is not offered in Azure (managed identity / federation instead)",
    # The CLI on an operator's machine sets it; in Azure the bindings use ServiceBusConnection__*,
    # which infra sets (same name: Settings reads that very app setting).
    # Tuning knobs whose defaults suit production; add them to calsyncSettings to override.
    "GRAPH_SUBSCRIPTION_MINUTES": "default suits production",
    "GRAPH_MAX_CONCURRENCY_PER_MAILBOX": "default is Graph's own limit",
    "GRAPH_TIMEOUT_SECONDS": "default suits production",
    "GRAPH_MAX_RETRY_WAIT_SECONDS": "default suits production",
    "BOOKING_TIMEOUT_SECONDS": "default suits production",
    "SYNC_WINDOW_PAST_DAYS": "default suits production",
    "SYNC_WINDOW_FUTURE_DAYS": "default suits production",
    "MASS_DELETE_THRESHOLD": "default suits production",
    "MASS_DELETE_MIN_BOOKINGS": "default suits production",
    "MASS_DELETE_WINDOW_MINUTES": "default suits production",
    "PRIVATE_SUBJECT": "default suits production",
    "WEBHOOK_MAX_BODY_BYTES": "default suits production",
    # The MRBS backend (docs/booking-mrbs.md) is chosen per organisation after deployment; its
    # database sits on the organisation's network, so the operator sets these (the password as a
    # Key Vault reference) when switching BOOKING_BACKEND to mrbs; docs/deploy.md says how.
    "BOOKING_BACKEND": "default rest; an operator switches to mrbs (docs/booking-mrbs.md)",
    "MRBS_DATABASE_URL": "only with BOOKING_BACKEND=mrbs; the organisation's database",
    "MRBS_DATABASE_PASSWORD": "only with BOOKING_BACKEND=mrbs; a Key Vault reference set by the operator",
    "MRBS_TABLE_PREFIX": "default is MRBS's own default",
    "MRBS_USER": "default suits production",
    "MRBS_TIME_ZONE": "only with BOOKING_BACKEND=mrbs; MRBS's own $timezone",
    "MRBS_BOOKING_TYPE": "default is MRBS's internal type",
    "MRBS_BLOCK_TYPE": "only with BOOKING_BACKEND=mrbs and a type letter for closures",
    # Organiser mode and scope (issue #14): the operator sets them after granting the service mailbox
    # (docs/deploy.md step 3; docs/operations.md "Organiser mode and room settings").
    "ORGANIZER_MODE": "derived from SERVICE_MAILBOX unless an operator sets it",
    "SERVICE_MAILBOX": "set by the operator once the mailbox is in calsync's Exchange scope",
    "TENANT_DOMAINS": "the organisation's own domains, set by the operator",
    "BOOKING_URL_TEMPLATE": "the booking system's own URL, set by the operator",
    "OUTLOOK_SCOPE": "default suits production (free events do not hold the room)",
    "BOOKING_SCOPE": "default suits production (every booking is synced)",
    "BOOKING_CANCELLATION": "default soft; delete for booking systems that only delete",
}

# App settings for the Functions host, not read by calsync's Settings.
HOST_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "PYTHON_ENABLE_OPENTELEMETRY",
}

# Secret settings whose value in infra is allowed not to be a Key Vault reference, and why.
SECRET_EXCEPTIONS = {
    # With DisableLocalAuth on the component (checked below) the connection string only says
    # where to send; ingestion needs an Entra token of the managed identity.
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
}

# Sample settings (local.settings.sample.json) that are the Functions host's own, for the docs table.
SAMPLE_HOST_ONLY = {"AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME"}

# Used until function_app.py exists; function_app.py is indexed instead whenever it imports.
FALLBACK_BINDINGS = (
    ("sync_change", "serviceBusTrigger", "ServiceBusConnection", "%CHANGES_QUEUE%", True),
    ("reconcile_room", "serviceBusTrigger", "ServiceBusConnection", "%RECONCILE_QUEUE%", False),
)


@dataclass(frozen=True)
class Binding:
    function: str
    type: str
    connection: str | None
    queue_name: str | None
    sessions: bool
    route: str | None = None
    setting_refs: tuple[str, ...] = ()


# --- reading the Bicep ----------------------------------------------------------------------


def _block(text: str, start: int) -> str:
    """The balanced {...} starting at the first '{' at or after ``start``."""
    open_at = text.index("{", start)
    depth = 0
    for index in range(open_at, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : index]
    raise ValueError("unbalanced braces in Bicep")


def _strip_comments(text: str) -> str:
    return re.sub(r"(?m)^\s*//.*$", "", text)


def app_settings(bicep: str) -> dict[str, str]:
    """App-setting name -> Bicep value expression, from every ``var <x>Settings = {...}`` block."""
    bicep = _strip_comments(bicep)
    settings: dict[str, str] = {}
    for match in re.finditer(r"(?m)^var (\w+Settings) =", bicep):
        body = _block(bicep, match.end())
        for line in body.splitlines():
            entry = re.match(r"\s*'?([A-Za-z_][A-Za-z0-9_]*)'?\s*:\s*(.+?)\s*$", line)
            if entry:
                settings[entry.group(1)] = entry.group(2)
    return settings


def param_defaults(bicep: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"(?m)^param (\w+) \w+ = '([^']*)'", bicep)}


def declared_queues(servicebus_bicep: str, main_bicep: str) -> dict[str, bool]:
    """Queue name -> requiresSession, resolving the module's name parameters through main.bicep."""
    defaults = param_defaults(servicebus_bicep)
    passed = {m.group(1): m.group(2) for m in re.finditer(r"(\w+QueueName): '([^']+)'", main_bicep)}
    queues: dict[str, bool] = {}
    for match in re.finditer(r"resource \w+ 'Microsoft\.ServiceBus/namespaces/queues@[^']+' = \{", servicebus_bicep):
        body = _block(servicebus_bicep, match.start())
        name_expr = re.search(r"(?m)^\s*name: (\S+)", body).group(1)
        name = name_expr.strip("'") if name_expr.startswith("'") else passed.get(name_expr, defaults.get(name_expr))
        sessions = re.search(r"requiresSession: (true|false)", body)
        queues[str(name)] = bool(sessions and sessions.group(1) == "true")
    return queues


@dataclass(frozen=True)
class Role:
    """A built-in role calsync needs: its id (the same in every tenant), where, and why."""

    name: str
    id: str
    scope: str  # the symbolic name of the resource in rbac.bicep
    why: str


# The managed identity's roles. Ids from Azure's built-in roles list; Service Bus Data Owner as
# in Azure-Samples/functions-quickstart-dotnet-azd-service-bus (infra/main.bicep).
IDENTITY_ROLES = {
    "storageBlobDataOwner": Role("Storage Blob Data Owner", "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "storage",
                                 "host storage and the Flex deployment package"),
    "storageTableDataContributor": Role("Storage Table Data Contributor", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
                                        "storage", "calsync's tables"),
    "serviceBusDataSender": Role("Azure Service Bus Data Sender", "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
                                 "serviceBus", "webhooks and maintenance enqueue"),
    "serviceBusDataReceiver": Role("Azure Service Bus Data Receiver", "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
                                   "serviceBus", "the queue triggers"),
    "serviceBusDataOwner": Role("Azure Service Bus Data Owner", "090c5cfd-751d-490a-894a-3ce6f1109419", "serviceBus",
                                "the Flex Consumption scaler reads queue lengths, a Manage operation"),
    "keyVaultSecretsUser": Role("Key Vault Secrets User", "4633458b-17de-408a-b874-0445c86b69e6", "vault",
                                "Key Vault references"),
    "monitoringMetricsPublisher": Role("Monitoring Metrics Publisher", "3913510d-42f4-4e42-8a64-420c390055eb",
                                       "appInsights", "telemetry with Entra auth"),
}  # fmt: skip


def role_assignments(rbac_bicep: str) -> list[dict[str, str]]:
    """Each roleAssignments resource: the role key it names in ``roles``, its scope and principal, and the role's id."""
    text = _strip_comments(rbac_bicep)
    ids = dict(re.findall(r"(?m)^\s*(\w+): '([0-9a-f-]{36})'", _block(text, text.index("var roles ="))))
    found = []
    for match in re.finditer(r"(?m)^resource (\w+) 'Microsoft\.Authorization/roleAssignments@[^']+' = ", text):
        body = _block(text, match.end())
        role = re.search(r"roleDefinitions', roles\.(\w+)\)", body)
        scope = re.search(r"(?m)^\s*scope: (\w+)", body)
        principal = re.search(r"(?m)^\s*principalId: (\w+)", body)
        key = role.group(1) if role else ""
        found.append({"resource": match.group(1), "role": key, "id": ids.get(key, ""),
                      "scope": scope.group(1) if scope else "", "principal": principal.group(1) if principal else ""})  # fmt: skip
    return found


def check_identity_roles(rbac_bicep: str) -> list[str]:
    """The managed identity holds every role in IDENTITY_ROLES, with the built-in id, on the right resource."""
    problems = []
    held = [a for a in role_assignments(rbac_bicep) if a["principal"] == "identityPrincipalId"]
    for key, role in IDENTITY_ROLES.items():
        matching = [a for a in held if a["role"] == key]
        if not matching:
            problems.append(f"{role.name}: not assigned to the managed identity ({role.why})")
        for assignment in matching:
            if assignment["id"] != role.id:
                problems.append(f"{role.name}: roles.{key} is {assignment['id'] or 'missing'}, not {role.id}")
            if assignment["scope"] != role.scope:
                problems.append(f"{role.name}: assigned on {assignment['scope']}, not {role.scope}")
    return problems


_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$")


def timespan_seconds(value: str) -> int:
    """A host.json TimeSpan ("00:10:00", "1.00:00:00") in seconds."""
    match = _TIMESPAN.match(value)
    if not match:
        raise ValueError(f"not a TimeSpan: {value!r}")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def check_lock_outlives_timeout(host: dict) -> list[str]:
    """Service Bus lock renewal lasts at least as long as a function may run (docs/architecture.md)."""
    timeout = host.get("functionTimeout")
    renewal = host.get("extensions", {}).get("serviceBus", {}).get("maxAutoLockRenewalDuration")
    if timeout is None or renewal is None:
        return [f"host.json must set functionTimeout and maxAutoLockRenewalDuration (got {timeout}, {renewal})"]
    if timespan_seconds(renewal) < timespan_seconds(timeout):
        return [f"maxAutoLockRenewalDuration {renewal} is shorter than functionTimeout {timeout}: a long run "
                "loses its session lock and a second instance starts the same room"]  # fmt: skip
    return []


def alert_queries(alerts_bicep: str) -> dict[str, str]:
    """Symbolic name -> KQL query of every scheduledQueryRules resource (Bicep interpolations left as written)."""
    queries = {}
    for match in re.finditer(r"(?m)^resource (\w+) 'Microsoft\.Insights/scheduledQueryRules@[^']+' = \{", alerts_bicep):
        query = re.search(r"(?m)^\s*query: '(.*)'$", _block(alerts_bicep, match.start()))
        if query:
            queries[match.group(1)] = query.group(1)
    return queries


# --- the checks -------------------------------------------------------------------------------


def settings_names() -> list[str]:
    return [env_name(field) for field in Settings.model_fields]


def secret_setting_names() -> set[str]:
    return {env_name(name) for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)}


def check_settings(bicep_settings: dict[str, str], calsync_settings: list[str], connections: set[str]) -> list[str]:
    """Every calsync setting set in infra or allow-listed; nothing in infra that nobody reads."""
    problems = []
    for name in calsync_settings:
        in_infra = name in bicep_settings
        if not in_infra and name not in NOT_SET_IN_INFRA:
            problems.append(f"{name}: read by calsync but set neither in infra nor listed in NOT_SET_IN_INFRA")
        if in_infra and name in NOT_SET_IN_INFRA:
            problems.append(f"{name}: set in infra but listed in NOT_SET_IN_INFRA (stale reason)")
    for name in NOT_SET_IN_INFRA:
        if name not in calsync_settings:
            problems.append(f"{name}: listed in NOT_SET_IN_INFRA but calsync has no such setting")
    known = set(calsync_settings) | HOST_SETTINGS | {f"{c}__{p}" for c in connections for p in _IDENTITY_PARTS}
    for name in bicep_settings:
        if name not in known:
            problems.append(f"{name}: set in infra but read by neither calsync, the host nor a binding")
    return problems


_IDENTITY_PARTS = ("fullyQualifiedNamespace", "credential", "clientId")


def check_bindings(bicep_settings: dict[str, str], bindings: list[Binding], queues: dict[str, bool]) -> list[str]:
    """Connections are identity-based and queues exist, with sessions where the trigger wants them."""
    problems = []
    for binding in bindings:
        for setting in binding.setting_refs:
            if setting not in bicep_settings:
                problems.append(f"{binding.function}: binding reads app setting %{setting}% which infra does not set")
        if binding.connection:
            if binding.connection in bicep_settings:
                problems.append(f"{binding.connection}: a connection string setting; use identity-based __ settings")
            for part in _IDENTITY_PARTS:
                if f"{binding.connection}__{part}" not in bicep_settings:
                    problems.append(
                        f"{binding.function}: connection {binding.connection} lacks {binding.connection}__{part}"
                    )
            if bicep_settings.get(f"{binding.connection}__credential") not in (None, "'managedidentity'"):
                problems.append(f"{binding.connection}__credential must be 'managedidentity'")
        if binding.queue_name:
            queue = binding.queue_name
            if queue.startswith("%") and queue.endswith("%"):
                setting = queue.strip("%")
                if setting not in bicep_settings:
                    problems.append(f"{binding.function}: queue setting {setting} is not set in infra")
                    continue
                queue = _setting_default(setting)
            if queue not in queues:
                problems.append(f"{binding.function}: queue {queue!r} is not declared in servicebus.bicep")
            elif queues[queue] != binding.sessions:
                problems.append(
                    f"{binding.function}: sessions={binding.sessions} but queue {queue!r} has requiresSession={queues[queue]}"
                )
    return problems


def _setting_default(name: str) -> str:
    for field_name, field in Settings.model_fields.items():
        if env_name(field_name) == name:
            return str(field.default)
    return name


def check_secrets(files: dict[str, str], bicep_settings: dict[str, str], secret_names: set[str]) -> list[str]:
    """No key, connection string or secret value in any infra file; secret settings come from Key Vault."""
    problems = []
    forbidden = {
        "AccountKey=": "a storage account key",
        "SharedAccessKey=": "a Service Bus / Event Hubs key",
        "SharedAccessSignature": "a SAS token",
        "InstrumentationKey=": "a literal Application Insights connection string",
        "listKeys(": "a key read into the template",
        "listConnectionStrings(": "a connection string read into the template",
        "BEGIN PRIVATE KEY": "a private key",
    }
    for path, text in files.items():
        for needle, what in forbidden.items():
            if needle.lower() in text.lower():
                problems.append(f"{path}: contains {what} ({needle})")
        for match in re.finditer(r"@secure\(\)(?:\s*@[^\n]*)*\s*param (\w+) \w+(?: = '([^']*)')?", text):
            if match.group(2):
                problems.append(f"{path}: secure parameter {match.group(1)} has a default value")
    for name in secret_names:
        value = bicep_settings.get(name)
        if value is None or name in SECRET_EXCEPTIONS:
            continue
        if not value.startswith("'@Microsoft.KeyVault(SecretUri="):
            problems.append(f"{name}: a secret setting whose value is not a Key Vault reference: {value}")
    return problems


_INDEX_SCRIPT = """
import json, re, function_app
out = []
for function in function_app.app.get_functions():
    for binding in function.get_bindings():
        data = binding.get_dict_repr()
        out.append({
            "function": function.get_function_name(),
            "type": str(data.get("type")),
            "connection": data.get("connection"),
            "queue_name": data.get("queueName"),
            "sessions": bool(data.get("isSessionsEnabled", False)),
            "route": data.get("route"),
            "setting_refs": sorted(set(re.findall(r"%([A-Za-z0-9_]+)%", json.dumps(data, default=str)))),
        })
print(json.dumps(out))
"""


@functools.cache
def function_bindings() -> tuple[list[Binding], bool]:
    """The bindings function_app.py declares, as the Functions host indexes them (or the fallback).

    Indexed in a child process: the SDK lets a FunctionApp be indexed only once per process,
    and tests/functions index this very app object.
    """
    if not (ROOT / "function_app.py").exists():
        return [Binding(f, t, c, q, s) for f, t, c, q, s in FALLBACK_BINDINGS], False
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", _INDEX_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    entries = json.loads(result.stdout.strip().splitlines()[-1])
    return [Binding(**{**entry, "setting_refs": tuple(entry["setting_refs"])}) for entry in entries], True


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bicep_text() -> str:
    return MAIN_BICEP.read_text(encoding="utf-8") + "\n" + FUNCTION_APP_BICEP.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def bicep_settings(bicep_text: str) -> dict[str, str]:
    return app_settings(bicep_text)


@pytest.fixture(scope="module")
def bindings() -> list[Binding]:
    return list(function_bindings()[0])


@pytest.fixture(scope="module")
def queues() -> dict[str, bool]:
    return declared_queues(SERVICEBUS_BICEP.read_text(encoding="utf-8"), MAIN_BICEP.read_text(encoding="utf-8"))


def _connections(bindings: list[Binding]) -> set[str]:
    return {b.connection for b in bindings if b.connection}


# --- the real files ---------------------------------------------------------------------------


def test_function_app_is_indexed_not_guessed() -> None:
    bindings, indexed = function_bindings()
    assert indexed, "function_app.py could not be imported; the test fell back to FALLBACK_BINDINGS"
    assert any(b.type == "serviceBusTrigger" for b in bindings)


def test_every_calsync_setting_is_set_in_infra_or_has_a_reason(bicep_settings, bindings) -> None:
    assert check_settings(bicep_settings, settings_names(), _connections(bindings)) == []


def test_connections_are_identity_based_and_queues_exist_with_the_right_sessions(
    bicep_settings, bindings, queues
) -> None:
    assert check_bindings(bicep_settings, bindings, queues) == []
    assert any(b.connection == "ServiceBusConnection" for b in bindings)


def test_queue_names_in_infra_match_the_settings_defaults(queues) -> None:
    defaults = Settings.model_fields
    assert set(queues) == {defaults["changes_queue"].default, defaults["reconcile_queue"].default}
    assert queues[defaults["changes_queue"].default] is True  # one session per room


def test_the_emulator_declares_the_same_queues_as_azure(queues) -> None:
    config = json.loads(EMULATOR_CONFIG.read_text(encoding="utf-8"))
    (namespace,) = config["UserConfig"]["Namespaces"]
    emulated = {q["Name"]: q["Properties"]["RequiresSession"] for q in namespace["Queues"]}
    assert emulated == queues
    for queue in namespace["Queues"]:
        assert queue["Properties"]["RequiresDuplicateDetection"] is True
        assert queue["Properties"]["MaxDeliveryCount"] == Settings.model_fields["max_delivery_count"].default


def test_max_delivery_count_is_one_value_for_queues_and_calsync() -> None:
    main = MAIN_BICEP.read_text(encoding="utf-8")
    default = re.search(r"param maxDeliveryCount int = (\d+)", main)
    assert default and int(default.group(1)) == Settings.model_fields["max_delivery_count"].default
    servicebus = SERVICEBUS_BICEP.read_text(encoding="utf-8")
    assert servicebus.count("maxDeliveryCount: maxDeliveryCount") == 2  # both queues use the parameter
    assert (
        app_settings(FUNCTION_APP_BICEP.read_text(encoding="utf-8"))["MAX_DELIVERY_COUNT"] == "string(maxDeliveryCount)"
    )


def test_webhook_urls_point_at_the_functions_routes(bicep_settings, bindings) -> None:
    routes = {b.function: b.route for b in bindings if b.route}
    expected = {
        "GRAPH_NOTIFICATION_URL": routes.get("graph_webhook"),
        "GRAPH_LIFECYCLE_URL": routes.get("graph_lifecycle"),
    }
    host_json = ROOT / "host.json"
    host = json.loads(host_json.read_text(encoding="utf-8")) if host_json.exists() else {}
    prefix = host.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    for setting, route in expected.items():
        assert route, f"function_app.py has no route for {setting}"
        assert bicep_settings[setting].endswith(f"/{prefix}/{route}'"), (setting, bicep_settings[setting])


def test_no_secret_in_any_infra_file(bicep_settings) -> None:
    files = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in INFRA.rglob("*") if p.is_file()}
    files["azure.yaml"] = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    assert check_secrets(files, bicep_settings, secret_setting_names()) == []


def test_application_insights_connection_string_is_not_a_credential() -> None:
    """Why APPLICATIONINSIGHTS_CONNECTION_STRING may be a plain app setting: local auth is off."""
    assert "DisableLocalAuth: true" in MONITORING_BICEP.read_text(encoding="utf-8")


def test_the_parameters_file_holds_no_values_only_environment_references() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    for name, entry in parameters.items():
        assert re.fullmatch(r"\$\{[A-Z_]+(=[^}]*)?\}", entry["value"]), name
    main = MAIN_BICEP.read_text(encoding="utf-8")
    secure = set(re.findall(r"@secure\(\)\s*param (\w+)", main))
    assert secure and not secure & set(parameters)
    declared = dict(re.findall(r"(?m)^param (\w+) [\w']+( = )?", main))
    assert set(parameters) <= set(declared)  # azd fails on a parameter main.bicep does not declare
    assert {name for name, default in declared.items() if not default} <= set(parameters)


def test_every_sample_setting_has_a_line_in_the_deploy_docs() -> None:
    sample = json.loads(SAMPLE.read_text(encoding="utf-8"))["Values"]
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    missing = [name for name in sample if f"| `{name}` |" not in doc]
    assert missing == []
    for name in NOT_SET_IN_INFRA:
        assert f"| `{name}` |" in doc


def test_alerts_read_metrics_that_calsync_emits() -> None:
    from calsync.telemetry.metrics import METRIC_NAMES, RenewalOutcome

    alerts = ALERTS_BICEP.read_text(encoding="utf-8")
    used = set(re.findall(r'name == "(calsync\.[a-z_.]+)"', alerts))
    assert used and used <= set(METRIC_NAMES)
    assert '"failed"' in alerts and RenewalOutcome.FAILED.value == "failed"


# --- the checks fail when one side changes alone ------------------------------------------------


def test_renaming_a_setting_in_infra_only_is_caught(bicep_text, bindings) -> None:
    renamed = bicep_text.replace("TABLES_ENDPOINT:", "TABLE_ENDPOINT:")
    problems = check_settings(app_settings(renamed), settings_names(), _connections(bindings))
    assert any(p.startswith("TABLES_ENDPOINT:") for p in problems)
    assert any(p.startswith("TABLE_ENDPOINT:") for p in problems)


def test_renaming_a_setting_in_calsync_only_is_caught(bicep_settings, bindings) -> None:
    names = [("BOOKING_URL" if n == "BOOKING_BASE_URL" else n) for n in settings_names()]
    problems = check_settings(bicep_settings, names, _connections(bindings))
    assert any(p.startswith("BOOKING_URL:") for p in problems)
    assert any(p.startswith("BOOKING_BASE_URL:") for p in problems)


def test_a_new_setting_without_infra_or_reason_is_caught(bicep_settings, bindings) -> None:
    before = check_settings(bicep_settings, settings_names(), _connections(bindings))
    after = check_settings(bicep_settings, [*settings_names(), "NEW_KNOB"], _connections(bindings))
    assert [p for p in after if p not in before] == [
        "NEW_KNOB: read by calsync but set neither in infra nor listed in NOT_SET_IN_INFRA"
    ]


def test_renaming_a_binding_connection_only_is_caught(bicep_settings, bindings, queues) -> None:
    renamed = [
        Binding(b.function, b.type, "ServiceBus", b.queue_name, b.sessions, b.route) if b.connection else b
        for b in bindings
    ]
    problems = check_bindings(bicep_settings, renamed, queues)
    assert any("ServiceBus__fullyQualifiedNamespace" in p for p in problems)


def test_a_queue_renamed_in_infra_only_or_without_sessions_is_caught(bindings) -> None:
    servicebus = SERVICEBUS_BICEP.read_text(encoding="utf-8")
    main = MAIN_BICEP.read_text(encoding="utf-8")
    settings = app_settings(FUNCTION_APP_BICEP.read_text(encoding="utf-8"))

    renamed = declared_queues(servicebus, main.replace("changesQueueName: 'changes'", "changesQueueName: 'hints'"))
    assert any("queue 'changes' is not declared" in p for p in check_bindings(settings, bindings, renamed))

    no_sessions = declared_queues(servicebus.replace("requiresSession: true", "requiresSession: false"), main)
    assert any("requiresSession=False" in p for p in check_bindings(settings, bindings, no_sessions))


def test_a_secret_written_into_infra_is_caught(bicep_text) -> None:
    leaked = bicep_text.replace("'@Microsoft.KeyVault(SecretUri=${graphClientStateUri})'", "'0f9c2a41b7d8e6f5a4c3b2a1'")
    problems = check_secrets({"main.bicep": leaked}, app_settings(leaked), secret_setting_names())
    assert any(p.startswith("GRAPH_CLIENT_STATE:") for p in problems)

    defaulted = "@secure()\n@description('x (y)')\nparam graphClientState string = 'literal-state'\n"
    assert any("has a default value" in p for p in check_secrets({"main.bicep": defaulted}, {}, set()))

    keyed = bicep_text + "\nvar conn = 'Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=abc='\n"
    assert any("SharedAccessKey" in p for p in check_secrets({"main.bicep": keyed}, {}, set()))


def test_host_json_loads_the_service_bus_extension_and_matches_the_telemetry_mode() -> None:
    """Python's Service Bus triggers come from the extension bundle; the worker's OpenTelemetry
    setting in infra (PYTHON_ENABLE_OPENTELEMETRY) needs the host in OpenTelemetry mode too."""
    host_json = ROOT / "host.json"
    if not host_json.exists():
        pytest.skip("host.json is missing: the Functions host cannot load the Service Bus triggers until it exists")
    host = json.loads(host_json.read_text(encoding="utf-8"))
    bundle = host.get("extensionBundle", {})
    assert bundle.get("id") == "Microsoft.Azure.Functions.ExtensionBundle"
    if app_settings(FUNCTION_APP_BICEP.read_text(encoding="utf-8")).get("PYTHON_ENABLE_OPENTELEMETRY") == "'true'":
        assert host.get("telemetryMode") == "OpenTelemetry"


# --- what a Bicep compiler would catch first ------------------------------------------------------


def bicep_syntax_problems(text: str) -> list[str]:
    """Unclosed strings and unbalanced brackets, outside comments (no multi-line strings are used)."""
    problems, stack = [], []
    pairs = {")": "(", "]": "[", "}": "{"}
    for number, line in enumerate(text.splitlines(), start=1):
        index, in_string = 0, False
        while index < len(line):
            char = line[index]
            if in_string:
                if char == "\\":
                    index += 1
                elif char == "'":
                    in_string = False
                elif line.startswith("${", index):
                    stack.append(("${", number))
                    in_string = False  # the interpolation's expression, up to its '}'
                    index += 1
            elif line.startswith("//", index):
                break
            elif char == "'":
                in_string = True
            elif char in "([{":
                stack.append((char, number))
            elif char in ")]}":
                if not stack:
                    problems.append(f"line {number}: unmatched {char}")
                else:
                    opened, _ = stack.pop()
                    if opened == "${":
                        if char != "}":
                            problems.append(f"line {number}: interpolation closed by {char}")
                        in_string = True
                    elif opened != pairs[char]:
                        problems.append(f"line {number}: {opened} closed by {char}")
            index += 1
        if in_string:
            problems.append(f"line {number}: unterminated string")
    problems.extend(f"line {line}: {opened} never closed" for opened, line in stack)
    return problems


def module_problems(main: str, modules: dict[str, str]) -> list[str]:
    """Parameters passed to each module exist there, required ones are passed, used outputs exist."""
    problems = []
    symbols: dict[str, str] = {}
    for match in re.finditer(r"(?m)^module (\w+) 'modules/(\w+)\.bicep' = (?:if \([^)]*\) )?\{", main):
        symbol, module = match.group(1), match.group(2)
        symbols[symbol] = module
        source = modules[module]
        declared = dict(re.findall(r"(?m)^param (\w+) [\w']+( = )?", source))
        body = _block(main, match.start())
        params_at = body.index("params:")
        passed = set(re.findall(r"(?m)^\s{4}(\w+):", _block(body, params_at)))
        problems += [f"{symbol}: passes unknown parameter {p}" for p in sorted(passed - set(declared))]
        problems += [
            f"{symbol}: misses required parameter {p}" for p, d in declared.items() if not d and p not in passed
        ]
    for symbol, output in re.findall(r"\b(\w+)\.outputs\.(\w+)", main):
        module = symbols.get(symbol)
        if module is None:
            problems.append(f"{symbol}.outputs.{output}: no such module")
        elif not re.search(rf"(?m)^output {output} ", modules[module]):
            problems.append(f"{symbol}.outputs.{output}: module {module} has no such output")
    return problems


def _bicep_files() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in (INFRA / "modules").glob("*.bicep")}


def test_every_bicep_file_has_closed_strings_and_balanced_brackets() -> None:
    for path in [MAIN_BICEP, *sorted((INFRA / "modules").glob("*.bicep"))]:
        assert bicep_syntax_problems(path.read_text(encoding="utf-8")) == [], path.name


def test_modules_get_the_parameters_they_declare_and_give_the_outputs_main_reads() -> None:
    assert module_problems(MAIN_BICEP.read_text(encoding="utf-8"), _bicep_files()) == []


def test_the_bicep_checks_catch_what_they_claim() -> None:
    main = MAIN_BICEP.read_text(encoding="utf-8")
    assert bicep_syntax_problems("var a = 'open\n") == ["line 1: unterminated string"]
    assert bicep_syntax_problems("var a = {\n  b: [1, 2}\n}\n")
    assert bicep_syntax_problems("var a = '${b.c'\n")
    assert bicep_syntax_problems("var a = 'it\\'s ${b} fine' // don't\n") == []

    modules = _bicep_files()
    renamed = main.replace("    tablePrefix: tablePrefix\n", "    tablesPrefix: tablePrefix\n")
    problems = module_problems(renamed, modules)
    assert "functionApp: passes unknown parameter tablesPrefix" in problems
    assert "functionApp: misses required parameter tablePrefix" in problems
    assert module_problems(main.replace("outputs.tableEndpoint", "outputs.tablesEndpoint"), modules)


# --- roles and locks ---------------------------------------------------------------------------


def test_the_managed_identity_holds_every_role_calsync_and_the_scaler_need() -> None:
    assert check_identity_roles(RBAC_BICEP.read_text(encoding="utf-8")) == []


def test_a_missing_or_wrong_role_is_caught() -> None:
    rbac = RBAC_BICEP.read_text(encoding="utf-8")
    without_owner = re.sub(r"(?ms)^resource busOwner .*?^}\n", "", rbac)
    assert without_owner != rbac
    assert any(p.startswith("Azure Service Bus Data Owner: not assigned") for p in check_identity_roles(without_owner))

    wrong_id = rbac.replace("090c5cfd-751d-490a-894a-3ce6f1109419", "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39")
    assert any("090c5cfd" in p for p in check_identity_roles(wrong_id))

    wrong_scope = rbac.replace(
        "guid(serviceBus.id, identityPrincipalId, roles.serviceBusDataOwner)\n  scope: serviceBus",
        "guid(serviceBus.id, identityPrincipalId, roles.serviceBusDataOwner)\n  scope: storage",
    )
    assert wrong_scope != rbac
    assert any("assigned on storage" in p for p in check_identity_roles(wrong_scope))


def test_the_deploy_docs_name_every_role_infra_assigns() -> None:
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    assigned = {a["role"] for a in role_assignments(RBAC_BICEP.read_text(encoding="utf-8"))}
    names = {key: role.name for key, role in IDENTITY_ROLES.items()} | {"keyVaultSecretsOfficer": "Key Vault Secrets Officer"}
    assert assigned <= set(names), assigned - set(names)
    missing = [names[key] for key in assigned if f"| {names[key]} |" not in doc]
    assert missing == []
    assert "unauthorized access exception while checking ServiceBusQueue" in doc  # why the Data Owner role


def test_the_service_bus_lock_outlives_the_function_timeout() -> None:
    assert check_lock_outlives_timeout(json.loads(HOST_JSON.read_text(encoding="utf-8"))) == []


def test_what_an_instance_remembers_of_a_room_expires_before_its_session_can_move() -> None:
    """SessionMemory and the engine's hold cache trust that nobody else processed the room meanwhile:
    another instance can take the room's session only after sessionIdleTimeout without a message."""
    from calsync.store.records import ENGINE_HOLD_CACHE_SECONDS
    from calsync.store.session_memory import SESSION_MEMORY_SECONDS

    host = json.loads(HOST_JSON.read_text(encoding="utf-8"))
    idle = timespan_seconds(host["extensions"]["serviceBus"]["sessionIdleTimeout"])
    assert idle > max(SESSION_MEMORY_SECONDS, ENGINE_HOLD_CACHE_SECONDS)


def test_a_lock_shorter_than_the_timeout_is_caught() -> None:
    host = json.loads(HOST_JSON.read_text(encoding="utf-8"))
    host["extensions"]["serviceBus"]["maxAutoLockRenewalDuration"] = "00:05:00"
    host["functionTimeout"] = "00:10:00"
    assert check_lock_outlives_timeout(host)
    host["functionTimeout"] = "1.00:00:00"  # TimeSpan with days
    host["extensions"]["serviceBus"]["maxAutoLockRenewalDuration"] = "23:59:59"
    assert check_lock_outlives_timeout(host)
    del host["extensions"]["serviceBus"]["maxAutoLockRenewalDuration"]
    assert check_lock_outlives_timeout(host)


# --- what ships ---------------------------------------------------------------------------------

FUNCIGNORE = ROOT / ".funcignore"
GITIGNORE = ROOT / ".gitignore"
REQUIREMENTS = ROOT / "requirements.txt"
CLI_REQUIREMENTS = ROOT / "requirements-cli.txt"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"

# Paths that must never be committed nor deployed, and why. A stray .env would be read by
# pydantic-settings in Azure and override the managed-identity settings; .azure/ holds azd's
# environments (subscription, principal ids, every output); Azurite keeps table rows in its files.
NEVER_SHIPPED = {
    ".env": "local settings; would override app settings in Azure",
    ".env.production": "the same, per environment",
    ".azure/calsync-prod/config.json": "azd's environment",
    "__azurite_db_table__.json": "Azurite's table data",
    "__azurite_db_blob_extent__.json": "Azurite's blob index",
    "__blobstorage__/a1b2c3": "Azurite's blob data",
    "__queuestorage__/a1b2c3": "Azurite's queue data",
    "AzuriteConfig": "Azurite's config",
}
NOT_DEPLOYED = {"devstack/local_run.py": "emulators and the local run are not the product", **NEVER_SHIPPED}

CLI_ONLY_PACKAGES = {"typer", "rich"}


def ignored(patterns_text: str, path: str) -> bool:
    """Whether a .gitignore-style file (the subset calsync uses: names, globs, trailing '/') ignores ``path``."""
    import fnmatch

    parts = path.split("/")
    for line in patterns_text.splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#") or pattern.startswith("!"):
            continue
        directory_only = pattern.endswith("/")
        pattern = pattern.rstrip("/").lstrip("/")
        # A pattern matches a path component; a directory-only one only components that have children.
        candidates = parts[:-1] if directory_only else parts
        if any(fnmatch.fnmatchcase(part, pattern) for part in candidates):
            return True
    return False


def check_ignores(funcignore: str, gitignore: str) -> list[str]:
    problems = [f".funcignore deploys {p} ({why})" for p, why in NOT_DEPLOYED.items() if not ignored(funcignore, p)]
    problems += [f".gitignore lets {p} be committed ({why})" for p, why in NEVER_SHIPPED.items() if not ignored(gitignore, p)]
    for shipped in ("function_app.py", "host.json", "requirements.txt", "calsync/settings.py"):
        if ignored(funcignore, shipped):
            problems.append(f".funcignore excludes {shipped}, which the Function App needs")
    return problems


def requirement_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(_canonical(re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0]))
    return names


def requirement_includes(text: str) -> list[str]:
    return re.findall(r"(?m)^\s*-r\s+(\S+)", text)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_imports(package: Path = ROOT / "calsync") -> dict[str, set[str]]:
    """Third-party module -> files importing it, for calsync/ outside calsync/cli (whatever the import's depth)."""
    import ast

    first_party = {p.stem for p in ROOT.glob("*.py")} | {p.name for p in ROOT.iterdir() if p.is_dir()}
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[:2] == ("calsync", "cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in first_party or top == "__future__":
                    continue
                found.setdefault(name, set()).add(str(relative))
    return found


@functools.cache
def _distributions_of_top_level() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return {top: sorted({_canonical(d) for d in dists}) for top, dists in packages_distributions().items()}


def import_distribution(name: str) -> str | None:
    """The installed distribution that provides module ``name`` (or, for ``from x import attr``, module x)."""
    import importlib.util
    from importlib.metadata import distribution

    candidates = _distributions_of_top_level().get(name.split(".")[0], [])
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    # A namespace package (azure, opentelemetry): find the file and the distribution that installed it.
    parts = name.split(".")
    while parts:
        try:
            spec = importlib.util.find_spec(".".join(parts))
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin not in (None, "namespace"):
            origin = Path(spec.origin).resolve()
            for candidate in candidates:
                files = distribution(candidate).files or []
                if any(Path(str(distribution(candidate).locate_file(f))).resolve() == origin for f in files
                       if f.name == origin.name):  # fmt: skip
                    return candidate
            return None
        parts.pop()
    return None


def check_runtime_requirements(runtime_text: str, imports: dict[str, set[str]]) -> list[str]:
    """requirements.txt has no CLI-only package and declares every distribution calsync imports at runtime."""
    declared = requirement_names(runtime_text)
    problems = [f"requirements.txt holds {name}, which only the CLI uses" for name in sorted(declared & CLI_ONLY_PACKAGES)]
    for module, files in sorted(imports.items()):
        dist = import_distribution(module)
        if dist is None:
            problems.append(f"{module} (imported by {sorted(files)[0]}) is not installed")
        elif dist in CLI_ONLY_PACKAGES:
            problems.append(f"{sorted(files)[0]} imports {module}, a CLI-only package, on the Function App's path")
        elif dist not in declared:
            problems.append(f"{module} (imported by {sorted(files)[0]}) comes from {dist}, not in requirements.txt")
    return problems


def test_ignores_keep_local_settings_azd_state_and_azurite_data_out_of_git_and_the_package() -> None:
    assert check_ignores(FUNCIGNORE.read_text(encoding="utf-8"), GITIGNORE.read_text(encoding="utf-8")) == []


def test_a_missing_ignore_is_caught() -> None:
    funcignore, gitignore = FUNCIGNORE.read_text(encoding="utf-8"), GITIGNORE.read_text(encoding="utf-8")
    without_env = "\n".join(line for line in funcignore.splitlines() if line.strip() != ".env")
    assert ".funcignore deploys .env (local settings; would override app settings in Azure)" in check_ignores(
        without_env, gitignore
    )
    without_azure = "\n".join(line for line in gitignore.splitlines() if not line.startswith(".azure"))
    assert any(p.startswith(".gitignore lets .azure/") for p in check_ignores(funcignore, without_azure))
    assert any("excludes function_app.py" in p for p in check_ignores(funcignore + "\n*.py\n", gitignore))
    assert ignored("__blobstorage__/", "__blobstorage__/x") and not ignored("__blobstorage__/", "__blobstorage__")


def test_runtime_requirements_are_exactly_what_the_function_app_imports() -> None:
    assert check_runtime_requirements(REQUIREMENTS.read_text(encoding="utf-8"), runtime_imports()) == []


def test_a_cli_package_or_an_undeclared_import_in_runtime_code_is_caught() -> None:
    runtime = REQUIREMENTS.read_text(encoding="utf-8")
    assert "requirements.txt holds rich, which only the CLI uses" in check_runtime_requirements(
        runtime + "rich==15.0.0\n", {}
    )
    problems = check_runtime_requirements(runtime, {"rich.console": {"calsync/store/client.py"}})
    assert any("CLI-only package" in p for p in problems)
    without_tables = runtime.replace("azure-data-tables==", "# azure-data-tables==")
    problems = check_runtime_requirements(without_tables, {"azure.data.tables.aio": {"calsync/store/client.py"}})
    assert problems == [
        "azure.data.tables.aio (imported by calsync/store/client.py) comes from azure-data-tables, not in requirements.txt"
    ]
    # A namespace package resolves to the distribution that installed the module, not its siblings.
    assert import_distribution("azure.core.exceptions") == "azure-core"
    assert import_distribution("opentelemetry.sdk._logs") == "opentelemetry-sdk"


def test_cli_and_dev_requirements_build_on_the_runtime_set_and_make_installs_all_three() -> None:
    cli, dev = CLI_REQUIREMENTS.read_text(encoding="utf-8"), DEV_REQUIREMENTS.read_text(encoding="utf-8")
    assert requirement_includes(cli) == ["requirements.txt"]
    assert requirement_names(cli) >= CLI_ONLY_PACKAGES
    assert requirement_includes(dev) == ["requirements-cli.txt"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "-r requirements-dev.txt" in makefile  # dev -> cli -> runtime: make test / make run get everything
    stamp = re.search(r"(?m)^\$\(STAMP\):(.*)$", makefile)
    assert stamp and {"requirements.txt", "requirements-cli.txt", "requirements-dev.txt"} <= set(stamp.group(1).split())


def test_loading_the_function_app_imports_no_cli_package() -> None:
    code = (
        "import sys, function_app\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'calsync.cli'))\n"
        "loaded += sorted(m for m in sys.modules if m.startswith('calsync.cli'))\n"
        "print(loaded); sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)  # noqa: S603
    assert result.returncode == 0, result.stdout + result.stderr


# --- region, tool versions, Key Vault audit ------------------------------------------------------

KEYVAULT_BICEP = INFRA / "modules" / "keyvault.bicep"
AZURE_YAML = ROOT / "azure.yaml"

# The first azd release that substitutes array parameters (ROOMS) from the environment correctly:
# azd CHANGELOG 1.23.4, Azure/azure-dev#6694.
MIN_AZD = (1, 23, 4)


def allowed_locations(main_bicep: str) -> list[str]:
    """The @allowed list decorating ``param location`` (empty when there is none)."""
    match = re.search(r"@allowed\(\[([^\]]*)\]\)\s*(?:@[^\n]*\n\s*)*?(?:@metadata\(\{.*?\}\)\s*)?(?:@[^\n]*\n\s*)*param location ",
                      main_bicep, re.S)  # fmt: skip
    return re.findall(r"'([a-z0-9]+)'", match.group(1)) if match else []


def required_azd(azure_yaml: str) -> tuple[int, ...] | None:
    match = re.search(r"(?m)^requiredVersions:\s*\n\s+azd:\s*[\"']?>=\s*(\d+)\.(\d+)\.(\d+)", azure_yaml)
    return tuple(int(part) for part in match.groups()) if match else None


def check_key_vault_audit(keyvault_bicep: str, main_bicep: str) -> list[str]:
    """The vault sends AuditEvent to the deployment's Log Analytics workspace."""
    text = _strip_comments(keyvault_bicep)
    settings = [
        _block(text, m.end())
        for m in re.finditer(r"(?m)^resource \w+ 'Microsoft\.Insights/diagnosticSettings@[^']+' = ", text)
    ]
    audit = [s for s in settings if re.search(r"(?m)^\s*scope: vault$", s) and "workspaceId: logAnalyticsWorkspaceId" in s]
    if not audit:
        return ["keyvault.bicep: no diagnostic setting on the vault sending to logAnalyticsWorkspaceId"]
    problems = []
    if not any(re.search(r"category: 'AuditEvent'\s*\n\s*enabled: true", s) for s in audit):
        problems.append("keyvault.bicep: the vault's diagnostic setting does not enable AuditEvent")
    keyvault_module = _block(main_bicep, main_bicep.index("module keyVault "))
    if "logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId" not in keyvault_module:
        problems.append("main.bicep: the Key Vault module is not given the monitoring workspace")
    return problems


def test_location_is_limited_to_flex_consumption_regions() -> None:
    regions = allowed_locations(MAIN_BICEP.read_text(encoding="utf-8"))
    assert len(regions) >= 20 and "swedencentral" in regions
    documented = re.findall(r"AZURE_LOCATION (\w+)|LOCATION=(\w+)", DEPLOY_DOC.read_text(encoding="utf-8"))
    assert documented and all((a or b) in regions for a, b in documented)  # the docs' examples deploy
    assert allowed_locations("param location string = resourceGroup().location\n") == []


def test_azure_yaml_requires_the_azd_release_that_passes_array_parameters() -> None:
    version = required_azd(AZURE_YAML.read_text(encoding="utf-8"))
    assert version is not None and version >= MIN_AZD
    assert required_azd("name: calsync\n") is None
    assert required_azd('requiredVersions:\n  azd: ">= 1.10.0"\n') < MIN_AZD
    assert ".".join(map(str, version)) in DEPLOY_DOC.read_text(encoding="utf-8")


def test_key_vault_audit_events_go_to_log_analytics() -> None:
    keyvault, main = KEYVAULT_BICEP.read_text(encoding="utf-8"), MAIN_BICEP.read_text(encoding="utf-8")
    assert check_key_vault_audit(keyvault, main) == []
    assert check_key_vault_audit(keyvault.replace("'AuditEvent'", "'AzurePolicyEvaluationDetails'"), main)
    assert check_key_vault_audit(keyvault.replace("scope: vault\n", "scope: resourceGroup()\n"), main)
    assert check_key_vault_audit(keyvault, main.replace("    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId\n", ""))


# --- private networking (vnetEnabled) ------------------------------------------------------------

# What a private deployment puts behind private endpoints: group id -> (main.bicep module whose
# resource it reaches, private DNS zone prefix). Zones as in Azure's private endpoint DNS list.
PRIVATE_ENDPOINTS = {
    "blob": ("storage", "privatelink.blob."),
    "table": ("storage", "privatelink.table."),
    "queue": ("storage", "privatelink.queue."),
    "namespace": ("serviceBus", "privatelink.servicebus.windows.net"),
    "vault": ("keyVault", "privatelink.vaultcore.azure.net"),
}
_TARGET_PARAMS = {"storage": "storageAccountId", "serviceBus": "serviceBusId", "keyVault": "keyVaultId"}
PRIVATE_WHEN_VNET = "vnetEnabled ? 'Disabled' : 'Enabled'"


def module_params(main_bicep: str, symbol: str) -> dict[str, str]:
    """Parameter -> expression that main.bicep passes to module ``symbol`` (one line each)."""
    match = re.search(rf"(?m)^module {symbol} '[^']+' = ", main_bicep)
    if not match:
        return {}
    body = _block(main_bicep, match.end())
    params = _block(body, body.index("params:"))
    return dict(re.findall(r"(?m)^\s{4}(\w+): (.+?)\s*$", params))


def private_endpoint_list(bicep: str) -> list[dict[str, str]]:
    start = bicep.index("var endpoints = [")
    body = bicep[start : bicep.index("\n]", start)]
    items = re.finditer(r"(?m)^\s*\{\s*$", body)  # one item per line holding only '{'
    return [dict(re.findall(r"(?m)^\s*(\w+): (.+?)\s*$", _block(body, m.start()))) for m in items]


def check_private_networking(main: str, modules: dict[str, str]) -> list[str]:
    problems = []
    if not re.search(r"(?m)^param vnetEnabled bool = false$", main):
        problems.append("main.bicep: no parameter vnetEnabled defaulting to false")
    for symbol, module in (("network", "network"), ("privateEndpoints", "privateendpoints")):
        if not re.search(rf"(?m)^module {symbol} 'modules/{module}\.bicep' = if \(vnetEnabled\) \{{", main):
            problems.append(f"main.bicep: module {symbol} is not deployed exactly when vnetEnabled")
    if "serviceName: 'Microsoft.App/environments'" not in modules.get("network", ""):
        problems.append("network.bicep: no subnet delegated to Microsoft.App/environments (Flex VNet integration)")

    pe_params = module_params(main, "privateEndpoints")
    endpoints = {e.get("groupId", "").strip("'"): e for e in private_endpoint_list(modules.get("privateendpoints", ""))}
    for group, (target_module, zone) in PRIVATE_ENDPOINTS.items():
        endpoint = endpoints.get(group)
        if endpoint is None:
            problems.append(f"privateendpoints.bicep: no private endpoint for {group}")
            continue
        target = _TARGET_PARAMS[target_module]
        if endpoint.get("target") != target or pe_params.get(target) != f"{target_module}.outputs.id":
            problems.append(f"private endpoint {group} does not target {target_module}.outputs.id")
        if not endpoint.get("zone", "").strip("'").startswith(zone):
            problems.append(f"private endpoint {group}: DNS zone {endpoint.get('zone')} is not {zone}...")
    for resource_type in ("privateDnsZones@", "privateDnsZones/virtualNetworkLinks@", "privateEndpoints@",
                          "privateEndpoints/privateDnsZoneGroups@"):  # fmt: skip
        if not re.search(rf"'Microsoft\.Network/{re.escape(resource_type)}[^']+' = \[\s*for ", modules.get("privateendpoints", "")):
            problems.append(f"privateendpoints.bicep: no Microsoft.Network/{resource_type.rstrip('@')} per endpoint")

    for symbol, module in (("storage", "storage"), ("serviceBus", "servicebus"), ("keyVault", "keyvault")):
        if module_params(main, symbol).get("publicNetworkAccess") != PRIVATE_WHEN_VNET:
            problems.append(f"main.bicep: {symbol} keeps public network access when vnetEnabled")
        if "publicNetworkAccess: publicNetworkAccess" not in modules.get(module, ""):
            problems.append(f"{module}.bicep: the resource ignores its publicNetworkAccess parameter")
    if module_params(main, "serviceBus").get("sku") != "vnetEnabled ? 'Premium' : 'Standard'":
        problems.append("main.bicep: Service Bus is not Premium when vnetEnabled (private endpoints need Premium)")
    if module_params(main, "functionApp").get("virtualNetworkSubnetId") != "vnetEnabled ? network.outputs.appSubnetId : ''":
        problems.append("main.bicep: the Function App is not integrated with the app subnet when vnetEnabled")
    if not re.search(r"(?m)^\s+virtualNetworkSubnetId: empty\(virtualNetworkSubnetId\) \? null : virtualNetworkSubnetId$",
                     modules.get("functionapp", "")):  # fmt: skip
        problems.append("functionapp.bicep: the site does not set virtualNetworkSubnetId")
    return problems


def test_vnet_enabled_puts_storage_service_bus_and_key_vault_behind_private_endpoints() -> None:
    assert check_private_networking(MAIN_BICEP.read_text(encoding="utf-8"), _bicep_files()) == []
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["vnetEnabled"]["value"] == "${VNET_ENABLED=false}"


def test_a_private_networking_regression_is_caught() -> None:
    main, modules = MAIN_BICEP.read_text(encoding="utf-8"), _bicep_files()

    def problems(main_text: str = main, **changed: str) -> list[str]:
        return check_private_networking(main_text, {**modules, **changed})

    assert any("vnetEnabled defaulting to false" in p for p in problems(main.replace("vnetEnabled bool = false", "vnetEnabled bool = true")))
    no_vault = modules["privateendpoints"].replace("groupId: 'vault'", "groupId: 'vaultx'")
    assert "privateendpoints.bicep: no private endpoint for vault" in problems(privateendpoints=no_vault)
    wrong_zone = modules["privateendpoints"].replace("privatelink.table.", "privatelink.tables.")
    assert any(p.startswith("private endpoint table: DNS zone") for p in problems(privateendpoints=wrong_zone))
    public_bus = main.replace(
        "    sku: vnetEnabled ? 'Premium' : 'Standard'\n    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'\n",
        "    sku: vnetEnabled ? 'Premium' : 'Standard'\n    publicNetworkAccess: 'Enabled'\n",
    )
    assert "main.bicep: serviceBus keeps public network access when vnetEnabled" in problems(public_bus)
    ignored_param = modules["keyvault"].replace("publicNetworkAccess: publicNetworkAccess", "publicNetworkAccess: 'Enabled'")
    assert "keyvault.bicep: the resource ignores its publicNetworkAccess parameter" in problems(keyvault=ignored_param)
    no_integration = main.replace("    virtualNetworkSubnetId: vnetEnabled ? network.outputs.appSubnetId : ''\n", "")
    assert any("not integrated" in p for p in problems(no_integration))
    no_delegation = modules["network"].replace("Microsoft.App/environments", "Microsoft.Web/serverFarms")
    assert any("delegated" in p for p in problems(network=no_delegation))


# --- the docs against the templates and the CLI --------------------------------------------------

OPERATIONS_DOC = ROOT / "docs" / "operations.md"

# Commands the docs name as planned, not existing; the test fails once they exist, so the docs
# stop calling them future.
PLANNED_COMMANDS: set[str] = set()  # commands deploy.md may name before they exist


def _shell_blocks(markdown: str) -> list[tuple[str, str]]:
    """(heading of the section, code) for every ```sh block."""
    blocks, heading = [], ""
    for part in re.split(r"(?m)^(#{2,3} .*)$", markdown):
        if re.match(r"#{2,3} ", part):
            heading = part
            continue
        blocks += [(heading, code) for code in re.findall(r"```sh\n(.*?)```", part, re.S)]
    return blocks


def check_deploy_doc_variables(doc: str, main_bicep: str) -> list[str]:
    """Steps after 'Provision and deploy' use only variables both deployment paths define, from real outputs."""
    outputs = set(re.findall(r"(?m)^output (\w+) ", main_bicep))
    blocks = _shell_blocks(doc)
    names = [code for heading, code in blocks if heading.startswith("### The names the next steps use")]
    if not names:
        return ["deploy.md: no 'The names the next steps use' section"]
    azd_part, _, az_part = names[0].partition("# after az deployment group create")
    by_azd = set(re.findall(r"(?m)(\w+)=\$\(azd env get-value \w+\)", azd_part))
    by_az = set(re.findall(r"(\w+)=\$\(out \w+\)", az_part)) | {"RG"}  # RG: set by the az path's first line
    problems = [f"deploy.md: `{name}` is not an output of main.bicep"
                for name in re.findall(r"(?:azd env get-value|\$\(out) (\w+)", doc)
                if name not in outputs and name != "ROOMS"]  # fmt: skip
    later = False
    for heading, code in blocks:
        later = later or heading.startswith("## 3.")
        if not later or heading.startswith("## Running locally"):
            continue
        local = set(re.findall(r"read -rs (\w+)", code)) | set(re.findall(r"(?m)(?:^|[;\s])(?:export )?(\w+)=", code))
        for name in sorted(set(re.findall(r"\$(?:\{)?([A-Z][A-Z_]*)\b", code)) - local):
            if name not in by_azd or name not in by_az:
                problems.append(f"deploy.md ({heading.strip('# ')}): ${name} is not defined for both azd and az")
    return problems


def documented_commands(markdown: str) -> set[tuple[str, ...]]:
    found = {tuple(m.split()) for m in re.findall(r"`calsync ((?:[a-z]+)(?: [a-z]+)?)", markdown)}
    return {c for c in found if c != ("cannot", "start")}  # the start-up log line, not a command


def cli_commands() -> set[tuple[str, ...]]:
    import typer.main

    from calsync.cli.app import app

    root = typer.main.get_command(app)
    found = set()
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        found.add((name,))
        found |= {(name, sub) for sub in getattr(command, "commands", {})}
    return found


def test_deploy_doc_steps_use_names_both_paths_define() -> None:
    doc, main = DEPLOY_DOC.read_text(encoding="utf-8"), MAIN_BICEP.read_text(encoding="utf-8")
    assert check_deploy_doc_variables(doc, main) == []
    broken = doc.replace("APP=$(azd env get-value AZURE_FUNCTION_NAME)\n", "")
    assert any("$APP is not defined for both" in p for p in check_deploy_doc_variables(broken, main))
    assert any("AZURE_FUNCTION_NAMES" in p for p in check_deploy_doc_variables(
        doc.replace("get-value AZURE_FUNCTION_NAME)", "get-value AZURE_FUNCTION_NAMES)"), main))  # fmt: skip


def test_docs_name_only_commands_the_cli_has_and_call_planned_ones_planned() -> None:
    existing = cli_commands()
    assert not {(c,) for c in PLANNED_COMMANDS} & existing, "a planned command exists now: update deploy.md step 6"
    for doc in (DEPLOY_DOC, OPERATIONS_DOC):
        named = {c for c in documented_commands(doc.read_text(encoding="utf-8")) if c[0] not in PLANNED_COMMANDS}
        unknown = {c for c in named if c not in existing and c[:1] not in existing}
        assert unknown == set(), (doc.name, unknown)


def test_every_alert_has_its_runbook_section_under_its_name() -> None:
    alerts, operations = ALERTS_BICEP.read_text(encoding="utf-8"), OPERATIONS_DOC.read_text(encoding="utf-8")
    suffixes = set(re.findall(r"name: '\$\{namePrefix\}-([a-z-]+)'", alerts)) - {"oncall"}
    documented = set(re.findall(r"`alert-calsync-<token>-([a-z-]+)`", operations))
    assert suffixes == documented
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"(?m)^#{2,4} (.+)$", operations)}
    links = set(re.findall(r"docs/operations\.md#([a-z0-9-]+)", alerts))
    assert len(links) == len(suffixes) and links <= anchors, links - anchors
