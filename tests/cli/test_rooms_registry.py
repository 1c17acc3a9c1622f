"""`calsync rooms import|list|show|set|pause|resume|remove` and the state in `calsync status`, on Azurite."""

from __future__ import annotations

import pytest

from tests.cli.helpers import invoke

pytestmark = pytest.mark.azurite

CSV = "key,mailbox,booking_room_id,name\nhall,hall@contoso.example,R-300,Hall\n,loft@contoso.example,R-400,Loft\n"


async def test_import_list_pause_resume_remove_and_status(cli_env, tmp_path):
    (tmp_path / "rooms.csv").write_text(CSV)
    result = await invoke("rooms", "import", str(tmp_path / "rooms.csv"))
    assert result.exit_code == 0, result.output
    assert "2 room(s) added as pending" in result.stdout
    again = await invoke("rooms", "import", str(tmp_path / "rooms.csv"))
    assert "0 room(s) added as pending, 0 updated, 2 unchanged" in again.stdout

    listing = await invoke("rooms", "list")
    assert "hall" in listing.stdout and "loft" in listing.stdout and "pending" in listing.stdout
    assert "room-a" in listing.stdout and "setting" in listing.stdout  # the ROOMS seed, live

    assert (await invoke("rooms", "pause", "room-a", "--note", "works")).exit_code == 0
    status = await invoke("status")
    assert status.exit_code == 0, status.output
    rows = {line.split("│")[1].strip(): line for line in status.stdout.splitlines() if line.count("│") > 3}
    assert "paused" in rows["room-a"] and "pending" in rows["hall"] and "live" in rows["room-b"]

    assert "live again" in (await invoke("rooms", "resume", "room-a")).stdout
    assert (await invoke("rooms", "pause", "hall")).exit_code == 0
    assert "pending again" in (await invoke("rooms", "resume", "hall")).stdout

    moved = await invoke("rooms", "set", "hall", "--booking-room", "R-301")
    assert moved.exit_code == 0 and "R-301" in moved.stdout
    clash = await invoke("rooms", "set", "loft", "--booking-room", "R-301")
    assert clash.exit_code == 2 and "already belongs to room hall" in clash.stderr
    assert (await invoke("rooms", "remove", "loft")).exit_code == 0
    assert "unknown room 'loft'" in (await invoke("rooms", "show", "loft")).stderr
