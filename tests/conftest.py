"""Shared fixtures: a real Azurite and a real PostgreSQL (for MRBS) for the whole session, and Settings
pointing at Azurite per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings

from calsync.settings import Settings, load_settings
from devstack.azurite import AzuriteTables, start_azurite_tables
from devstack.postgres import EmbeddedPostgres, start_postgres

# The property tests run the same examples on every run, as the state machines do in CI, so a red CI
# is a change's and never chance's; CALSYNC_HYPOTHESIS_RANDOM=1 makes them explore (long runs, locally).
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile("explore" if os.environ.get("CALSYNC_HYPOTHESIS_RANDOM") else "repeatable")


@pytest.fixture(scope="session")
def azurite() -> Iterator[AzuriteTables]:
    """Azurite's Table service on a free loopback port, in memory, for the whole test session."""
    running = start_azurite_tables()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    """An embedded PostgreSQL 18 (started on first use, about half a second) for MRBS databases."""
    running = start_postgres()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def table_prefix() -> str:
    """A table-name prefix no other test uses, so tests never see each other's rows."""
    return "t" + uuid.uuid4().hex[:16]


@pytest.fixture
def settings(azurite: AzuriteTables, table_prefix: str) -> Settings:
    """Settings for a test: Azurite tables under a fresh prefix, Graph auth off (emulator)."""
    return load_settings(
        tables_connection_string=azurite.connection_string,
        table_prefix=table_prefix,
        graph_auth_mode="none",
    )
