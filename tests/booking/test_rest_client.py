"""BookingRestClient against the real loopback emulator: every Protocol operation, the error mapping
(409, 412, 404, 401, 410, 429, 500), retries with Retry-After and idempotent creates."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.booking.protocol import (
    BookingRecord,
    BookingSystem,
    ChangedMeanwhile,
    ChangeFeedExpired,
    RoomAlreadyBooked,
)
from calsync.booking.rest_client import BookingRestClient, parse_retry_after
from calsync.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    SyncStateExpired,
    Throttled,
    TransientError,
    ValidationError,
)
from calsync.model import Booking, BookingKind, BookingStatus, Organizer, Recurrence, Sensitivity
from devstack.booking import BookingEmulator
from tests.booking.conftest import API_KEY, RecordingSleep, at

pytestmark = pytest.mark.emulator


def meeting(day: int = 4, hour: int = 9, hours: int = 1, **fields: object) -> Booking:
    values: dict[str, object] = {
        "room": "atlas",
        "subject": "Planning",
        "start": at(day, hour),
        "end": at(day, hour + hours),
        "time_zone": "Europe/Berlin",
        "organizer": Organizer(name="Ada", email="ada@example.com"),
    }
    values.update(fields)
    return Booking(**values)  # type: ignore[arg-type]


async def create(
    client: BookingRestClient, booking: Booking, key: str = "k-1", ref: str | None = "AAMk/1+="
) -> BookingRecord:
    return await client.create_booking("room-1", booking, idempotency_key=key, external_ref=ref)


def test_client_implements_the_protocol(client: BookingRestClient) -> None:
    assert isinstance(client, BookingSystem)


async def test_list_rooms(client: BookingRestClient) -> None:
    rooms = await client.list_rooms()
    assert [(r.id, r.name, r.email) for r in rooms] == [
        ("room-1", "Atlas", "atlas@example.com"),
        ("room-2", "Boreas", "boreas@example.com"),
    ]


async def test_create_then_get_round_trips_the_canonical_booking(
    client: BookingRestClient, emulator: BookingEmulator
) -> None:
    booking = meeting(sensitivity=Sensitivity.PRIVATE, status=BookingStatus.TENTATIVE)
    created = await create(client, booking)
    assert created.version == "1" and created.external_ref == "AAMk/1+="
    fetched = await client.get_booking(created.id)
    assert fetched == created
    assert fetched.booking.room == "atlas"  # room key through the RoomMap
    assert fetched.booking.model_dump(exclude={"ids"}) == booking.model_dump(exclude={"ids"})
    assert fetched.booking.ids.booking == created.id and fetched.booking.ids.outlook == "AAMk/1+="
    (post,) = emulator.requests_to("POST", "/bookings")
    assert post.headers["idempotency-key"] == "k-1"
    assert post.headers["authorization"] == "Bearer <redacted>"


async def test_all_day_recurring_block_round_trips(client: BookingRestClient) -> None:
    block = Booking(
        room="atlas",
        subject="Closed for painting",
        start=dt.date(2030, 3, 11),
        end=dt.date(2030, 3, 12),
        all_day=True,
        time_zone="Europe/Berlin",
        kind=BookingKind.BLOCK,
        recurrence=Recurrence(rrule="FREQ=DAILY;COUNT=3", exdates=(dt.date(2030, 3, 12),)),
    )
    created = await create(client, block, ref=None)
    fetched = await client.get_booking(created.id)
    assert fetched.booking.kind is BookingKind.BLOCK
    assert fetched.booking.start == dt.date(2030, 3, 11)
    assert fetched.booking.recurrence == block.recurrence


async def test_find_by_external_ref(client: BookingRestClient) -> None:
    created = await create(client, meeting())
    found = await client.find_by_external_ref("AAMk/1+=")
    assert found is not None and found.id == created.id
    assert await client.find_by_external_ref("AAMk-unknown") is None


async def test_list_bookings_follows_pages_and_filters_by_window(
    client: BookingRestClient, emulator: BookingEmulator
) -> None:
    ids = [(await create(client, meeting(day=day), key=f"k{day}", ref=None)).id for day in (4, 5, 6, 7, 8)]
    await client.create_booking("room-2", meeting(day=4, room="boreas"), idempotency_key="other", external_ref=None)
    listed = [r.id async for r in client.list_bookings("room-1", at(5, 0), at(8, 0))]
    assert sorted(listed) == sorted(ids[1:4])
    everything = [r.id async for r in client.list_bookings("room-1", at(1, 0), at(30, 0))]
    assert sorted(everything) == sorted(ids)
    assert len(emulator.requests_to("GET", "/bookings")) >= 3 + 1  # page_size=2: several pages


async def test_list_bookings_includes_series_with_an_occurrence_in_the_window(client: BookingRestClient) -> None:
    series = await create(client, meeting(day=4, recurrence=Recurrence(rrule="FREQ=WEEKLY;COUNT=4")), ref=None)
    listed = [r.id async for r in client.list_bookings("room-1", at(18, 0), at(19, 0))]
    assert listed == [series.id]


async def test_list_bookings_for_unknown_room_is_not_found(client: BookingRestClient) -> None:
    with pytest.raises(NotFound, match="room 'nope' does not exist"):
        _ = [r async for r in client.list_bookings("nope", at(1, 0), at(2, 0))]


async def test_update_with_current_version(client: BookingRestClient) -> None:
    created = await create(client, meeting())
    updated = await client.update_booking(created.id, meeting(hour=14, subject="Moved"), if_match=created.version)
    assert updated.version == "2"
    assert updated.booking.subject == "Moved" and updated.booking.start == at(4, 14)
    assert updated.external_ref == "AAMk/1+="  # omitted external_ref keeps the stamp


async def test_update_with_stale_version_is_changed_meanwhile(
    client: BookingRestClient, emulator: BookingEmulator
) -> None:
    created = await create(client, meeting())
    emulator.user_update_booking(created.id, title="Edited by a user")
    with pytest.raises(ChangedMeanwhile, match=r"412 Precondition failed: booking .* changed meanwhile") as caught:
        await client.update_booking(created.id, meeting(subject="Ours"), if_match=created.version)
    assert isinstance(caught.value, Conflict) and caught.value.status == 412 and caught.value.side == "booking"
    assert caught.value.fields["current_version"] == "2"


async def test_delete_with_current_and_stale_version(client: BookingRestClient) -> None:
    created = await create(client, meeting())
    with pytest.raises(ChangedMeanwhile):
        await client.delete_booking(created.id, if_match="99")
    await client.delete_booking(created.id, if_match=created.version)
    with pytest.raises(NotFound, match="404 Not found"):
        await client.get_booking(created.id)
    with pytest.raises(NotFound):
        await client.delete_booking(created.id, if_match=created.version)


async def test_double_booking_is_room_already_booked(client: BookingRestClient) -> None:
    first = await create(client, meeting(hour=9, hours=2))
    with pytest.raises(RoomAlreadyBooked, match="409 Room already booked: room 'room-1' is already booked") as caught:
        await create(client, meeting(hour=10), key="k-2", ref="AAMk/2")
    assert isinstance(caught.value, Conflict)
    assert caught.value.fields["conflicting_booking_id"] == first.id
    # back to back is fine
    await create(client, meeting(hour=11), key="k-3", ref="AAMk/3")


async def test_double_booking_against_a_later_occurrence_of_a_series(client: BookingRestClient) -> None:
    await create(client, meeting(day=4, recurrence=Recurrence(rrule="FREQ=WEEKLY;COUNT=10")))
    with pytest.raises(RoomAlreadyBooked):
        await create(client, meeting(day=25), key="k-2", ref=None)  # the 4th Monday's occurrence
    await create(client, meeting(day=26), key="k-3", ref=None)  # a Tuesday is free


async def test_a_block_makes_the_room_unavailable(client: BookingRestClient, emulator: BookingEmulator) -> None:
    emulator.user_add_block("room-1", at(4, 0).isoformat(), at(5, 0).isoformat(), title="Maintenance")
    with pytest.raises(RoomAlreadyBooked):
        await create(client, meeting())


async def test_update_into_a_taken_slot_is_room_already_booked(client: BookingRestClient) -> None:
    await create(client, meeting(hour=9))
    second = await create(client, meeting(hour=12), key="k-2", ref=None)
    with pytest.raises(RoomAlreadyBooked):
        await client.update_booking(second.id, meeting(hour=9), if_match=second.version)


async def test_reject_declines_with_reason_and_frees_the_room(client: BookingRestClient) -> None:
    created = await create(client, meeting())
    rejected = await client.reject_booking(created.id, "Room was booked in Outlook first")
    assert rejected.rejection_reason == "Room was booked in Outlook first"
    assert rejected.booking.status is BookingStatus.CANCELLED
    assert rejected.version == "2"
    await create(client, meeting(), key="k-2", ref=None)  # the slot is free again
    with pytest.raises(NotFound):
        await client.reject_booking("bk_missing", "x")


async def test_changes_feed_with_cursor_and_expiry(client: BookingRestClient, emulator: BookingEmulator) -> None:
    a = await create(client, meeting(day=4), key="a", ref=None)
    b = await create(client, meeting(day=5), key="b", ref=None)
    c = await create(client, meeting(day=6), key="c", ref=None)
    first = await client.changes(None)
    assert first.changed == (a.id, b.id) and first.has_more  # page_size=2
    second = await client.changes(first.next_cursor)
    assert second.changed == (c.id,) and not second.has_more
    await client.delete_booking(a.id, if_match=a.version)
    emulator.user_update_booking(b.id, title="Edited")
    third = await client.changes(second.next_cursor)
    assert (third.changed, third.deleted) == ((b.id,), (a.id,))
    quiet = await client.changes(third.next_cursor)
    assert (quiet.changed, quiet.deleted, quiet.next_cursor) == ((), (), third.next_cursor)
    emulator.expire_cursors()
    with pytest.raises(ChangeFeedExpired, match="410 Cursor expired") as caught:
        await client.changes(third.next_cursor)
    assert isinstance(caught.value, SyncStateExpired)
    assert (await client.changes(None)).changed  # start again without a cursor


async def test_idempotent_create_retried_returns_the_same_booking(
    client: BookingRestClient, emulator: BookingEmulator
) -> None:
    first = await create(client, meeting(), key="same-key")
    again = await create(client, meeting(), key="same-key")
    assert again.id == first.id
    assert len(emulator.bookings()) == 1


async def test_create_whose_answer_was_lost_is_retried_into_one_booking(
    client: BookingRestClient, emulator: BookingEmulator, sleeps: RecordingSleep
) -> None:
    emulator.inject_fault("POST", "/bookings", status=500, after_processing=True)
    created = await create(client, meeting(), key="crash-key")
    assert len(emulator.requests_to("POST", "/bookings")) == 2
    assert [b["id"] for b in emulator.bookings()] == [created.id]
    assert len(sleeps.delays) == 1


async def test_same_idempotency_key_with_another_body_is_refused(client: BookingRestClient) -> None:
    await create(client, meeting(), key="k")
    with pytest.raises(ValidationError, match="Idempotency-Key reused"):
        await create(client, meeting(hour=15), key="k")


async def test_429_is_retried_after_retry_after(
    client: BookingRestClient, emulator: BookingEmulator, sleeps: RecordingSleep
) -> None:
    emulator.inject_fault("GET", "/rooms", status=429, times=2, retry_after=3)
    rooms = await client.list_rooms()
    assert len(rooms) == 2
    assert sleeps.delays == [3.0, 3.0]
    assert [r.status for r in emulator.requests_to("GET", "/rooms")] == [429, 429, 200]


async def test_429_beyond_the_bounded_wait_is_throttled(emulator: BookingEmulator, sleeps: RecordingSleep) -> None:
    emulator.inject_fault("GET", "/rooms", status=429, times=5, retry_after=20)
    async with BookingRestClient(emulator.base_url, api_key=API_KEY, sleep=sleeps, max_retry_wait=30) as client:
        with pytest.raises(Throttled, match="429 Too many requests") as caught:
            await client.list_rooms()
    assert caught.value.retry_after == 20.0 and caught.value.retryable
    assert sleeps.delays == [20.0]


async def test_500_is_retried_with_backoff_then_succeeds(
    client: BookingRestClient, emulator: BookingEmulator, sleeps: RecordingSleep
) -> None:
    created = await create(client, meeting())
    emulator.inject_fault("GET", "/bookings/*", status=500, times=2)
    assert (await client.get_booking(created.id)).id == created.id
    assert len(sleeps.delays) == 2 and all(0 <= d <= 8 for d in sleeps.delays)


async def test_persistent_500_is_transient_error_with_the_problem_detail(
    client: BookingRestClient, emulator: BookingEmulator
) -> None:
    emulator.inject_fault("GET", "/rooms", status=500, times=10)
    with pytest.raises(TransientError, match=r"GET /rooms -> 500 Injected failure: fault injected") as caught:
        await client.list_rooms()
    assert caught.value.retryable
    assert len(emulator.requests_to("GET", "/rooms")) == client.max_attempts


async def test_slow_answer_times_out_into_transient_error(emulator: BookingEmulator, sleeps: RecordingSleep) -> None:
    emulator.inject_fault("GET", "/rooms", delay=1.0, times=2)
    async with BookingRestClient(
        emulator.base_url, api_key=API_KEY, timeout=0.2, max_attempts=2, sleep=sleeps
    ) as client:
        with pytest.raises(TransientError, match="timed out"):
            await client.list_rooms()


async def test_connection_refused_is_transient_error(sleeps: RecordingSleep) -> None:
    from devstack.azurite import free_port

    async with BookingRestClient(f"http://127.0.0.1:{free_port()}", api_key=API_KEY, sleep=sleeps) as client:
        with pytest.raises(TransientError, match="failed to connect"):
            await client.list_rooms()
    assert len(sleeps.delays) == client.max_attempts - 1


async def test_wrong_api_key_is_permission_denied(emulator: BookingEmulator) -> None:
    async with BookingRestClient(emulator.base_url, api_key="wrong") as client:
        with pytest.raises(PermissionDenied, match="401 Unauthorized"):
            await client.list_rooms()


async def test_content_the_system_refuses_is_a_validation_error_naming_the_field(client: BookingRestClient) -> None:
    ancient = meeting(start=dt.datetime(1900, 1, 1, 9, tzinfo=dt.UTC), end=dt.datetime(1900, 1, 1, 10, tzinfo=dt.UTC))
    with pytest.raises(ValidationError, match="422 Invalid booking: start must lie between"):
        await client.create_booking("room-1", ancient, idempotency_key="x", external_ref=None)


async def test_create_in_unknown_room_is_not_found(client: BookingRestClient) -> None:
    with pytest.raises(NotFound, match="room 'room-9'"):
        await client.create_booking("room-9", meeting(), idempotency_key="x", external_ref=None)


def test_retry_after_parsing() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412500.0) == 0.0


async def test_all_day_on_a_day_whose_midnight_does_not_exist(client: BookingRestClient) -> None:
    # Havana springs forward at 00:00: the day starts at 01:00 local; the date must survive the trip
    havana = Booking(
        room="atlas", start=dt.date(2030, 3, 10), end=dt.date(2030, 3, 11), all_day=True, time_zone="America/Havana"
    )
    created = await create(client, havana, ref=None)
    assert (await client.get_booking(created.id)).booking.start == dt.date(2030, 3, 10)


async def test_list_bookings_refuses_naive_bounds(client: BookingRestClient) -> None:
    with pytest.raises(ValidationError, match="start must be timezone-aware"):
        _ = [r async for r in client.list_bookings("room-1", dt.datetime(2030, 3, 1), at(2, 0))]
