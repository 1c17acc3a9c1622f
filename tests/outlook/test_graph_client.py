"""GraphCalendar (the real msgraph-sdk) against the Graph emulator: every operation, over loopback HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from calsync.errors import Conflict, NotFound, SideError, SyncStateExpired
from calsync.outlook.graph_client import GraphCalendar
from calsync.outlook.serialization import parse_event
from devstack.graph import GraphEmulator
from tests.outlook.conftest import STAMP_PROPERTY_ID, WebhookReceiver, utc

pytestmark = pytest.mark.emulator

WINDOW = (utc(2026, 1, 1), utc(2027, 1, 1))


def event_json(subject: str = "Planning", day: int = 1, hour: int = 9, stamp: str | None = None) -> dict:
    data: dict = {
        "subject": subject,
        "start": {"dateTime": f"2026-06-{day:02d}T{hour:02d}:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"2026-06-{day:02d}T{hour + 1:02d}:00:00", "timeZone": "UTC"},
    }
    if stamp is not None:
        data["singleValueExtendedProperties"] = [{"id": STAMP_PROPERTY_ID, "value": stamp}]
    return data


def weekly_series(subject: str = "Weekly") -> dict:
    return {
        "subject": subject,
        "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-03-02T10:00:00", "timeZone": "Europe/Berlin"},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
            "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 6},
        },
    }


async def test_create_and_get_round_trip_ids_with_slash_plus_equals(
    calendar: GraphCalendar, graph: GraphEmulator, mailbox: str
) -> None:
    created = await calendar.create_event(mailbox, parse_event(event_json(stamp="bk-1")), "txn-a")
    assert created.id is not None
    assert {"/", "+", "="} <= set(created.id)

    got = await calendar.get_event(mailbox, created.id)

    assert got.id == created.id
    assert got.subject == "Planning"
    assert got.start.date_time.startswith("2026-06-01T09:00:00") and got.start.time_zone == "UTC"
    assert [(p.id, p.value) for p in got.single_value_extended_properties] == [(STAMP_PROPERTY_ID, "bk-1")]
    request = graph.requests_to("GET", "/users/*/events/*")[-1]
    assert request.path == f"/users/{mailbox}/events/{created.id}"  # decoded: the id survived the URL
    assert "singleValueExtendedProperties($filter=id eq" in request.query["$expand"]


async def test_every_request_prefers_utc_and_immutable_ids(
    calendar: GraphCalendar, graph: GraphEmulator, mailbox: str
) -> None:
    created = await calendar.create_event(mailbox, parse_event(event_json()), "txn-prefer")
    await calendar.get_event(mailbox, created.id)
    await calendar.update_event(mailbox, created.id, parse_event({"subject": "Moved"}))
    await calendar.calendar_view_delta(mailbox, *WINDOW, page_size=5)
    await calendar.list_rooms()
    await calendar.delete_event(mailbox, created.id)

    assert len(graph.requests) >= 6
    for request in graph.requests:
        assert 'outlook.timezone="UTC"' in request.prefer(), request.path
        assert 'IdType="ImmutableId"' in request.prefer(), request.path
    delta = graph.requests_to("GET", "/users/*/calendarView/delta*")[0]
    assert "odata.maxpagesize=5" in delta.prefer()


async def test_same_transaction_id_gives_one_event(calendar: GraphCalendar, graph: GraphEmulator, mailbox: str) -> None:
    event = parse_event(event_json(stamp="bk-2"))
    first = await calendar.create_event(mailbox, event, "txn-same")
    again = await calendar.create_event(mailbox, event, "txn-same")

    assert event.transaction_id is None  # the caller's Event is not changed

    assert again.id == first.id
    assert len(graph.events(mailbox)) == 1
    assert graph.count("POST", "/users/*/events") == 2


async def test_update_with_etag_and_stale_change_key_conflicts(calendar: GraphCalendar, mailbox: str) -> None:
    created = await calendar.create_event(mailbox, parse_event(event_json()), "txn-upd")

    updated = await calendar.update_event(
        mailbox, created.id, parse_event({"subject": "Renamed"}), etag=created.change_key
    )
    assert updated.subject == "Renamed"
    assert updated.change_key != created.change_key
    assert updated.start.date_time == created.start.date_time  # only the patched field changed

    with pytest.raises(Conflict) as caught:
        await calendar.update_event(mailbox, created.id, parse_event({"subject": "Late"}), etag=created.change_key)
    assert caught.value.status == 412 and caught.value.side == "outlook"

    etag = (await calendar.get_event(mailbox, created.id)).odata_etag
    again = await calendar.update_event(mailbox, created.id, parse_event({"subject": "With etag"}), etag=etag)
    assert again.subject == "With etag"


async def test_delete_then_get_is_not_found(calendar: GraphCalendar, mailbox: str) -> None:
    created = await calendar.create_event(mailbox, parse_event(event_json()), "txn-del")
    await calendar.delete_event(mailbox, created.id, etag=created.change_key)

    with pytest.raises(NotFound) as caught:
        await calendar.get_event(mailbox, created.id)
    assert caught.value.status == 404
    with pytest.raises(NotFound):
        await calendar.delete_event(mailbox, created.id)


async def test_find_event_by_stamp(calendar: GraphCalendar, mailbox: str) -> None:
    await calendar.create_event(mailbox, parse_event(event_json(stamp="other")), "txn-f1")
    wanted = await calendar.create_event(mailbox, parse_event(event_json(stamp="bk-o'neil", day=2)), "txn-f2")

    found = await calendar.find_event_by_stamp(mailbox, "bk-o'neil")

    assert found is not None and found.id == wanted.id
    assert found.single_value_extended_properties[0].value == "bk-o'neil"
    assert await calendar.find_event_by_stamp(mailbox, "missing") is None


async def test_decline_as_the_room_with_comment(calendar: GraphCalendar, graph: GraphEmulator, mailbox: str) -> None:
    invite = graph.user_create_event(mailbox, event_json("Clash"), organizer="alice@contoso.example")

    await calendar.decline_event(mailbox, invite["id"], "The room is already booked by the booking system.")

    assert [(d.event_id, d.comment, d.send_response) for d in graph.declines] == [
        (invite["id"], "The room is already booked by the booking system.", True)
    ]
    assert graph.event(mailbox, invite["id"])["responseStatus"]["response"] == "declined"

    own = await calendar.create_event(mailbox, parse_event(event_json("Ours", day=3)), "txn-own")
    with pytest.raises(SideError) as caught:
        await calendar.decline_event(mailbox, own.id, "no")
    assert caught.value.status == 400


async def test_series_instances_with_exception_and_cancelled_occurrence(
    calendar: GraphCalendar, graph: GraphEmulator, mailbox: str
) -> None:
    master = graph.user_create_event(mailbox, weekly_series())
    instances = await calendar.list_instances(mailbox, master["id"], *WINDOW)
    assert [i.start.date_time[:16] for i in instances] == [
        "2026-03-02T08:00",
        "2026-03-09T08:00",
        "2026-03-16T08:00",
        "2026-03-23T08:00",
        "2026-03-30T07:00",  # Berlin went to summer time on 29 March: still 09:00 local
        "2026-04-06T07:00",
    ]
    assert all(i.series_master_id == master["id"] for i in instances)

    await calendar.delete_event(mailbox, instances[1].id)
    moved = await calendar.update_event(
        mailbox,
        instances[2].id,
        parse_event(
            {
                "start": {"dateTime": "2026-03-17T13:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2026-03-17T14:00:00", "timeZone": "UTC"},
            }
        ),
    )
    assert moved.id == instances[2].id

    after = await calendar.list_instances(mailbox, master["id"], *WINDOW)
    assert len(after) == 5
    assert instances[1].id not in {i.id for i in after}
    exception = next(i for i in after if i.id == instances[2].id)
    assert exception.type == "exception"
    assert exception.start.date_time.startswith("2026-03-17T13:00")
    with pytest.raises(NotFound):
        await calendar.get_event(mailbox, instances[1].id)


async def test_calendar_view_delta_pages_changes_and_removals(
    calendar: GraphCalendar, graph: GraphEmulator, mailbox: str
) -> None:
    kept = graph.user_create_event(mailbox, event_json("Kept", day=1))
    gone = graph.user_create_event(mailbox, event_json("Gone", day=2))
    graph.user_create_event(mailbox, weekly_series())  # six occurrences

    first = await calendar.calendar_view_delta(mailbox, *WINDOW, page_size=3)

    assert len(first.changed) == 8
    assert first.removed == []
    assert graph.count("GET", "/users/*/calendarView/delta*") == 3  # 8 items in pages of 3
    assert "$deltatoken=" in first.delta_link

    graph.user_update_event(mailbox, kept["id"], {"subject": "Kept, renamed"})
    graph.user_delete_event(mailbox, gone["id"])
    second = await calendar.calendar_view_delta(mailbox, delta_link=first.delta_link, page_size=3)

    assert [e.subject for e in second.changed] == ["Kept, renamed"]
    assert second.removed == [gone["id"]]

    quiet = await calendar.calendar_view_delta(mailbox, delta_link=second.delta_link)
    assert quiet.changed == [] and quiet.removed == []


async def test_expired_delta_link_raises_sync_state_expired(
    calendar: GraphCalendar, graph: GraphEmulator, mailbox: str
) -> None:
    graph.user_create_event(mailbox, event_json())
    first = await calendar.calendar_view_delta(mailbox, *WINDOW)
    graph.expire_delta_links(mailbox)

    with pytest.raises(SyncStateExpired) as caught:
        await calendar.calendar_view_delta(mailbox, delta_link=first.delta_link)
    assert caught.value.status == 410 and caught.value.fields["code"] == "SyncStateNotFound"
    assert isinstance(caught.value, NotFound)

    fresh = await calendar.calendar_view_delta(mailbox, *WINDOW)
    assert len(fresh.changed) == 1


async def test_subscription_lifecycle_and_notifications(
    calendar: GraphCalendar, graph: GraphEmulator, mailbox: str, receiver: WebhookReceiver
) -> None:
    receiver.received.clear()
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    sub = await calendar.create_subscription(
        mailbox,
        notification_url=receiver.url("notify"),
        lifecycle_notification_url=receiver.url("lifecycle"),
        client_state="s3cret-state",
        expiration=expiry,
    )
    assert sub.id and sub.resource == f"/users/{mailbox}/events"
    assert len(receiver.validations) >= 2  # notification URL and lifecycle URL were both validated

    created = await calendar.create_event(mailbox, parse_event(event_json()), "txn-sub")
    graph.user_update_event(mailbox, created.id, {"subject": "Changed in Outlook"})
    graph.user_delete_event(mailbox, created.id)
    graph.flush_notifications()

    changes = [n["value"][0] for n in receiver.received if n["kind"] == "notify"]
    assert [c["changeType"] for c in changes] == ["created", "updated", "deleted"]
    for change in changes:
        assert change["subscriptionId"] == sub.id
        assert change["clientState"] == "s3cret-state"
        assert change["resourceData"]["id"] == created.id
        assert change["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
        assert change["resource"].endswith(f"/Events/{created.id}")
        assert change["tenantId"]

    renewed = await calendar.renew_subscription(sub.id, expiry + dt.timedelta(hours=2))
    assert renewed.expiration_date_time > sub.expiration_date_time
    await calendar.reauthorize_subscription(sub.id)
    assert sub.id in {s.id for s in await calendar.list_subscriptions()}

    graph.send_lifecycle(sub.id, "reauthorizationRequired")
    graph.flush_notifications()
    lifecycle = [n["value"][0] for n in receiver.received if n["kind"] == "lifecycle"]
    assert lifecycle[-1]["lifecycleEvent"] == "reauthorizationRequired"
    assert lifecycle[-1]["clientState"] == "s3cret-state"

    await calendar.delete_subscription(sub.id)
    assert sub.id not in {s.id for s in await calendar.list_subscriptions()}
    with pytest.raises(NotFound):
        await calendar.renew_subscription(sub.id, expiry)


async def test_subscription_refused_when_validation_fails(calendar: GraphCalendar, mailbox: str) -> None:
    silent = WebhookReceiver(echo_validation=False).start()
    try:
        with pytest.raises(SideError) as caught:
            await calendar.create_subscription(
                mailbox,
                notification_url=silent.url(),
                client_state="x",
                expiration=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
            )
        assert caught.value.status == 400
        assert "s3cret" not in str(caught.value)
    finally:
        silent.stop()


async def test_list_rooms(calendar: GraphCalendar, graph: GraphEmulator, mailbox: str) -> None:
    rooms = await calendar.list_rooms()
    mine = next(r for r in rooms if r.email == mailbox)
    assert mine.display_name == graph.calendars.room(mailbox).display_name


async def test_concurrent_calls_on_many_mailboxes(calendar: GraphCalendar, graph: GraphEmulator) -> None:
    rooms = [f"par-{i}@contoso.example" for i in range(3)]
    for room in rooms:
        graph.add_room(room)
    made = await asyncio.gather(
        *(
            calendar.create_event(room, parse_event(event_json(day=d)), f"txn-{room}-{d}")
            for room in rooms
            for d in (1, 2)
        )
    )
    assert len({e.id for e in made}) == 6


async def test_mapping_round_trip_through_the_emulator(
    calendar: GraphCalendar, graph: GraphEmulator, mailbox: str
) -> None:
    """Booking -> Event -> Graph -> Event -> Booking keeps the synced fields, series edits included."""
    from calsync.model.booking import Booking
    from calsync.model.content_hash import synced_fields
    from calsync.outlook.event_mapping import booking_to_event, event_to_booking

    booking = Booking(
        room=mailbox,
        subject="Weekly sync",
        start=dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC),
        end=dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
        time_zone="Europe/Berlin",
        recurrence={"rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=6;WKST=MO"},
    )
    made = await calendar.create_event(
        mailbox, booking_to_event(booking, private_subject="Private", stamp="bk-series"), "txn-map"
    )
    instances = await calendar.list_instances(mailbox, made.id, *WINDOW)
    await calendar.delete_event(mailbox, instances[1].id)
    await calendar.update_event(
        mailbox,
        instances[3].id,
        parse_event(
            {
                "start": {"dateTime": "2026-03-24T12:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2026-03-24T13:00:00", "timeZone": "UTC"},
            }
        ),
    )

    master = await calendar.get_event(mailbox, made.id)
    assert master.cancelled_occurrences == [f"OID.{made.id}.2026-03-09"]
    assert [e.id for e in master.exception_occurrences] == [instances[3].id]
    read = event_to_booking(master, room=mailbox)

    assert read.ids.booking == "bk-series" and read.ids.outlook == made.id
    assert read.recurrence.exdates == (dt.datetime(2026, 3, 9, 8, 0, tzinfo=dt.UTC),)
    [moved] = read.recurrence.overrides
    assert moved.original_start == dt.datetime(2026, 3, 23, 8, 0, tzinfo=dt.UTC)
    assert moved.start == dt.datetime(2026, 3, 24, 12, 0, tzinfo=dt.UTC)
    assert read.organizer.email == mailbox  # Graph makes the room the organiser of what the app creates
    expected = booking.model_copy(update={"recurrence": read.recurrence, "organizer": read.organizer})
    assert synced_fields(read) == synced_fields(expected)
    # the same result from /instances instead of the master's own lists
    from_instances = event_to_booking(
        master, room=mailbox, instances=await calendar.list_instances(mailbox, made.id, *WINDOW)
    )
    assert synced_fields(from_instances) == synced_fields(read)


async def test_credentials_follow_the_auth_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from azure.identity import aio as identity
    from kiota_abstractions.authentication import AnonymousAuthenticationProvider
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )

    from calsync.outlook.credentials import authentication_provider, graph_credential, graph_scope
    from tests.outlook.conftest import graph_settings

    ids = {"graph_tenant_id": "00000000-0000-4000-8000-000000000001", "graph_client_id": "app"}
    token_file = tmp_path / "token"
    token_file.write_text("federated")
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    cases = {
        "managed-identity": (identity.ManagedIdentityCredential, {"azure_client_id": "mi-client"}),
        "workload-identity": (identity.WorkloadIdentityCredential, ids),
        "secret": (identity.ClientSecretCredential, {**ids, "graph_client_secret": "not-logged"}),
    }
    for mode, (kind, extra) in cases.items():
        settings = graph_settings("https://graph.microsoft.com/v1.0", graph_auth_mode=mode, **extra)
        credential = graph_credential(settings)
        assert isinstance(credential, kind), mode
        assert isinstance(authentication_provider(settings, credential), AzureIdentityAuthenticationProvider)
        await credential.close()
    assert graph_scope("https://graph.microsoft.us/v1.0") == "https://graph.microsoft.us/.default"
    anonymous = graph_settings("http://127.0.0.1:1/v1.0")
    assert graph_credential(anonymous) is None
    assert isinstance(authentication_provider(anonymous), AnonymousAuthenticationProvider)


def test_warm_up_parses_an_event() -> None:
    from calsync.outlook.graph_client import warm_up

    warm_up()


async def test_get_event_brings_what_the_engine_reads(
    calendar: GraphCalendar, graph: GraphEmulator, mailbox: str
) -> None:
    invite = graph.user_create_event(mailbox, event_json("Invite"), organizer="bob@contoso.example")
    await calendar.decline_event(mailbox, invite["id"], "Taken")

    got = await calendar.get_event(mailbox, invite["id"])

    assert got.created_date_time is not None and got.change_key
    assert got.response_status.response == "declined"
    assert got.organizer.email_address.address == "bob@contoso.example"
    assert got.odata_etag == f'W/"{got.change_key}"'
