"""The end-to-end stack: Azurite, both emulators, the loopback functions host and the in-process queue."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from devstack.azurite import AzuriteTables
from devstack.local_stack import LocalStack


@pytest.fixture
async def stack(azurite: AzuriteTables) -> AsyncIterator[LocalStack]:
    """A fresh stack per test (own emulators, own table prefix) on the session's Azurite."""
    async with LocalStack(azurite=azurite) as running:
        yield running
