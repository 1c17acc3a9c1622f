"""`calsync rooms import` and `calsync onboard --dry-run|--apply` on the local stack, here and as an Azure job."""

from __future__ import annotations

import csv
import json

import pytest

from calsync.cli.common import CliState
from calsync.operations.onboard import onboard_in_azure
from calsync.rooms.state import RoomState
from devstack.local_stack import LocalStack
from tests.cli.helpers import invoke
from tests.e2e.helpers import MAILBOX, ROOM_ID, booking_fields, booking_writes, graph_writes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CSV = "key,mailbox,booking_room_id,name\nroom-a,room-a@contoso.example,R-100,Atlas\n"


async def test_import_dry_run_then_apply_through_the_command(stack: LocalStack, tmp_path) -> None:
    (tmp_path / "rooms.csv").write_text(CSV)
    cli = CliState(load_settings=lambda: stack.settings)
    assert (await invoke("rooms", "import", str(tmp_path / "rooms.csv"), obj=cli)).exit_code == 0
    # the stack's ROOMS seeds room-a as live (it synced before the registry existed): make it pending
    assert (await invoke("rooms", "set", "room-a", "--state", "pending", obj=cli)).exit_code == 0
    stack.graph.person_create_meeting("ada@contoso.example", "Design review", _at("2026-12-08T09:00"),
                                      _at("2026-12-08T10:00"), rooms=[MAILBOX])  # fmt: skip
    stack.booking.user_create_booking(ROOM_ID, **booking_fields("Design review", "2026-12-08T09:00:00Z",
                                                                "2026-12-08T10:00:00Z"))  # fmt: skip
    stack.booking.user_create_booking(ROOM_ID, **booking_fields("Only booked", "2026-12-09T09:00:00Z",
                                                                "2026-12-09T10:00:00Z"))  # fmt: skip
    await stack.settle()
    out = tmp_path / "report"
    dry = await invoke("onboard", "room-a", "--dry-run", "--out", str(out), obj=cli)
    assert dry.exit_code == 0, dry.output
    assert "nothing written" in dry.stdout
    report = json.loads((out / "room-a.json").read_text())
    assert report["counts"] == {"pair": 1, "copy-to-booking": 0, "copy-to-outlook": 1, "conflict": 0, "skipped": 0}
    rows = list(csv.DictReader((out / "room-a.csv").open()))
    assert {row["kind"] for row in rows} == {"pair", "copy-to-outlook"}
    assert graph_writes(stack) == [] and booking_writes(stack) == []

    applied = await invoke("onboard", "room-a", "--apply", "--out", str(out), obj=cli)
    assert applied.exit_code == 0, applied.output
    assert "live" in applied.stdout
    assert len(graph_writes(stack)) == 1 and booking_writes(stack) == []
    status = await invoke("status", obj=cli)
    assert "live" in status.stdout


async def test_onboarding_runs_as_a_job_in_the_app_and_the_command_follows_it(stack: LocalStack) -> None:
    services = await stack.services()
    room = services.settings.room("room-a")
    from calsync.store.rooms import RoomRecord

    await services.rooms.put(RoomRecord.from_room(room, RoomState.PENDING))
    stack.booking.user_create_booking(ROOM_ID, **booking_fields("Only booked", "2026-12-09T09:00:00Z",
                                                                "2026-12-09T10:00:00Z"))  # fmt: skip
    await stack.settle()
    seen: list[str] = []
    planned = await onboard_in_azure(stack.settings, stack.queue, ["room-a"], apply=False, poll_seconds=0.05,
                                     on_progress=lambda row: seen.append(row.step))  # fmt: skip
    assert planned.plans["room-a"].counts()["copy-to-outlook"] == 1 and "planned" in seen
    assert graph_writes(stack) == []
    done = await onboard_in_azure(stack.settings, stack.queue, ["room-a"], apply=True, poll_seconds=0.05,
                                  on_progress=lambda row: seen.append(row.step))  # fmt: skip
    assert done.errors == {} and seen[-1] == "live"
    assert (await services.rooms.get("room-a")).state is RoomState.LIVE
    assert len(graph_writes(stack)) == 1


def _at(text: str):
    import datetime as dt

    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)

