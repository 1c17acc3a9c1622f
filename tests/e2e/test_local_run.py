"""`make run`'s scenario ends with both sides identical and the double booking resolved, with the booking
emulator (the default) and with MRBS as the booking system (`python -m devstack.local_run --booking mrbs`)."""

from __future__ import annotations

import pytest

from devstack.local_run import cli, run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_the_local_run_scenario_ends_identical(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run() == 0
    out = capsys.readouterr().out
    assert "Both sides are identical" in out
    assert "The room is already booked" in out
    assert "MRBS" not in out


def test_the_local_run_scenario_ends_identical_with_mrbs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["--booking", "mrbs"]) == 0  # as `python -m devstack.local_run --booking mrbs` runs it
    out = capsys.readouterr().out
    assert "MRBS database" in out
    assert "Both sides are identical" in out
    assert "The room is already booked" in out
    assert "Sprint planning" in out and "live items: Outlook 4, MRBS 4, mapped 4" in out
