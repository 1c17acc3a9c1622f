"""End to end with MRBS as the booking system: MRBS's database on the embedded PostgreSQL, calsync's triggers,
the outbox poller driven as its timer, the engine, and the Graph emulator (issue #15's done-when)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from devstack.azurite import AzuriteTables
from devstack.local_stack import LocalStack
from devstack.mrbs_db import MRBS_USER, epoch
from devstack.postgres import EmbeddedPostgres
from tests.e2e.helpers import MAILBOX, graph_event, graph_utc, graph_writes, live_events
from tests.e2e.test_shapes import WEEKLY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ATLAS = 1  # MRBS room id of room-a
WINDOW = (dt.datetime(2026, 12, 1, tzinfo=dt.UTC), dt.datetime(2027, 5, 1, tzinfo=dt.UTC))


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
async def stack(azurite: AzuriteTables, postgres: EmbeddedPostgres) -> AsyncIterator[LocalStack]:
    async with LocalStack(azurite=azurite, postgres=postgres, booking="mrbs") as running:
        yield running


async def assert_quiet(stack: LocalStack) -> None:
    """After a settle, another settle writes nothing to either side (no echo)."""
    assert stack.mrbs is not None
    await stack.settle()
    stack.graph.clear_requests()
    mark = stack.mrbs.outbox_mark()
    await stack.settle()
    assert graph_writes(stack) == []
    assert stack.mrbs.writes_since(mark) == 0
    assert stack.queue is not None and stack.queue.dead_letters("changes") == []


def by_subject(stack: LocalStack, subject: str) -> dict:
    [event] = [e for e in live_events(stack) if e["subject"] == subject]
    return event


async def test_entries_made_in_mrbs_appear_in_outlook(stack: LocalStack) -> None:
    mrbs = stack.mrbs
    assert mrbs is not None
    mrbs.user_create_entry(ATLAS, "Board meeting", "2027-03-22T09:00", "2027-03-22T10:30")
    series = mrbs.user_create_series(ATLAS, "Standup", "2027-03-23T08:00", "2027-03-23T08:30",
                                     last_day="2027-04-08", weekdays="0010100")  # Tue + Thu, across DST  # fmt: skip
    moved, deleted = series["occurrences"][4], series["occurrences"][3]  # Tue 6 Apr, Thu 1 Apr
    mrbs.user_edit_occurrence(series["ical_uid"], moved, start="2027-04-06T11:00", end="2027-04-06T11:30",
                              name="Standup (late)")  # fmt: skip
    mrbs.user_delete_occurrence(series["ical_uid"], deleted)
    mrbs.user_create_entry(ATLAS, "Salary talk", "2027-03-24T14:00", "2027-03-24T15:00", private=True)
    mrbs.user_create_entry(ATLAS, "Vendor call (maybe)", "2027-03-24T16:00", "2027-03-24T17:00", tentative=True)
    mrbs.user_create_entry(ATLAS, "Away day", "2027-03-26T07:00", "2027-03-26T19:00")  # MRBS's "All day"
    await stack.settle()

    board = by_subject(stack, "Board meeting")
    assert (graph_utc(board["start"]), graph_utc(board["end"])) == (utc(2027, 3, 22, 8), utc(2027, 3, 22, 9, 30))

    [master] = [e for e in stack.graph.events(MAILBOX) if e.get("type") == "seriesMaster"]
    assert master["subject"] == "Standup"
    assert master["recurrence"]["pattern"]["type"] == "weekly"
    assert set(master["recurrence"]["pattern"]["daysOfWeek"]) == {"tuesday", "thursday"}
    instances = stack.graph.calendars.instances(MAILBOX, master["id"], *WINDOW)
    held = sorted((graph_utc(e["start"]), e["subject"]) for e in instances if not e.get("isCancelled"))
    assert held == [(utc(2027, 3, 23, 7), "Standup"), (utc(2027, 3, 25, 7), "Standup"),
                    (utc(2027, 3, 30, 6), "Standup"),  # 08:00 Berlin after the change to summer time
                    (utc(2027, 4, 6, 9), "Standup (late)"), (utc(2027, 4, 8, 6), "Standup")]  # fmt: skip

    private = [e for e in live_events(stack) if e.get("sensitivity") == "private"]
    assert [e["subject"] for e in private] == ["Private booking"]  # MRBS's title never reaches Outlook
    assert "Salary talk" not in {e["subject"] for e in stack.graph.events(MAILBOX)}
    assert by_subject(stack, "Vendor call (maybe)")["showAs"] == "tentative"
    away = by_subject(stack, "Away day")
    assert away["isAllDay"] is True
    assert (away["start"]["dateTime"][:10], away["end"]["dateTime"][:10]) == ("2027-03-26", "2027-03-27")
    await assert_quiet(stack)

    board_uid = next(r["ical_uid"] for r in mrbs.entries(ATLAS) if r["name"] == "Board meeting")
    mrbs.user_edit_entry(board_uid, name="Board meeting (budget)", end="2027-03-22T11:00")  # a new row id
    away_uid = next(r["ical_uid"] for r in mrbs.entries(ATLAS) if r["name"] == "Away day")
    mrbs.user_delete(away_uid)
    await stack.settle()
    board = by_subject(stack, "Board meeting (budget)")
    assert graph_utc(board["end"]) == utc(2027, 3, 22, 10)
    assert "Away day" not in {e["subject"] for e in live_events(stack)}
    await assert_quiet(stack)


async def test_outlook_creates_moves_and_cancellations_appear_in_mrbs_as_mrbs_rows(stack: LocalStack) -> None:
    mrbs = stack.mrbs
    assert mrbs is not None
    single = stack.graph.user_create_event(MAILBOX, graph_event("Design review", "2026-12-09T14:00:00",
                                                                "2026-12-09T15:00:00"))  # fmt: skip
    series = stack.graph.user_create_event(MAILBOX, graph_event("Weekly sync", "2026-12-07T09:00:00",
                                                                "2026-12-07T09:30:00", recurrence=WEEKLY))  # fmt: skip
    await stack.settle()
    [created] = [r for r in mrbs.entries(ATLAS) if r["name"] == "Design review"]
    assert (created["start_time"], created["end_time"]) == (epoch("2026-12-09T14:00"), epoch("2026-12-09T15:00"))
    assert (created["entry_type"], created["repeat_id"], created["ical_recur_id"]) == (0, None, None)
    assert (created["create_by"], created["modified_by"], created["ical_sequence"]) == (MRBS_USER, "", 0)
    assert created["type"] == "I" and created["status"] == 0 and created["ical_uid"].startswith("MRBS-")
    [repeat] = mrbs.repeats()
    assert (repeat["rep_type"], repeat["rep_opt"], repeat["rep_interval"]) == (2, "0100000", 1)  # weekly on Monday
    assert repeat["end_date"] == epoch("2026-12-28T09:00")
    occurrences = [r for r in mrbs.entries(ATLAS) if r["ical_uid"] == repeat["ical_uid"]]
    assert [r["start_time"] for r in occurrences] == [epoch(f"2026-12-{d:02d}T09:00") for d in (7, 14, 21, 28)]
    assert {(r["entry_type"], r["repeat_id"]) for r in occurrences} == {(1, repeat["id"])}

    stack.graph.user_update_event(MAILBOX, single["id"], graph_event("Design review (moved)", "2026-12-10T10:00:00",
                                                                     "2026-12-10T11:30:00"))  # fmt: skip
    instances = sorted(stack.graph.calendars.instances(MAILBOX, series["id"], *WINDOW), key=lambda e: e["start"]["dateTime"])
    stack.graph.user_update_event(MAILBOX, instances[1]["id"], graph_event("Weekly sync", "2026-12-15T11:00:00",
                                                                           "2026-12-15T11:30:00"))  # fmt: skip
    stack.graph.user_delete_event(MAILBOX, instances[2]["id"])
    await stack.settle()
    [moved] = [r for r in mrbs.entries(ATLAS) if r["ical_uid"] == created["ical_uid"]]
    assert moved["name"] == "Design review (moved)" and moved["id"] != created["id"]  # MRBS's edit: a new row
    assert (moved["start_time"], moved["end_time"]) == (epoch("2026-12-10T10:00"), epoch("2026-12-10T11:30"))
    assert (moved["ical_recur_id"], moved["ical_sequence"], moved["modified_by"]) == ("", 1, MRBS_USER)
    assert moved["create_by"] == MRBS_USER
    [repeat] = mrbs.repeats()
    rows = [r for r in mrbs.entries(ATLAS) if r["ical_uid"] == repeat["ical_uid"]]
    assert [r["start_time"] for r in rows] == [epoch("2026-12-07T09:00"), epoch("2026-12-15T11:00"),
                                              epoch("2026-12-28T09:00")]  # 21 Dec cancelled  # fmt: skip
    detached = rows[1]
    assert (detached["entry_type"], detached["repeat_id"], detached["ical_recur_id"]) == (0, None, "20261214T080000Z")
    assert all(r["repeat_id"] == repeat["id"] and r["entry_type"] == 1 for r in (rows[0], rows[2]))

    stack.graph.user_delete_event(MAILBOX, single["id"])
    await stack.settle()
    assert [r for r in mrbs.entries(ATLAS) if r["ical_uid"] == created["ical_uid"]] == []
    await assert_quiet(stack)


async def test_a_raw_update_made_while_calsync_is_stopped_is_synced_after_it_starts(stack: LocalStack) -> None:
    mrbs = stack.mrbs
    assert mrbs is not None
    entry = mrbs.user_create_entry(ATLAS, "Planning", "2027-02-01T09:00", "2027-02-01T10:00")
    await stack.settle()
    assert graph_utc(by_subject(stack, "Planning")["start"]) == utc(2027, 2, 1, 8)

    await stack.stop_calsync()  # no poller, no queue handlers
    mrbs.execute(f"UPDATE {mrbs.t('entry')} SET start_time = start_time + 7200, end_time = end_time + 7200 "  # noqa: S608
                 "WHERE ical_uid = %s", (entry["ical_uid"],))  # fmt: skip
    await stack.start_calsync()
    await stack.settle()
    event = by_subject(stack, "Planning")
    assert (graph_utc(event["start"]), graph_utc(event["end"])) == (utc(2027, 2, 1, 10), utc(2027, 2, 1, 11))
    await assert_quiet(stack)
