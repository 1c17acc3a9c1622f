"""Settings: clear errors naming the setting, secrets kept out of messages, the sample kept in step."""

from __future__ import annotations

import json

import pytest

from calsync.errors import ConfigurationError
from calsync.settings import ConflictPolicy, Settings, env_name, load_settings
from calsync.settings_sample import SAMPLE_PATH, render_sample

BASE = {"TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    for name in [env_name(f) for f in Settings.model_fields]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir("/")  # no stray .env file

    def set_env(**values: str) -> None:
        for name, value in {**BASE, **values}.items():
            monkeypatch.setenv(name, value)

    return set_env


def test_defaults_load_from_environment(env) -> None:
    env(CONFLICT_POLICY="booking-wins", ROOMS='[{"key": "r1", "mailbox": "r1@contoso.com", "booking_room_id": "B1"}]')
    settings = load_settings()
    assert settings.conflict_policy is ConflictPolicy.BOOKING_WINS
    assert settings.room("r1").booking_room_id == "B1"
    assert settings.room("nope") is None
    assert settings.changes_queue == "changes"


def test_invalid_setting_is_named_by_its_environment_variable(env) -> None:
    env(CONFLICT_POLICY="loudest-wins", GRAPH_SUBSCRIPTION_MINUTES="9999")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert "CONFLICT_POLICY" in str(info.value)
    assert "GRAPH_SUBSCRIPTION_MINUTES" in str(info.value)


def test_missing_storage_is_explained(monkeypatch: pytest.MonkeyPatch, env) -> None:
    env()
    monkeypatch.delenv("TABLES_CONNECTION_STRING")
    with pytest.raises(ConfigurationError, match=r"TABLES_CONNECTION_STRING .* or TABLES_ENDPOINT"):
        load_settings()


def test_bad_rooms_json_names_the_setting(env) -> None:
    env(ROOMS="[{not json")
    with pytest.raises(ConfigurationError, match="ROOMS"):
        load_settings()


def test_duplicate_room_keys_are_refused(env) -> None:
    room = '{"key": "r1", "mailbox": "r1@contoso.com", "booking_room_id": "B1"}'
    env(ROOMS=f"[{room}, {room}]")
    with pytest.raises(ConfigurationError, match="r1 more than once"):
        load_settings()


def test_secret_values_never_appear_in_errors(env) -> None:
    env(GRAPH_AUTH_MODE="secret", GRAPH_CLIENT_SECRET="hunter2-very-secret", GRAPH_SUBSCRIPTION_MINUTES="-1")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert "hunter2" not in str(info.value)
    assert "GRAPH_TENANT_ID" in str(info.value) or "GRAPH_SUBSCRIPTION_MINUTES" in str(info.value)
    settings = load_settings(graph_subscription_minutes=60, graph_tenant_id="t", graph_client_id="c")
    assert "hunter2" not in repr(settings)


def test_webhook_secrets_split_on_commas(env) -> None:
    env(BOOKING_WEBHOOK_SECRETS="old-one, new-one")
    secrets = [s.get_secret_value() for s in load_settings().booking_webhook_secrets]
    assert secrets == ["old-one", "new-one"]


def test_sample_lists_every_setting_with_its_description() -> None:
    sample = json.loads(SAMPLE_PATH.read_text())
    for field_name, field in Settings.model_fields.items():
        name = env_name(field_name)
        assert name in sample["Values"], f"{name} missing from local.settings.sample.json"
        assert sample["Comments"][name] == field.description, f"{name}'s comment differs from its description"
        assert field.description, f"{name} has no description"


def test_committed_sample_is_current() -> None:
    assert SAMPLE_PATH.read_text() == render_sample(), "run: python -m calsync.settings_sample"


def test_unresolved_key_vault_reference_is_refused_as_a_secret(env) -> None:
    env(GRAPH_CLIENT_STATE="@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/graph-client-state/)")
    with pytest.raises(ConfigurationError, match=r"GRAPH_CLIENT_STATE: .*unresolved Key Vault reference"):
        load_settings()
