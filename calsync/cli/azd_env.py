"""Pointing `calsync` at a deployed environment: azd's `.azure/<env>/.env`, or flags, become settings.

azd writes every Bicep output into ``.azure/<env>/.env``; the command needs two of them
to reach the deployment with the operator's own sign-in (DefaultAzureCredential, `az
login`): the table endpoint and the Service Bus namespace. No Graph or booking-system
credential is read or needed: onboarding and reconcile run in the app (--in-azure).
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values

# azd output -> the setting (environment variable) calsync reads
AZD_OUTPUTS = {
    "TABLES_ENDPOINT": "TABLES_ENDPOINT",
    "SERVICEBUS_NAMESPACE": "ServiceBusConnection__fullyQualifiedNamespace",
}


def azd_values(env: str | None, root: Path | None = None) -> dict[str, str]:
    """The settings from azd's environment ``env`` (default: the one in .azure/config.json), or {}."""
    base = (root or Path.cwd()) / ".azure"
    if env is None:
        config = base / "config.json"
        if not config.exists():
            return {}
        import json

        env = json.loads(config.read_text()).get("defaultEnvironment")
        if not env:
            return {}
    path = base / env / ".env"
    if not path.exists():
        from calsync.errors import ConfigurationError

        raise ConfigurationError(f"no azd environment {env!r}: {path} does not exist (azd env list)")
    values = {k: v for k, v in dotenv_values(path).items() if v is not None}
    return {setting: values[output] for output, setting in AZD_OUTPUTS.items() if output in values}


def apply_environment(env: str | None, *, tables_endpoint: str | None, servicebus: str | None,
                      use_azd: bool) -> None:  # fmt: skip
    """Put the deployment's endpoints into this process's environment (flags win over azd's values)."""
    values = azd_values(env) if use_azd else {}
    if tables_endpoint:
        values["TABLES_ENDPOINT"] = tables_endpoint
    if servicebus:
        values["ServiceBusConnection__fullyQualifiedNamespace"] = servicebus
    if "TABLES_ENDPOINT" in values:
        os.environ.pop("TABLES_CONNECTION_STRING", None)  # the deployment's tables, not Azurite
    os.environ.update(values)
