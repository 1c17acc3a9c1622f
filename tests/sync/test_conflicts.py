"""The pure conflict decision (calsync.sync.conflicts) and overlap.overlapping_occurrences: per-occurrence losers."""

from __future__ import annotations

import datetime as dt

from calsync.model import Booking, Recurrence, Side, content_hash
from calsync.settings import ConflictPolicy
from calsync.sync.actions import Conflict, Decline, DeclineOccurrences
from calsync.sync.overlap import overlapping_occurrences
from calsync.sync.plan import plan
from calsync.sync.state import ItemState, OrganizerRole, Policy, TargetView

T0 = dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC)
WINDOW = (dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2027, 6, 1, tzinfo=dt.UTC))


def weekly(count: int = 6, **extra) -> Booking:
    return Booking(room="room-a", subject="Weekly", start=T0, end=T0 + dt.timedelta(hours=1),
                   recurrence=Recurrence(rrule=f"FREQ=WEEKLY;COUNT={count}"), **extra)  # fmt: skip


def single(day: int) -> Booking:
    start = dt.datetime(2026, 12, day, 9, 30, tzinfo=dt.UTC)
    return Booking(room="room-a", subject=f"On {day}", start=start, end=start + dt.timedelta(hours=1))


def item(side: Side, item_id: str, b: Booking, created: int, role: OrganizerRole | None = None) -> ItemState:
    return ItemState(side=side, item_id=item_id, booking=b, content_hash=content_hash(b), role=role,
                     created_at=T0 - dt.timedelta(days=10 - created))  # fmt: skip


def test_overlapping_occurrences_names_only_the_shared_dates() -> None:
    dates = overlapping_occurrences(weekly(), single(10), WINDOW)
    assert dates == (dt.datetime(2026, 12, 10, 9, tzinfo=dt.UTC),)
    assert overlapping_occurrences(weekly(), single(11), WINDOW) == ()


def test_a_persons_series_loses_only_the_dates_booked_before_it() -> None:
    source = item(Side.OUTLOOK, "O1", weekly(), created=5, role=OrganizerRole.PERSON)
    rivals = [item(Side.BOOKING, "B1", single(10), created=1), item(Side.BOOKING, "B2", single(17), created=1)]
    action = plan(source, None, TargetView(overlapping=rivals, window=WINDOW), Policy())
    assert isinstance(action, DeclineOccurrences)
    assert action.loser.declines_instances and len(action.loser.occurrences) == 2
    assert "on 2026-12-10, 2026-12-17" in action.reason
    written = action.then.source.booking
    assert written is not None and written.recurrence is not None and len(written.recurrence.exdates) == 2


def test_a_booking_series_beaten_on_some_dates_gets_them_as_exdates() -> None:
    source = item(Side.OUTLOOK, "O1", single(10), created=5, role=OrganizerRole.PERSON)
    rival = item(Side.BOOKING, "B1", weekly(), created=1)
    action = plan(source, None, TargetView(overlapping=[rival], window=WINDOW),
                  Policy(conflict_policy=ConflictPolicy.OUTLOOK_WINS))  # fmt: skip
    assert isinstance(action, Conflict)
    [loser] = action.losers
    assert loser.occurrences == (dt.datetime(2026, 12, 10, 9, tzinfo=dt.UTC),) and not loser.declines_instances
    assert loser.reason is not None and "on 2026-12-10" in loser.reason


def test_a_series_losing_every_occurrence_gives_way_whole() -> None:
    source = item(Side.OUTLOOK, "O1", weekly(count=1), created=5, role=OrganizerRole.PERSON)
    action = plan(source, None, TargetView(overlapping=[item(Side.BOOKING, "B1", single(3), created=1)],
                                           window=WINDOW), Policy())  # fmt: skip
    assert isinstance(action, Decline) and action.loser.occurrences == ()


def test_an_item_of_unknown_organiser_gives_way_whole() -> None:
    source = item(Side.OUTLOOK, "O1", weekly(), created=5, role=None)
    action = plan(source, None, TargetView(overlapping=[item(Side.BOOKING, "B1", single(10), created=1)],
                                           window=WINDOW), Policy())  # fmt: skip
    assert isinstance(action, Decline)
