"""`make run`'s scenario ends with both sides identical and the double booking resolved."""

from __future__ import annotations

import pytest

from devstack.local_run import run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_the_local_run_scenario_ends_identical(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run() == 0
    out = capsys.readouterr().out
    assert "Both sides are identical" in out
    assert "The room is already booked" in out
