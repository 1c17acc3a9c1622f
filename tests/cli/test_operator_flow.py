"""The runbook end to end: the guard stops a wiped room, the operator looks, releases it and replays.

The whole local stack runs (Azurite, both emulators, the functions host, the in-process
queue); the operator's steps are the real `calsync` commands.
"""

from __future__ import annotations

import pytest

from calsync.emulators.azurite import AzuriteTables
from calsync.local_stack import LocalStack
from calsync.queues.dead_letters import InProcessDeadLetters
from tests.cli.helpers import dead_letter_state, invoke
from tests.e2e.helpers import ROOM_ID, booking_fields, live_events

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def row(output: str, room: str) -> str:
    [line] = [line for line in output.splitlines() if f"{room}@contoso.example" in line]
    return line


async def test_a_released_room_applies_its_deletions_after_replay(azurite: AzuriteTables, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "220")
    async with LocalStack(azurite=azurite, max_delivery_count=2) as stack:
        created = [stack.booking.user_create_booking(ROOM_ID, **booking_fields(
            f"Standup {day}", f"2026-12-{day:02d}T09:00:00+01:00", f"2026-12-{day:02d}T09:15:00+01:00"))
            for day in range(1, 7)]  # fmt: skip
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
        replayed = await invoke("dlq", "replay", "--all", obj=state)
        assert replayed.exit_code == 0, replayed.output
        await stack.settle()

        assert live_events(stack) == []  # the confirmed deletions went through
        after = await invoke("status", obj=state)
        cells = [cell.strip() for cell in row(after.stdout, "room-a").split("│")]
        assert cells[3] == "0" and cells[7].startswith("released")
        assert "No dead letters" in (await invoke("dlq", "list", obj=state)).stdout
