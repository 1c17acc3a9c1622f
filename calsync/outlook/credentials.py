"""Which azure-identity credential calsync uses for Microsoft Graph, chosen by GRAPH_AUTH_MODE.

managed-identity (user-assigned, client id from AZURE_CLIENT_ID, or system-assigned),
workload-identity (federation; the token file comes from AZURE_FEDERATED_TOKEN_FILE),
certificate, secret, or none: anonymous requests, only for the loopback emulator.
The token scope is derived from GRAPH_BASE_URL (https://graph.microsoft.com/.default
for the public cloud), and only that host is given tokens. Nothing here logs a secret.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from azure.core.credentials_async import AsyncTokenCredential
from kiota_abstractions.authentication import AnonymousAuthenticationProvider, AuthenticationProvider
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider

from calsync.errors import ConfigurationError
from calsync.settings import GraphAuthMode, Settings


def graph_credential(settings: Settings) -> AsyncTokenCredential | None:
    """The async credential for settings.graph_auth_mode; None for ``none`` (the emulator)."""
    from azure.identity import aio as identity

    mode = settings.graph_auth_mode
    if mode is GraphAuthMode.NONE:
        return None
    if mode is GraphAuthMode.MANAGED_IDENTITY:
        return identity.ManagedIdentityCredential(client_id=settings.azure_client_id)
    tenant, client = settings.graph_tenant_id, settings.graph_client_id
    if not tenant or not client:
        raise ConfigurationError(f"GRAPH_AUTH_MODE={mode.value} needs GRAPH_TENANT_ID and GRAPH_CLIENT_ID")
    if mode is GraphAuthMode.WORKLOAD_IDENTITY:
        return identity.WorkloadIdentityCredential(tenant_id=tenant, client_id=client)
    if mode is GraphAuthMode.CERTIFICATE:
        return identity.CertificateCredential(tenant, client, certificate_path=settings.graph_certificate_path)
    if mode is GraphAuthMode.SECRET:
        if settings.graph_client_secret is None:
            raise ConfigurationError("GRAPH_AUTH_MODE=secret needs GRAPH_CLIENT_SECRET")
        return identity.ClientSecretCredential(tenant, client, settings.graph_client_secret.get_secret_value())
    raise ConfigurationError(f"unknown GRAPH_AUTH_MODE {mode!r}")


def graph_scope(base_url: str) -> str:
    """The .default scope of the Graph host behind ``base_url``."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/.default"


def authentication_provider(
    settings: Settings, credential: AsyncTokenCredential | None = None
) -> AuthenticationProvider:
    """A kiota authentication provider: bearer tokens from ``credential`` for the Graph host only."""
    credential = credential or graph_credential(settings)
    if credential is None:
        return AnonymousAuthenticationProvider()
    host = urlsplit(settings.graph_base_url).hostname or "graph.microsoft.com"
    return AzureIdentityAuthenticationProvider(
        credential, scopes=[graph_scope(settings.graph_base_url)], allowed_hosts=[host]
    )
