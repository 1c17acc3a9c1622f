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
    for match in re.finditer(r"(?m)^module (\w+) 'modules/(\w+)\.bicep' = \{", main):
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
