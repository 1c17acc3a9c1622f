"""Every setting calsync reads, in one pydantic-settings model built once and passed down.

Settings come from environment variables (Azure app settings, local.settings.json
``Values``, or a ``.env`` file). Each field's description is the documentation an
operator sees in local.settings.sample.json; a test keeps the two in step.
``load_settings()`` turns pydantic's validation errors into one ConfigurationError
that names every missing or invalid setting by its environment-variable name and
never echoes a secret value.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from calsync.errors import ConfigurationError
from calsync.model.scope import BookingScope, OrganizerMode, OutlookScope

AZURITE_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's well-known development key (public, documented by Microsoft; not a secret)."""


def azurite_connection_string(table_endpoint: str) -> str:
    """Connection string for Azurite's Table service at ``table_endpoint``."""
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={AZURITE_ACCOUNT_KEY};TableEndpoint={table_endpoint.rstrip('/')}/devstoreaccount1;"
    )


class ConflictPolicy(StrEnum):
    """Who wins when bookings of one room from different sides overlap."""

    FIRST_COME = "first-come"
    OUTLOOK_WINS = "outlook-wins"
    BOOKING_WINS = "booking-wins"


class GraphAuthMode(StrEnum):
    """How calsync authenticates to Microsoft Graph."""

    MANAGED_IDENTITY = "managed-identity"
    WORKLOAD_IDENTITY = "workload-identity"
    CERTIFICATE = "certificate"
    SECRET = "secret"  # noqa: S105 - a mode name, not a password
    NONE = "none"  # only for the loopback Graph emulator


class BookingBackend(StrEnum):
    """Which booking system calsync talks to."""

    REST = "rest"  # the REST + webhook contract of docs/booking-api.yaml
    MRBS = "mrbs"  # MRBS's own database (docs/booking-mrbs.md)


class Room(BaseModel):
    """One synchronised room: its key (session id, partition), mailbox and booking-system id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    mailbox: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    booking_room_id: str = Field(min_length=1)
    name: str | None = None
    user_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="The room mailbox's Entra object id (optional). Graph names the mailbox by this id in a "
        "notification's resource; when set, graph_webhook refuses notifications naming any other user id.",
    )
    organizer_mode: OrganizerMode | None = None  # per-room overrides of the settings of the same names
    service_mailbox: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    outlook_scope: OutlookScope | None = None
    booking_scope: BookingScope | None = None


class Settings(BaseSettings):
    """All of calsync's configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- state: Azure Table Storage ---------------------------------------------------------
    tables_connection_string: SecretStr | None = Field(
        default=None,
        description="Connection string for Table Storage (Azurite locally). Leave empty in Azure and set TABLES_ENDPOINT.",
    )
    tables_endpoint: str | None = Field(
        default=None,
        description="Table service URL used with the managed identity, e.g. https://<account>.table.core.windows.net.",
    )
    table_prefix: str = Field(
        default="calsync",
        pattern=r"^[A-Za-z][A-Za-z0-9]{0,39}$",
        description="Prefix of calsync's table names (mappings, subscriptions, cursors, conflicts).",
    )
    azure_client_id: str | None = Field(
        default=None,
        description="Client ID of the user-assigned managed identity calsync runs as (read by azure-identity).",
    )

    # --- Outlook: Microsoft Graph -----------------------------------------------------------
    graph_base_url: str = Field(
        default="https://graph.microsoft.com/v1.0",
        description="Microsoft Graph base URL; the loopback emulator's URL in tests and the local run.",
    )
    graph_auth_mode: GraphAuthMode = Field(
        default=GraphAuthMode.MANAGED_IDENTITY,
        description="How to authenticate to Graph: managed-identity, workload-identity, certificate, secret, or none (emulator only).",
    )
    graph_tenant_id: str | None = Field(default=None, description="Entra ID tenant ID of the room mailboxes.")
    graph_client_id: str | None = Field(
        default=None,
        description="Application (client) ID of calsync's app registration.",
    )
    graph_client_secret: SecretStr | None = Field(
        default=None,
        description="Client secret (GRAPH_AUTH_MODE=secret only; prefer a certificate or federation).",
    )
    graph_certificate_path: str | None = Field(
        default=None,
        description="Path to the PEM certificate with private key (GRAPH_AUTH_MODE=certificate).",
    )
    graph_client_state: SecretStr | None = Field(
        default=None,
        description="Secret clientState sent with Graph subscriptions and checked on every notification.",
    )
    graph_notification_url: str | None = Field(
        default=None,
        description="Public URL of the graph_webhook function that Graph posts change notifications to.",
    )
    graph_lifecycle_url: str | None = Field(
        default=None,
        description="Public URL of the lifecycle route that Graph posts lifecycle notifications to.",
    )
    graph_subscription_minutes: int = Field(
        default=4000,
        ge=45,
        le=4230,
        description="Lifetime of a Graph subscription in minutes (Graph allows at most 4230 for events).",
    )
    graph_max_concurrency_per_mailbox: int = Field(
        default=4,
        ge=1,
        le=4,
        description="Concurrent Graph requests per mailbox (Graph allows 4 per app per mailbox).",
    )
    graph_timeout_seconds: float = Field(default=30.0, gt=0, description="Timeout of one Graph request in seconds.")
    graph_max_retry_wait_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Longest total wait for Retry-After on throttled Graph requests, in seconds.",
    )

    # --- the booking system -----------------------------------------------------------------
    booking_base_url: str = Field(
        default="http://127.0.0.1:7072",
        description="Base URL of the booking system's REST API.",
    )
    booking_api_key: SecretStr | None = Field(
        default=None,
        description="API key calsync presents to the booking system (sent as a bearer token).",
    )
    booking_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated HMAC secrets accepted on booking webhooks; two during a rotation.",
    )
    booking_timeout_seconds: float = Field(
        default=15.0, gt=0, description="Timeout of one booking-system request in seconds."
    )

    booking_backend: BookingBackend = Field(
        default=BookingBackend.REST,
        description="Booking system: rest (the REST contract, BOOKING_* settings) or mrbs (MRBS's database, MRBS_* settings).",
    )

    # --- MRBS (BOOKING_BACKEND=mrbs) ----------------------------------------------------------
    mrbs_database_url: SecretStr | None = Field(
        default=None,
        description="MRBS database as a SQLAlchemy URL: postgresql+psycopg://user@host/mrbs or mysql+aiomysql://user@host/mrbs (password in MRBS_DATABASE_PASSWORD).",
    )
    mrbs_database_password: SecretStr | None = Field(
        default=None,
        description="Password of the MRBS database user (a Key Vault reference in Azure); overrides one in the URL.",
    )
    mrbs_table_prefix: str = Field(
        default="mrbs_",
        pattern=r"^[A-Za-z0-9_]{0,30}$",
        description="MRBS's table prefix ($db_tbl_prefix in MRBS's config.inc.php).",
    )
    mrbs_user: str = Field(
        default="calsync",
        min_length=1,
        max_length=80,
        description="The MRBS user name calsync's bookings are created and modified by (create_by / modified_by).",
    )
    mrbs_time_zone: str = Field(
        default="UTC",
        description="MRBS's $timezone (IANA name); an area's own time zone takes precedence for its rooms.",
    )
    mrbs_booking_type: str = Field(
        default="I",
        pattern=r"^[A-Z]$",
        description="MRBS booking type letter calsync writes for meetings ($booking_types in MRBS's config).",
    )
    mrbs_block_type: str | None = Field(
        default=None,
        pattern=r"^[A-Z]$",
        description="MRBS booking type letter that marks the room out of service (read and written as blocks); empty: none.",
    )
    mrbs_poll_schedule: str = Field(
        default="*/10 * * * * *",
        description="NCRONTAB schedule of the mrbs_outbox timer that turns MRBS outbox rows into hints (6 fields, seconds first).",
    )

    # --- queues ------------------------------------------------------------------------------
    servicebus_namespace: str | None = Field(
        default=None,
        alias="ServiceBusConnection__fullyQualifiedNamespace",
        description="Service Bus namespace host (identity-based connection used by the bindings and the CLI).",
    )
    servicebus_connection_string: SecretStr | None = Field(
        default=None,
        alias="ServiceBusConnection",
        description="Service Bus emulator connection string for local runs with Functions Core Tools; empty in Azure.",
    )
    changes_queue: str = Field(default="changes", description="Queue of ChangeHints (sessions on, session id = room).")
    reconcile_queue: str = Field(default="reconcile", description="Queue of per-room reconcile jobs.")
    max_delivery_count: int = Field(
        default=10,
        ge=1,
        le=2000,
        description="Deliveries of a hint before it is dead-lettered with its reason.",
    )

    # --- sync policy --------------------------------------------------------------------------
    rooms: Annotated[list[Room], NoDecode] = Field(
        default_factory=list,
        description='JSON list of rooms: [{"key": "...", "mailbox": "...", "booking_room_id": "..."}].',
    )
    conflict_policy: ConflictPolicy = Field(
        default=ConflictPolicy.FIRST_COME,
        description="Who wins overlapping bookings: first-come, outlook-wins or booking-wins.",
    )
    sync_window_past_days: int = Field(
        default=7, ge=0, le=3650, description="Days into the past that reconcile compares."
    )
    sync_window_future_days: int = Field(
        default=365, ge=1, le=3650, description="Days into the future that reconcile compares."
    )
    mass_delete_threshold: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of a room's mapped bookings vanishing at once that trips the mass-deletion guard.",
    )
    mass_delete_min_bookings: int = Field(
        default=5,
        ge=1,
        description="Below this many mapped bookings in a room the mass-deletion guard does not apply.",
    )
    mass_delete_window_minutes: int = Field(
        default=15,
        ge=1,
        le=1440,
        description="Deletions propagated within this many minutes count together for the mass-deletion guard.",
    )
    private_subject: str = Field(
        default="Private booking",
        min_length=1,
        description="Subject written instead of a private meeting's subject.",
    )
    # --- organiser mode and scope (calsync.room_options; each overridable per room in ROOMS) -----
    organizer_mode: OrganizerMode | None = Field(
        default=None,
        description="Who organises Outlook copies of bookings: room or service-mailbox; empty: service-mailbox "
        "when SERVICE_MAILBOX is set, else room.",
    )
    service_mailbox: str | None = Field(
        default=None,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="The mailbox that organises bookings' meetings in service-mailbox mode (it invites the booker and the room).",
    )
    tenant_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated e-mail domains of the tenant: bookers from these are invited as attendees.",
    )
    booking_url_template: str | None = Field(
        default=None,
        description="Link to a booking put in its meeting's body, with {booking_id}, e.g. https://rooms.contoso.com/b/{booking_id}.",
    )
    outlook_scope: Annotated[OutlookScope, NoDecode] = Field(
        default_factory=OutlookScope,
        description='JSON: which Outlook events hold the room, e.g. {"ignore_show_as": ["free"], "categories_include": [], '
        '"categories_exclude": [], "organizer_domains": []}.',
    )
    booking_scope: Annotated[BookingScope, NoDecode] = Field(
        default_factory=BookingScope,
        description='JSON: bookings not synced, e.g. {"ignore_kinds": ["block"], "ignore_statuses": ["tentative"]}.',
    )
    booking_cancellation: str = Field(
        default="soft",
        pattern=r"^(soft|delete)$",
        description="How an Outlook cancellation reaches the booking system: soft (status cancelled, with who/when/why) "
        "or delete; BOOKING_BACKEND=mrbs always deletes.",
    )
    webhook_max_body_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        description="Largest webhook body accepted, in bytes; larger ones get 413.",
    )

    # --- telemetry ---------------------------------------------------------------------------
    applicationinsights_connection_string: SecretStr | None = Field(
        default=None,
        description="Application Insights connection string; empty disables export (local runs).",
    )

    @field_validator(
        "tables_connection_string", "graph_client_secret", "graph_client_state", "booking_api_key",
        "servicebus_connection_string", "mrbs_database_url", "mrbs_database_password",
        "booking_webhook_secrets", "applicationinsights_connection_string", mode="after",
    )  # fmt: skip
    @classmethod
    def _resolved(cls, value: Any, info: Any) -> Any:
        """An unresolved Key Vault reference must never be used as a secret (it is public text)."""
        values = value if isinstance(value, list) else [value]
        for item in values:
            text = item.get_secret_value() if isinstance(item, SecretStr) else item
            if isinstance(text, str) and text.strip().startswith("@Microsoft.KeyVault("):
                raise ValueError(
                    "is an unresolved Key Vault reference: grant the identity 'Key Vault Secrets User' and check "
                    "the secret exists (the app setting still holds the reference text)"
                )
        return value

    @field_validator("mrbs_time_zone")
    @classmethod
    def _mrbs_zone(cls, value: str) -> str:
        from calsync.model.booking import check_zone

        return check_zone(value)

    @field_validator("mrbs_block_type", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("outlook_scope", "booking_scope", mode="before")
    @classmethod
    def _parse_scope(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"is not valid JSON ({exc.msg} at position {exc.pos})") from None
        return value

    @field_validator("tenant_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("booking_webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rooms", mode="before")
    @classmethod
    def _parse_rooms(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return []
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"ROOMS is not valid JSON ({exc.msg} at position {exc.pos})") from None
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if self.tables_connection_string is None and not self.tables_endpoint:
            raise ValueError(
                "set TABLES_CONNECTION_STRING (Azurite, local) or TABLES_ENDPOINT (Azure, managed identity)"
            )
        keys = [room.key for room in self.rooms]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"ROOMS lists the room key(s) {', '.join(duplicates)} more than once")
        lacking = [room.key for room in self.rooms if (room.organizer_mode or self.organizer_mode)
                   is OrganizerMode.SERVICE_MAILBOX and not (room.service_mailbox or self.service_mailbox)]  # fmt: skip
        if lacking:
            raise ValueError(f"organizer mode service-mailbox needs SERVICE_MAILBOX (rooms {', '.join(lacking)})")
        if self.booking_backend is BookingBackend.MRBS and self.mrbs_database_url is None:
            raise ValueError("BOOKING_BACKEND=mrbs needs MRBS_DATABASE_URL")
        if self.graph_auth_mode is GraphAuthMode.SECRET and self.graph_client_secret is None:
            raise ValueError("GRAPH_AUTH_MODE=secret needs GRAPH_CLIENT_SECRET")
        if self.graph_auth_mode is GraphAuthMode.CERTIFICATE and not self.graph_certificate_path:
            raise ValueError("GRAPH_AUTH_MODE=certificate needs GRAPH_CERTIFICATE_PATH")
        if self.graph_auth_mode in (GraphAuthMode.SECRET, GraphAuthMode.CERTIFICATE, GraphAuthMode.WORKLOAD_IDENTITY):
            missing = [
                name
                for name, value in (
                    ("GRAPH_TENANT_ID", self.graph_tenant_id),
                    ("GRAPH_CLIENT_ID", self.graph_client_id),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"GRAPH_AUTH_MODE={self.graph_auth_mode.value} needs {' and '.join(missing)}")
        return self

    def room(self, key: str) -> Room | None:
        """The configured room with this key, or None when the room is not synchronised."""
        return next((room for room in self.rooms if room.key == key), None)

    def room_for_booking_id(self, booking_room_id: str) -> Room | None:
        """The configured room whose booking-system id is ``booking_room_id``, if any."""
        return next((room for room in self.rooms if room.booking_room_id == booking_room_id), None)


def env_name(field_name: str) -> str:
    """The environment-variable name an operator sets for a Settings field."""
    field = Settings.model_fields[field_name]
    return field.alias or field_name.upper()


def _describe(error: dict[str, Any]) -> str:
    location = error.get("loc") or ()
    name = env_name(str(location[0])) if location and location[0] in Settings.model_fields else "settings"
    detail = ".".join(str(part) for part in location[1:])
    where = f"{name}[{detail}]" if detail else name
    return f"{where}: {error['msg']}"


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment (and ``overrides``), or raise one clear ConfigurationError."""
    try:
        return Settings(**overrides)
    except SettingsError as exc:
        raise ConfigurationError(f"invalid calsync settings: {exc}") from None
    except PydanticValidationError as exc:
        # include_input=False keeps secret values out of the message.
        problems = [_describe(error) for error in exc.errors(include_input=False, include_url=False)]
        raise ConfigurationError("invalid calsync settings: " + "; ".join(problems), problems=problems) from None
