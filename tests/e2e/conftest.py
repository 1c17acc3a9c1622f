"""The end-to-end stack: Azurite, both emulators, the loopback functions host and the in-process queue."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from calsync.local_stack import LocalStack


@pytest.fixture
async def stack() -> AsyncIterator[LocalStack]:
    async with LocalStack() as running:
        yield running
