"""OwnWrites: the echo of calsync's own write, told by the exact version written, and nothing else."""

from __future__ import annotations

import datetime as dt

from calsync.model import Side
from calsync.model.mapping import MappingRow, mapping_id_for
from calsync.store.own_writes import OwnWrites

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
ROOM = "room-w"


def saved(booking_id: str = "B-1", outlook_version: str = 'W/"ck-1"', *, series: bool = False) -> MappingRow:
    """The mapping backfill saved after copying booking ``booking_id`` to Outlook (copy at ``outlook_version``)."""
    return MappingRow(room=ROOM, mapping_id=mapping_id_for(Side.BOOKING, booking_id), origin=Side.BOOKING,
                      outlook_id=f"AAMk-{booking_id}", booking_id=booking_id, outlook_hash="h", booking_hash="b",
                      outlook_version=outlook_version, booking_version="1", series=series, created_at=NOW,
                      updated_at=NOW, etag='W/"e"')  # fmt: skip


def test_the_notification_of_the_version_written_is_told_as_its_echo_once() -> None:
    written = OwnWrites()
    row = saved()
    written.record(row, Side.OUTLOOK)
    echo = written.echo(ROOM, Side.OUTLOOK, "AAMk-B-1", '"ck-1"')  # Graph's @odata.etag, quoted differently
    assert echo is not None
    assert (echo.mapping_id, echo.booking_id, echo.outlook_id) == (row.mapping_id, "B-1", "AAMk-B-1")
    assert echo.outlook_version == '"ck-1"' and not echo.series and echo.etag is None  # guards no write
    assert written.echo(ROOM, Side.OUTLOOK, "AAMk-B-1", '"ck-1"') is None  # a duplicate goes the normal way


def test_another_version_another_item_side_or_room_is_not_an_echo() -> None:
    written = OwnWrites()
    written.record(saved(), Side.OUTLOOK)
    assert written.echo(ROOM, Side.OUTLOOK, "AAMk-B-1", 'W/"ck-2"') is None  # changed since calsync wrote it
    assert written.echo(ROOM, Side.OUTLOOK, "AAMk-B-1", None) is None
    assert written.echo(ROOM, Side.BOOKING, "B-1", "1") is None  # calsync did not write the original
    assert written.echo("room-x", Side.OUTLOOK, "AAMk-B-1", 'W/"ck-1"') is None
    assert written.echo(ROOM, Side.OUTLOOK, "AAMk-B-1", 'W/"ck-1"') is not None  # a miss forgot nothing


def test_a_series_is_never_recorded() -> None:
    written = OwnWrites()
    written.record(saved(series=True), Side.OUTLOOK)  # its exceptions change without a new version of the master
    assert len(written) == 0 and written.echo(ROOM, Side.OUTLOOK, "AAMk-B-1", 'W/"ck-1"') is None


def test_the_oldest_writes_give_way_to_newer_ones() -> None:
    written = OwnWrites(limit=2)
    for booking_id in ("B-1", "B-2", "B-3"):
        written.record(saved(booking_id), Side.OUTLOOK)
    assert len(written) == 2
    assert written.echo(ROOM, Side.OUTLOOK, "AAMk-B-1", 'W/"ck-1"') is None  # pushed out: the normal path
    assert written.echo(ROOM, Side.OUTLOOK, "AAMk-B-3", 'W/"ck-1"') is not None


def test_writing_the_item_again_keeps_only_the_last_version() -> None:
    written = OwnWrites()
    written.record(saved(outlook_version='W/"ck-1"'), Side.OUTLOOK)
    written.record(saved(outlook_version='W/"ck-2"'), Side.OUTLOOK)
    assert written.echo(ROOM, Side.OUTLOOK, "AAMk-B-1", 'W/"ck-1"') is None
    assert written.echo(ROOM, Side.OUTLOOK, "AAMk-B-1", 'W/"ck-2"') is not None
