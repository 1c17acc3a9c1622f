"""The Graph emulator's Exchange meeting model (EXCHANGE.md), over real HTTP with the real msgraph-sdk.

People and service mailboxes organise meetings that invite rooms; each room's
Calendar Attendant answers by its Set-CalendarProcessing settings; organiser changes
flow to the room's copy; Graph's accept/decline/cancel/DELETE behave as real Graph;
and writes by the app to items it does not own are recorded.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.attendee import Attendee
from msgraph.generated.models.attendee_type import AttendeeType
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.events.item.accept.accept_post_request_body import AcceptPostRequestBody
from msgraph.generated.users.item.events.item.cancel.cancel_post_request_body import CancelPostRequestBody
from msgraph.generated.users.item.events.item.decline.decline_post_request_body import DeclinePostRequestBody
from msgraph_core import GraphClientFactory
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from devstack.azurite import free_port
from devstack.graph import GraphEmulator

pytestmark = pytest.mark.emulator

NOW = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)
ADA = "ada@contoso.example"


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in May 2026 (UTC)."""
    return dt.datetime(2026, 5, day, hour, minute, tzinfo=dt.UTC)


def weekly(first: dt.date, count: int) -> dict:
    return {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [first.strftime("%A").lower()]},
        "range": {"type": "numbered", "startDate": first.isoformat(), "numberOfOccurrences": count},
    }


@pytest.fixture(scope="module")
def emulator() -> Iterator[GraphEmulator]:
    with GraphEmulator(clock=lambda: NOW) as graph:
        graph.add_person(ADA, "Ada Lovelace")
        yield graph


@pytest.fixture
def graph(emulator: GraphEmulator) -> Iterator[GraphEmulator]:
    emulator.reset()
    emulator.declined_copies = "keep"
    yield emulator
    emulator.declined_copies = "keep"


@pytest.fixture
def room(graph: GraphEmulator) -> str:
    email = f"room-{uuid.uuid4().hex[:8]}@contoso.example"
    graph.add_room(email, f"Room {email[5:13]}")
    return email


@pytest.fixture
async def client(emulator: GraphEmulator) -> AsyncIterator[GraphServiceClient]:
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(timeout=10))
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider(), client=http)
    adapter.base_url = emulator.base_url
    yield GraphServiceClient(request_adapter=adapter)
    await http.aclose()


@pytest.fixture(scope="module")
def sink() -> Iterator[dict]:
    """A webhook endpoint that echoes validation tokens and keeps the notifications."""
    received: list[dict] = []

    async def handle(request: Request) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            return PlainTextResponse(token)
        received.extend((await request.json())["value"])
        return Response(status_code=202)

    port = free_port()
    config = uvicorn.Config(
        Starlette(routes=[Route("/hook", handle, methods=["POST"])]), port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield {"url": f"http://127.0.0.1:{port}/hook", "received": received}
    server.should_exit = True
    thread.join(timeout=5)


def events(client: GraphServiceClient, mailbox: str, event_id: str | None = None):
    users = client.users.by_user_id(mailbox).events
    return users if event_id is None else users.by_event_id(event_id)


def meeting_kinds(graph: GraphEmulator, mailbox: str) -> list[tuple[str, str | None]]:
    return [(m.kind, m.comment) for m in graph.mail_for(mailbox)]


# --- the attendant accepts: the room's copy -------------------------------------------------------------
async def test_a_persons_meeting_gets_a_room_copy_with_the_person_as_organiser(
    graph: GraphEmulator, room: str, client: GraphServiceClient
) -> None:
    made = graph.person_create_meeting(ADA, "Design review", at(4, 9), at(4, 10), rooms=[room], body="Agenda")
    copy_id = made.room_copy_ids[room]
    assert copy_id is not None and copy_id != made.organizer_event_id

    copy = await events(client, room, copy_id).get()
    original = graph.event(ADA, made.organizer_event_id)
    assert copy.organizer.email_address.address == ADA
    assert copy.is_organizer is False
    assert copy.response_status.response.value == "accepted"
    assert copy.i_cal_u_id == original["iCalUId"]
    assert [(a["emailAddress"]["address"], a["status"]["response"]) for a in original["attendees"]] == [
        (room, "accepted")
    ]
    assert [m.kind for m in graph.mail_for(ADA)] == ["accepted"]
    assert graph.ownership_violations == []


async def test_room_copy_subject_is_the_organisers_name_and_its_body_is_empty_by_default(
    graph: GraphEmulator, room: str, client: GraphServiceClient
) -> None:
    made = graph.person_create_meeting(ADA, "Salary talks", at(4, 11), at(4, 12), rooms=[room], body="Secret agenda")
    copy = await events(client, room, made.room_copy_ids[room]).get()
    assert copy.subject == "Ada Lovelace"
    assert copy.body.content == ""

    graph.set_calendar_processing(room, DeleteSubject=False, AddOrganizerToSubject=False, DeleteComments=False)
    kept = graph.person_create_meeting(ADA, "Planning", at(4, 13), at(4, 14), rooms=[room], body="Agenda")
    copy = await events(client, room, kept.room_copy_ids[room]).get()
    assert (copy.subject, copy.body.content) == ("Planning", "Agenda")


async def test_room_copy_of_a_private_meeting_is_not_private_by_default(
    graph: GraphEmulator, room: str, client: GraphServiceClient
) -> None:
    made = graph.person_create_meeting(ADA, "Interview", at(5, 9), at(5, 10), rooms=[room], private=True)
    assert graph.event(ADA, made.organizer_event_id)["sensitivity"] == "private"
    assert (await events(client, room, made.room_copy_ids[room]).get()).sensitivity.value == "normal"

    graph.set_calendar_processing(room, remove_private_property=False)
    kept = graph.person_create_meeting(ADA, "Interview 2", at(5, 11), at(5, 12), rooms=[room], private=True)
    assert graph.event(room, kept.room_copy_ids[room])["sensitivity"] == "private"


# --- the attendant declines -----------------------------------------------------------------------------
@pytest.mark.parametrize("declined_copies", ["keep", "remove"])
def test_conflicting_invitation_is_declined_by_the_room(graph: GraphEmulator, room: str, declined_copies: str) -> None:
    graph.declined_copies = declined_copies
    graph.calendars.create(
        room,
        {
            "subject": "Booking-system copy",
            "start": {"dateTime": "2026-05-06T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-05-06T10:00:00", "timeZone": "UTC"},
        },
    )
    made = graph.person_create_meeting(ADA, "Clash", at(6, 9, 30), at(6, 10, 30), rooms=[room])

    copy_id = made.room_copy_ids[room]
    if declined_copies == "remove":
        assert copy_id is None
    else:
        assert graph.event(room, copy_id)["responseStatus"]["response"] == "declined"
    assert graph.event(ADA, made.organizer_event_id)["attendees"][0]["status"]["response"] == "declined"
    assert graph.mail_for(ADA)[-1].kind == "declined"
    assert "already booked" in graph.mail_for(ADA)[-1].comment

    graph.set_calendar_processing(room, AllowConflicts=True)
    allowed = graph.person_create_meeting(ADA, "Clash allowed", at(6, 9, 30), at(6, 10, 30), rooms=[room])
    assert graph.event(room, allowed.room_copy_ids[room])["responseStatus"]["response"] == "accepted"


def test_invitations_beyond_the_booking_window_or_too_long_are_declined(graph: GraphEmulator, room: str) -> None:
    far = NOW + dt.timedelta(days=181)
    assert graph.person_create_meeting(ADA, "Far", far, far + dt.timedelta(hours=1), rooms=[room]).room_copy_ids[room]
    assert graph.mail_for(ADA)[-1].kind == "declined" and "booking window" in graph.mail_for(ADA)[-1].comment

    graph.person_create_meeting(ADA, "Marathon", at(7, 0), at(8, 0, 1), rooms=[room])
    assert graph.mail_for(ADA)[-1].kind == "declined" and "1440 minutes" in graph.mail_for(ADA)[-1].comment

    graph.set_calendar_processing(room, BookingWindowInDays=365, MaximumDurationInMinutes=0)
    graph.person_create_meeting(ADA, "Far, allowed", far, far + dt.timedelta(hours=1), rooms=[room])
    assert graph.mail_for(ADA)[-1].kind == "accepted"


def test_recurring_invitation_with_a_conflicting_occurrence_is_declined_whole(graph: GraphEmulator, room: str) -> None:
    graph.person_create_meeting(ADA, "Blocker", at(18, 9), at(18, 10), rooms=[room])
    made = graph.person_create_meeting(
        ADA, "Weekly", at(4, 9), at(4, 10), rooms=[room], recurrence=weekly(dt.date(2026, 5, 4), 4)
    )
    assert graph.event(room, made.room_copy_ids[room])["responseStatus"]["response"] == "declined"
    assert graph.mail_for(ADA)[-1].comment == "The resource is already booked on 2026-05-18."


def test_raised_conflict_limits_accept_the_series_and_decline_the_conflicting_occurrences(
    graph: GraphEmulator, room: str
) -> None:
    graph.set_calendar_processing(room, MaximumConflictInstances=2, ConflictPercentageAllowed=50)
    graph.person_create_meeting(ADA, "Blocker", at(18, 9), at(18, 10), rooms=[room])
    made = graph.person_create_meeting(
        ADA, "Weekly", at(4, 9), at(4, 10), rooms=[room], recurrence=weekly(dt.date(2026, 5, 4), 4)
    )
    copy_id = made.room_copy_ids[room]
    assert graph.event(room, copy_id)["responseStatus"]["response"] == "accepted"
    view = graph.calendars.calendar_view(room, at(1, 0), at(31, 0))
    assert [(e["start"]["dateTime"][:10], e.get("seriesMasterId") == copy_id) for e in view] == [
        ("2026-05-04", True),
        ("2026-05-11", True),
        ("2026-05-18", False),  # the blocker; the series' occurrence that day was declined
        ("2026-05-25", True),
    ]
    declined = [m for m in graph.mail_for(ADA) if m.kind == "declined" and m.sender == room]
    assert [m.occurrences for m in declined] == [("2026-05-18T09:00:00Z",)]


def test_recurring_invitations_are_declined_when_the_room_refuses_series(graph: GraphEmulator, room: str) -> None:
    graph.set_calendar_processing(room, AllowRecurringMeetings=False)
    graph.person_create_meeting(
        ADA, "Weekly", at(4, 9), at(4, 10), rooms=[room], recurrence=weekly(dt.date(2026, 5, 4), 2)
    )
    assert graph.mail_for(ADA)[-1].kind == "declined"


def test_unprocessed_room_leaves_no_copy_and_no_answer(graph: GraphEmulator, room: str) -> None:
    graph.set_calendar_processing(room, AutomateProcessing="None")
    made = graph.person_create_meeting(ADA, "Unanswered", at(8, 9), at(8, 10), rooms=[room])
    assert made.room_copy_ids[room] is None
    assert graph.events(room) == []
    assert graph.event(ADA, made.organizer_event_id)["attendees"][0]["status"]["response"] == "none"


# --- organiser changes flow to the room's copy -------------------------------------------------------------
async def test_organiser_update_flows_to_the_room_copy_and_notifies_room_subscribers(
    graph: GraphEmulator, room: str, client: GraphServiceClient, sink: dict
) -> None:
    made = graph.person_create_meeting(ADA, "Standup", at(11, 9), at(11, 10), rooms=[room])
    copy_id = made.room_copy_ids[room]
    sub = {
        "changeType": "created,updated,deleted",
        "notificationUrl": sink["url"],
        "resource": f"/users/{room}/events",
        "expirationDateTime": (NOW + dt.timedelta(hours=1)).isoformat(),
    }
    async with httpx.AsyncClient(base_url=graph.base_url) as raw:
        assert (await raw.post("/subscriptions", json=sub)).status_code == 201

    graph.person_update_meeting(
        ADA, made.organizer_event_id, subject="Standup (moved)", start=at(11, 14), end=at(11, 15)
    )
    graph.flush_notifications()

    copy = await events(client, room, copy_id).get()
    assert copy.start.date_time.startswith("2026-05-11T14:00") and copy.subject == "Ada Lovelace"
    assert any(n["resourceData"]["id"] == copy_id and n["changeType"] == "updated" for n in sink["received"])


def test_organiser_move_into_a_conflict_is_declined_by_the_room(graph: GraphEmulator, room: str) -> None:
    graph.person_create_meeting(ADA, "Taken", at(12, 14), at(12, 15), rooms=[room])
    made = graph.person_create_meeting(ADA, "Mover", at(12, 9), at(12, 10), rooms=[room])
    graph.person_update_meeting(ADA, made.organizer_event_id, start=at(12, 14, 30), end=at(12, 15, 30))
    assert graph.event(room, made.room_copy_ids[room])["responseStatus"]["response"] == "declined"
    assert graph.event(ADA, made.organizer_event_id)["attendees"][0]["status"]["response"] == "declined"


def test_organiser_cancellation_leaves_the_room_copy_cancelled_unless_the_room_removes_it(
    graph: GraphEmulator, room: str
) -> None:
    made = graph.person_create_meeting(ADA, "Offsite", at(13, 9), at(13, 10), rooms=[room])
    graph.person_cancel_meeting(ADA, made.organizer_event_id, "Budget cut")
    copy = graph.event(room, made.room_copy_ids[room])
    assert copy["isCancelled"] is True
    assert graph.event(ADA, made.organizer_event_id) is None
    assert (graph.mail_for(room)[-1].kind, graph.mail_for(room)[-1].comment) == ("cancelled", "Budget cut")

    graph.set_calendar_processing(room, RemoveCanceledMeetings=True)
    gone = graph.person_create_meeting(ADA, "Offsite 2", at(13, 11), at(13, 12), rooms=[room])
    graph.person_cancel_meeting(ADA, gone.organizer_event_id)
    assert graph.event(room, gone.room_copy_ids[room]) is None


def test_organiser_cancels_one_occurrence_and_the_rest_of_the_series_stays(graph: GraphEmulator, room: str) -> None:
    made = graph.person_create_meeting(
        ADA, "Weekly", at(4, 9), at(4, 10), rooms=[room], recurrence=weekly(dt.date(2026, 5, 4), 3)
    )
    graph.person_cancel_occurrence(ADA, made.organizer_event_id, at(11, 9), "Holiday")
    view = graph.calendars.calendar_view(room, at(1, 0), at(31, 0))
    assert [(e["start"]["dateTime"][:10], e["isCancelled"]) for e in view] == [
        ("2026-05-04", False),
        ("2026-05-11", True),
        ("2026-05-18", False),
    ]
    assert graph.mail_for(room)[-1].occurrences == ("2026-05-11T09:00:00Z",)


def test_each_occurrence_has_its_own_ical_uid_shared_by_every_copy(graph: GraphEmulator, room: str) -> None:
    made = graph.person_create_meeting(
        ADA, "Weekly", at(5, 16), at(5, 17), rooms=[room], recurrence=weekly(dt.date(2026, 5, 5), 2)
    )
    copy_id = made.room_copy_ids[room]
    theirs = graph.calendars.instances(ADA, made.organizer_event_id, at(1, 0), at(31, 0))
    ours = graph.calendars.instances(room, copy_id, at(1, 0), at(31, 0))
    master_uid = graph.event(room, copy_id)["iCalUId"]
    assert [i["iCalUId"] for i in ours] == [i["iCalUId"] for i in theirs]
    assert len({master_uid, *(i["iCalUId"] for i in ours)}) == 3


# --- Graph operations on room events ---------------------------------------------------------------------
@pytest.mark.parametrize("declined_copies", ["keep", "remove"])
async def test_room_declines_its_copy_through_graph_and_the_organiser_is_told(
    graph: GraphEmulator, room: str, client: GraphServiceClient, declined_copies: str
) -> None:
    graph.declined_copies = declined_copies
    made = graph.person_create_meeting(ADA, "Release", at(14, 9), at(14, 10), rooms=[room])
    copy_id = made.room_copy_ids[room]

    await events(client, room, copy_id).decline.post(
        DeclinePostRequestBody(comment="Room closed for works", send_response=True)
    )

    live = [
        e
        for e in graph.calendars.calendar_view(room, at(14, 0), at(15, 0))
        if e["responseStatus"]["response"] != "declined"
    ]
    assert live == []
    assert (graph.event(room, copy_id) is None) == (declined_copies == "remove")
    assert graph.mail_for(ADA)[-1].kind == "declined" and graph.mail_for(ADA)[-1].comment == "Room closed for works"
    assert graph.event(ADA, made.organizer_event_id)["attendees"][0]["status"]["response"] == "declined"
    assert graph.ownership_violations == []


async def test_decline_without_send_response_tells_the_organiser_nothing(
    graph: GraphEmulator, room: str, client: GraphServiceClient
) -> None:
    made = graph.person_create_meeting(ADA, "Quiet", at(14, 15), at(14, 16), rooms=[room])
    before = len(graph.mail_for(ADA))
    # msgraph-sdk's DeclinePostRequestBody sends "SendResponse": false unless told otherwise
    await events(client, room, made.room_copy_ids[room]).decline.post(DeclinePostRequestBody(comment="unheard"))
    assert len(graph.mail_for(ADA)) == before
    assert graph.declines[-1].send_response is False


async def test_responding_to_a_meeting_the_room_organises_is_refused(
    graph: GraphEmulator, room: str, client: GraphServiceClient
) -> None:
    own = await events(client, room).post(
        Event(
            subject="Ours",
            start=DateTimeTimeZone(date_time="2026-05-15T09:00:00", time_zone="UTC"),
            end=DateTimeTimeZone(date_time="2026-05-15T10:00:00", time_zone="UTC"),
        )
    )
    assert own.is_organizer is True and own.organizer.email_address.address == room

    for call in (
        events(client, room, own.id).decline.post(DeclinePostRequestBody(comment="no")),
        events(client, room, own.id).accept.post(AcceptPostRequestBody(comment="yes")),
    ):
        with pytest.raises(ODataError) as refused:
            await call
        assert refused.value.response_status_code == 400
        assert refused.value.error.code == "ErrorInvalidRequest"
        assert (
            refused.value.error.message
            == "Your request can't be completed. You can't respond to a meeting you organized."
        )
    assert [(v.action, v.event_id) for v in graph.ownership_violations] == [("decline", own.id), ("accept", own.id)]


async def test_cancel_works_only_for_the_organiser_and_carries_the_comment(
    graph: GraphEmulator, room: str, client: GraphServiceClient
) -> None:
    made = graph.person_create_meeting(ADA, "Theirs", at(15, 11), at(15, 12), rooms=[room])
    with pytest.raises(ODataError) as refused:
        await events(client, room, made.room_copy_ids[room]).cancel.post(CancelPostRequestBody(comment="no"))
    assert refused.value.response_status_code == 400
    assert (
        refused.value.error.message
        == "Your request can't be completed. You need to be an organizer to cancel a meeting."
    )
    assert [v.action for v in graph.ownership_violations] == ["cancel"]

    ours = await events(client, room).post(
        Event(
            subject="Room meeting",
            start=DateTimeTimeZone(date_time="2026-05-15T14:00:00", time_zone="UTC"),
            end=DateTimeTimeZone(date_time="2026-05-15T15:00:00", time_zone="UTC"),
            attendees=[Attendee(type=AttendeeType.Required, email_address=EmailAddress(address=ADA))],
        )
    )
    await events(client, room, ours.id).cancel.post(CancelPostRequestBody(comment="Booking withdrawn"))
    assert graph.event(room, ours.id) is None
    assert [(m.kind, m.comment) for m in graph.mail_for(ADA)][-1] == ("cancelled", "Booking withdrawn")
    ada_copy = next(e for e in graph.events(ADA) if e["iCalUId"] == ours.i_cal_u_id)
    assert ada_copy["isCancelled"] is True


async def test_delete_by_the_organiser_of_a_meeting_sends_cancellations(
    graph: GraphEmulator, room: str, client: GraphServiceClient
) -> None:
    ours = await events(client, room).post(
        Event(
            subject="Room meeting",
            start=DateTimeTimeZone(date_time="2026-05-16T14:00:00", time_zone="UTC"),
            end=DateTimeTimeZone(date_time="2026-05-16T15:00:00", time_zone="UTC"),
            attendees=[Attendee(type=AttendeeType.Required, email_address=EmailAddress(address=ADA))],
        )
    )
    await events(client, room, ours.id).delete()
    assert graph.mail_for(ADA)[-1].kind == "cancelled"
    assert graph.ownership_violations == []


async def test_per_occurrence_decline_through_the_instance_id(
    graph: GraphEmulator, room: str, client: GraphServiceClient
) -> None:
    made = graph.person_create_meeting(
        ADA, "Weekly", at(4, 16), at(4, 17), rooms=[room], recurrence=weekly(dt.date(2026, 5, 4), 3)
    )
    instances = graph.calendars.instances(room, made.room_copy_ids[room], at(1, 0), at(31, 0))
    await events(client, room, instances[1]["id"]).decline.post(
        DeclinePostRequestBody(comment="Maintenance", send_response=True)
    )

    responses = [
        i["responseStatus"]["response"]
        for i in graph.calendars.instances(room, made.room_copy_ids[room], at(1, 0), at(31, 0))
    ]
    assert responses == ["accepted", "declined", "accepted"]
    assert graph.mail_for(ADA)[-1].occurrences == ("2026-05-11T16:00:00Z",)
    assert graph.ownership_violations == []


async def test_app_writes_to_a_room_copy_are_recorded_as_ownership_violations(
    graph: GraphEmulator, room: str, client: GraphServiceClient
) -> None:
    made = graph.person_create_meeting(ADA, "Theirs", at(19, 9), at(19, 10), rooms=[room])
    copy_id = made.room_copy_ids[room]

    await events(client, room, copy_id).patch(Event(subject="Renamed by the app"))
    await events(client, room, copy_id).delete()

    assert [(v.action, v.mailbox, v.event_id) for v in graph.ownership_violations] == [
        ("PATCH", room, copy_id),
        ("DELETE", room, copy_id),
    ]
    assert graph.event(ADA, made.organizer_event_id)["attendees"][0]["status"]["response"] == "accepted"


def test_person_actions_are_never_ownership_violations(graph: GraphEmulator, room: str) -> None:
    made = graph.person_create_meeting(ADA, "Mine", at(20, 9), at(20, 10), rooms=[room])
    graph.person_update_meeting(ADA, made.organizer_event_id, subject="Mine, renamed")
    graph.person_cancel_meeting(ADA, made.organizer_event_id)
    graph.user_update_event(room, made.room_copy_ids[room], {"categories": ["x"]})
    assert graph.ownership_violations == []


# --- a service mailbox's meeting (issue #14) ---------------------------------------------------------------
async def test_service_mailbox_meeting_is_processed_like_a_persons_and_its_edits_flow_to_the_room_copy(
    graph: GraphEmulator, room: str, client: GraphServiceClient
) -> None:
    butler = f"butler-{uuid.uuid4().hex[:6]}@contoso.example"
    graph.add_service_mailbox(butler, "Room Butler")
    made = await events(client, butler).post(
        Event(
            subject="Booked via the booking system",
            start=DateTimeTimeZone(date_time="2026-05-21T09:00:00", time_zone="UTC"),
            end=DateTimeTimeZone(date_time="2026-05-21T10:00:00", time_zone="UTC"),
            attendees=[
                Attendee(type=AttendeeType.Resource, email_address=EmailAddress(address=room)),
                Attendee(type=AttendeeType.Required, email_address=EmailAddress(address=ADA)),
            ],
        )
    )
    assert made.is_organizer is True
    room_copy = next(e for e in graph.events(room) if e["iCalUId"] == made.i_cal_u_id)
    assert room_copy["organizer"]["emailAddress"]["address"] == butler
    assert room_copy["responseStatus"]["response"] == "accepted"
    ada_copy = next(e for e in graph.events(ADA) if e["iCalUId"] == made.i_cal_u_id)
    assert ada_copy["responseStatus"]["response"] == "notResponded"

    await events(client, butler, made.id).patch(
        Event(
            start=DateTimeTimeZone(date_time="2026-05-21T11:00:00", time_zone="UTC"),
            end=DateTimeTimeZone(date_time="2026-05-21T12:00:00", time_zone="UTC"),
        )
    )
    assert graph.event(room, room_copy["id"])["start"]["dateTime"].startswith("2026-05-21T11:00")
    assert graph.event(ADA, ada_copy["id"])["start"]["dateTime"].startswith("2026-05-21T11:00")
    assert graph.ownership_violations == []


# --- what stays as it was -------------------------------------------------------------------------------
async def test_room_organised_event_without_attendees_keeps_the_direct_path(
    graph: GraphEmulator, room: str, client: GraphServiceClient
) -> None:
    own = await events(client, room).post(
        Event(
            subject="Booking-system copy",
            start=DateTimeTimeZone(date_time="2026-05-22T09:00:00", time_zone="UTC"),
            end=DateTimeTimeZone(date_time="2026-05-22T10:00:00", time_zone="UTC"),
        )
    )
    assert (own.is_organizer, own.subject, own.response_status.response.value) == (
        True,
        "Booking-system copy",
        "organizer",
    )
    await events(client, room, own.id).patch(Event(subject="Moved"))
    await events(client, room, own.id).delete()
    assert graph.mail_for(room) == [] and graph.ownership_violations == []


async def test_places_lists_rooms_only(graph: GraphEmulator, room: str, client: GraphServiceClient) -> None:
    places = await client.places.graph_room.get()
    addresses = {p.email_address for p in places.value}
    assert room in addresses and ADA not in addresses
