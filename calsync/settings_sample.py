"""Writes local.settings.sample.json from the Settings model, so the sample never drifts.

Functions Core Tools reads ``Values`` as environment variables; ``Comments`` is
ignored by the host and carries each setting's description for the reader.
Run ``python -m calsync.settings_sample`` after adding or changing a setting;
tests/test_settings.py fails while the committed sample differs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from calsync.settings import Settings, env_name

SAMPLE_PATH = Path(__file__).resolve().parent.parent / "local.settings.sample.json"

# Values a developer starts from locally (Azurite's well-known shortcut, the emulator modes).
LOCAL_VALUES: dict[str, str] = {
    "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "GRAPH_AUTH_MODE": "secret",
    "GRAPH_CLIENT_SECRET": "<from Key Vault; never commit>",
    "GRAPH_CLIENT_STATE": "<random 32+ characters>",
    "BOOKING_API_KEY": "<from Key Vault; never commit>",
    "BOOKING_WEBHOOK_SECRETS": "<secret-1>,<secret-2 during rotation>",
    "ServiceBusConnection__fullyQualifiedNamespace": "<namespace>.servicebus.windows.net",
    "ROOMS": '[{"key": "room-a", "mailbox": "room-a@contoso.com", "booking_room_id": "R-100"}]',
}

# Settings the Functions host itself needs locally (not read by calsync's code).
HOST_VALUES: dict[str, tuple[str, str]] = {
    "AzureWebJobsStorage": ("UseDevelopmentStorage=true", "Storage the Functions host uses for its own state."),
    "FUNCTIONS_WORKER_RUNTIME": ("python", "Functions language worker."),
}


def _sample_value(name: str, default: Any) -> str:
    if name in LOCAL_VALUES:
        return LOCAL_VALUES[name]
    if default is None:
        return ""
    if hasattr(default, "value"):
        return str(default.value)
    if isinstance(default, list):
        return ""
    return str(default)


def build_sample() -> dict[str, Any]:
    values: dict[str, str] = {name: value for name, (value, _) in HOST_VALUES.items()}
    comments: dict[str, str] = {name: comment for name, (_, comment) in HOST_VALUES.items()}
    for field_name, field in Settings.model_fields.items():
        name = env_name(field_name)
        default = field.get_default(call_default_factory=True)
        values[name] = _sample_value(name, default)
        comments[name] = field.description or ""
    return {"IsEncrypted": False, "Values": values, "Comments": comments}


def render_sample() -> str:
    return json.dumps(build_sample(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    SAMPLE_PATH.write_text(render_sample(), encoding="utf-8")
    print(f"wrote {SAMPLE_PATH.name} ({len(Settings.model_fields)} calsync settings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
