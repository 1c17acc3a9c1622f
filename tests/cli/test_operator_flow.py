"""The operator's commands end to end: the mass-deletion runbook, and `calsync demo`.

The whole local stack runs (Azurite, both emulators, the functions host, the in-process
queue); the guard stops a wiped room, the operator looks, releases it and replays with
the real `calsync` commands.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.azurite import AzuriteTables
from devstack.inprocess_queue import InProcessDeadLetters
from devstack.local_stack import LocalStack
from tests.cli.helpers import dead_letter_state, invoke
from tests.e2e.helpers import daily_bookings, live_events

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def row(output: str, room: str) -> str:
    [line] = [line for line in output.splitlines() if f"{room}@contoso.example" in line]
    return line


async def test_a_released_room_applies_its_deletions_after_replay(azurite: AzuriteTables, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "220")
    async with LocalStack(azurite=azurite, max_delivery_count=2) as stack:
        created = daily_bookings(stack, "Standup", 6, hour=9)
        await stack.settle()
        for booking in created:
            stack.booking.user_delete_booking(booking["id"])
        await stack.settle()
        assert len(live_events(stack)) == 6  # the guard deleted nothing
        settings = stack.settings
        state = dead_letter_state(InProcessDeadLetters(stack.queue), load_settings=lambda: settings)

        status = await invoke("status", obj=state)
        assert "stopped: 6 of 6 synced bookings vanished from booking" in row(status.stdout, "room-a")
        assert "stopped" not in row(status.stdout, "room-b")
        listed = await invoke("dlq", "list", obj=state)
        assert "MassDeletionGuardTripped" in listed.stdout

        released = await invoke("rooms", "release", "room-a", obj=state)
        assert released.exit_code == 0, released.output
        replayed = await invoke("dlq", "replay", "--room", "room-a", obj=state)
        assert replayed.exit_code == 0, replayed.output
        await stack.settle()

        assert live_events(stack) == []  # the confirmed deletions went through
        after = await invoke("status", obj=state)
        cells = [cell.strip() for cell in row(after.stdout, "room-a").split("│")]
        assert cells[4] == "0" and cells[8] == "0" and cells[9].startswith("released")  # no sync problem: a hold
        assert "No dead letters" in (await invoke("dlq", "list", obj=state)).stdout


def test_calsync_demo_runs_the_local_scenario_and_says_both_sides_match() -> None:
    result = subprocess.run([sys.executable, "-m", "calsync.cli", "demo"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False, env={**os.environ, "COLUMNS": "160"})  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Both sides are identical" in " ".join(result.stdout.split())
