"""OwnVersions: what calsync wrote in this process, as the webhooks ask it (pure, no I/O)."""

from __future__ import annotations

import datetime as dt

from calsync.model.booking import Side
from calsync.model.mapping import MappingRow
from calsync.store.own_versions import OwnVersions

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def row(*, series: bool = False, outlook_version: str | None = "ck-1", booking_version: str | None = "3") -> MappingRow:
    return MappingRow(room="room-a", mapping_id="m1", origin=Side.OUTLOOK, outlook_id="O1", booking_id="B1",
                      outlook_version=outlook_version, booking_version=booking_version, series=series,
                      created_at=T0, updated_at=T0)  # fmt: skip


def test_a_written_mapping_row_records_both_sides_versions_whatever_their_etag_spelling() -> None:
    own = OwnVersions()
    own.record(row())
    assert own.holds("room-a", Side.OUTLOOK, "O1", 'W/"ck-1"')  # Graph's @odata.etag of changeKey ck-1
    assert own.holds("room-a", Side.BOOKING, "B1", '"3"')
    assert not own.holds("room-a", Side.BOOKING, "B1", "4")
    assert not own.holds("room-b", Side.BOOKING, "B1", "3")  # another room's item of the same id
    assert not own.holds("room-a", Side.OUTLOOK, "B1", "3")  # the other side's id space
    assert not own.holds("room-a", Side.BOOKING, "B1", None)


def test_a_series_row_records_nothing() -> None:
    own = OwnVersions()
    own.record(row(series=True))
    assert len(own) == 0


def test_the_oldest_versions_go_first_past_the_bound() -> None:
    own = OwnVersions(max_entries=6)  # two versions a row
    for version in "1234":
        own.record(row(outlook_version=f"ck-{version}", booking_version=version))
    assert [own.holds("room-a", Side.BOOKING, "B1", v) for v in "1234"] == [False, True, True, True]
