"""The Graph emulator's own behaviour, over raw HTTP: what Graph does that the adapter tests do not reach."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from devstack.azurite import free_port
from devstack.graph import GraphEmulator

pytestmark = pytest.mark.emulator

ROOM = "hall@contoso.example"
PREFER_UTC = {"Prefer": 'outlook.timezone="UTC"'}


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC))


@pytest.fixture(scope="module")
def emulator(clock: Clock) -> Iterator[GraphEmulator]:
    with GraphEmulator(clock=clock) as graph:
        graph.add_room(ROOM, "Hall")
        yield graph


@pytest.fixture
def http(emulator: GraphEmulator) -> Iterator[httpx.Client]:
    emulator.reset()
    with httpx.Client(base_url=emulator.base_url, headers=PREFER_UTC) as client:
        yield client


@pytest.fixture(scope="module")
def sink() -> Iterator[dict]:
    """A webhook endpoint that echoes validation tokens and keeps what it receives."""
    received: list[dict] = []

    async def handle(request: Request) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            return PlainTextResponse(token)
        received.append(await request.json())
        return Response(status_code=202)

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/hook", handle, methods=["POST"])]), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield {"url": f"http://127.0.0.1:{port}/hook", "received": received}
    server.should_exit = True
    thread.join(timeout=5)


def event_path(event_id: str = "") -> str:
    return f"/users/{ROOM}/events" + (f"/{quote(event_id, safe='')}" if event_id else "")


def timed(subject: str, start: str, end: str, zone: str = "UTC") -> dict:
    return {
        "subject": subject,
        "start": {"dateTime": start, "timeZone": zone},
        "end": {"dateTime": end, "timeZone": zone},
    }


def test_times_are_returned_in_the_preferred_zone(http: httpx.Client) -> None:
    made = http.post(
        event_path(), json=timed("Zoned", "2026-06-01T09:00:00", "2026-06-01T10:00:00", "Pacific Standard Time")
    )
    assert made.status_code == 201
    assert made.json()["start"] == {"dateTime": "2026-06-01T16:00:00.0000000", "timeZone": "UTC"}
    assert made.json()["originalStartTimeZone"] == "Pacific Standard Time"
    assert made.headers["Preference-Applied"] == 'outlook.timezone="UTC"'
    berlin = http.get(event_path(made.json()["id"]), headers={"Prefer": 'outlook.timezone="Europe/Berlin"'})
    assert berlin.json()["start"] == {"dateTime": "2026-06-01T18:00:00.0000000", "timeZone": "Europe/Berlin"}


def test_all_day_events_keep_their_dates(http: httpx.Client) -> None:
    body = {
        **timed("Closed", "2026-06-05T00:00:00", "2026-06-06T00:00:00", "Tokyo Standard Time"),
        "isAllDay": True,
    }
    made = http.post(event_path(), json=body).json()
    assert made["isAllDay"] is True
    assert made["start"]["dateTime"] == "2026-06-05T00:00:00.0000000"
    assert made["end"]["dateTime"] == "2026-06-06T00:00:00.0000000"


def test_change_key_etag_and_if_match(http: httpx.Client) -> None:
    made = http.post(event_path(), json=timed("Etag", "2026-06-02T09:00:00", "2026-06-02T10:00:00")).json()
    assert made["@odata.etag"] == f'W/"{made["changeKey"]}"'
    changed = http.patch(event_path(made["id"]), json={"subject": "Etag 2"}, headers={"If-Match": made["@odata.etag"]})
    assert changed.status_code == 200 and changed.json()["changeKey"] != made["changeKey"]
    stale = http.delete(event_path(made["id"]), headers={"If-Match": made["@odata.etag"]})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "ErrorIrresolvableConflict"
    assert http.delete(event_path(made["id"]), headers={"If-Match": changed.json()["@odata.etag"]}).status_code == 204


def test_unknown_user_filter_and_window_errors(http: httpx.Client) -> None:
    assert http.get("/users/nobody@contoso.example/events").status_code == 404
    assert http.get(event_path(), params={"$filter": "subject eq 'x'"}).status_code == 400
    assert http.get(f"/users/{ROOM}/calendarView").json()["error"]["code"] == "ErrorInvalidParameter"


def test_relative_monthly_and_absolute_yearly_series_expand(http: httpx.Client) -> None:
    monthly = {
        **timed("Board", "2026-01-08T14:00:00", "2026-01-08T15:00:00", "Europe/London"),
        "recurrence": {
            "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["thursday"], "index": "second"},
            "range": {"type": "endDate", "startDate": "2026-01-08", "endDate": "2026-04-30"},
        },
    }
    yearly = {
        **timed("Audit", "2026-02-27T10:00:00", "2026-02-27T11:00:00"),
        "recurrence": {
            "pattern": {"type": "absoluteYearly", "interval": 1, "month": 2, "dayOfMonth": 27},
            "range": {"type": "noEnd", "startDate": "2026-02-27"},
        },
    }
    m = http.post(event_path(), json=monthly).json()
    y = http.post(event_path(), json=yearly).json()
    window = {"startDateTime": "2026-01-01T00:00:00Z", "endDateTime": "2029-01-01T00:00:00Z"}
    months = http.get(event_path(m["id"]) + "/instances", params=window).json()["value"]
    assert [i["start"]["dateTime"][:16] for i in months] == [
        "2026-01-08T14:00",
        "2026-02-12T14:00",
        "2026-03-12T14:00",
        "2026-04-09T13:00",  # London summer time: still 14:00 local
    ]
    years = http.get(event_path(y["id"]) + "/instances", params=window).json()["value"]
    assert [i["start"]["dateTime"][:10] for i in years] == ["2026-02-27", "2027-02-27", "2028-02-27"]
    assert all(i["type"] == "occurrence" and i["seriesMasterId"] == y["id"] for i in years)


def test_delta_reports_an_event_moved_out_of_the_window_as_removed(http: httpx.Client, emulator: GraphEmulator) -> None:
    window = {"startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2030-02-01T00:00:00Z"}
    made = http.post(event_path(), json=timed("Window", "2030-01-10T09:00:00", "2030-01-10T10:00:00")).json()
    first = http.get(f"/users/{ROOM}/calendarView/delta()", params=window).json()
    assert [e["id"] for e in first["value"]] == [made["id"]]
    assert "@odata.deltaLink" in first

    http.patch(event_path(made["id"]), json=timed("Window", "2030-03-10T09:00:00", "2030-03-10T10:00:00"))
    second = http.get(first["@odata.deltaLink"]).json()
    assert second["value"] == [
        {"@odata.type": "#microsoft.graph.event", "id": made["id"], "@removed": {"reason": "deleted"}}
    ]

    emulator.expire_delta_links(ROOM)
    gone = http.get(second["@odata.deltaLink"])
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "SyncStateNotFound"


def test_delta_honours_maxpagesize_on_every_page(http: httpx.Client) -> None:
    for day in range(1, 6):
        http.post(event_path(), json=timed(f"P{day}", f"2031-01-0{day}T09:00:00", f"2031-01-0{day}T10:00:00"))
    prefer = {"Prefer": 'outlook.timezone="UTC", odata.maxpagesize=2'}
    page = http.get(
        f"/users/{ROOM}/calendarView/delta()",
        params={"startDateTime": "2031-01-01T00:00:00Z", "endDateTime": "2031-02-01T00:00:00Z"},
        headers=prefer,
    ).json()
    sizes = [len(page["value"])]
    while "@odata.nextLink" in page:
        page = http.get(page["@odata.nextLink"], headers=prefer).json()
        sizes.append(len(page["value"]))
    assert sizes == [2, 2, 1]


def test_batch_runs_sub_requests_and_caps_at_twenty(http: httpx.Client, emulator: GraphEmulator) -> None:
    made = http.post(event_path(), json=timed("Batched", "2026-08-01T09:00:00", "2026-08-01T10:00:00")).json()
    batch = {
        "requests": [
            {"id": "1", "method": "GET", "url": event_path(made["id"]), "headers": PREFER_UTC},
            {"id": "2", "method": "GET", "url": event_path("AAAA++//nothing==")},
            {
                "id": "3",
                "method": "PATCH",
                "url": event_path(made["id"]),
                "headers": {"Content-Type": "application/json"},
                "body": {"subject": "Batched 2"},
            },
        ]
    }
    answer = http.post("/$batch", json=batch)
    assert answer.status_code == 200
    by_id = {r["id"]: r for r in answer.json()["responses"]}
    assert by_id["1"]["status"] == 200 and by_id["1"]["body"]["id"] == made["id"]
    assert by_id["2"]["status"] == 404
    assert by_id["3"]["status"] == 200 and by_id["3"]["body"]["subject"] == "Batched 2"
    assert emulator.count("*", "/users/*/events/*") == 3
    assert all(r.batched for r in emulator.requests_to("*", "/users/*/events/*"))

    too_many = {"requests": [{"id": str(i), "method": "GET", "url": event_path()} for i in range(21)]}
    assert http.post("/$batch", json=too_many).status_code == 400


def test_subscription_expiry_follows_the_clock(
    http: httpx.Client, emulator: GraphEmulator, clock: Clock, sink: dict
) -> None:
    too_long = (clock.now + dt.timedelta(minutes=4231)).isoformat()
    body = {"changeType": "created", "notificationUrl": sink["url"], "resource": f"/users/{ROOM}/events"}
    assert http.post("/subscriptions", json={**body, "expirationDateTime": too_long}).status_code == 400

    expiry = (clock.now + dt.timedelta(minutes=60)).isoformat()
    sub = http.post("/subscriptions", json={**body, "clientState": "cs", "expirationDateTime": expiry}).json()
    emulator.user_create_event(ROOM, timed("Seen", "2026-09-01T09:00:00", "2026-09-01T10:00:00"))
    emulator.flush_notifications()
    seen = len(sink["received"])
    assert sink["received"][-1]["value"][0]["subscriptionId"] == sub["id"]

    clock.now += dt.timedelta(minutes=61)
    try:
        assert http.get(f"/subscriptions/{sub['id']}").status_code == 404
        emulator.user_create_event(ROOM, timed("Unseen", "2026-09-02T09:00:00", "2026-09-02T10:00:00"))
        emulator.flush_notifications()
        assert len(sink["received"]) == seen
    finally:
        clock.now -= dt.timedelta(minutes=61)


def test_subscription_removed_lifecycle_event_deletes_it(
    http: httpx.Client, emulator: GraphEmulator, clock: Clock, sink: dict
) -> None:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": sink["url"],
        "lifecycleNotificationUrl": sink["url"],
        "resource": f"users/{ROOM}/events",
        "clientState": "cs",
        "expirationDateTime": (clock.now + dt.timedelta(hours=1)).isoformat(),
    }
    sub = http.post("/subscriptions", json=body).json()
    payload = emulator.send_lifecycle(sub["id"], "subscriptionRemoved")
    emulator.flush_notifications()
    assert payload["value"][0]["lifecycleEvent"] == "subscriptionRemoved"
    assert sink["received"][-1] == payload
    assert http.get(f"/subscriptions/{sub['id']}").status_code == 404


def test_request_log_and_faults_by_method_and_path(http: httpx.Client, emulator: GraphEmulator) -> None:
    emulator.fail("GET", "/places/*", status=503, times=2)
    assert [http.get("/places/microsoft.graph.room").status_code for _ in range(3)] == [503, 503, 200]
    assert [r.status for r in emulator.requests_to("GET", "/places/*")] == [503, 503, 200]
    throttled = emulator.throttle("GET", "/places/*", retry_after=7)
    answer = http.get("/places/microsoft.graph.room")
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7" and throttled.hits == 1
    logged = emulator.requests[-1]
    assert logged.query == {} and logged.headers["prefer"] == 'outlook.timezone="UTC"'
    emulator.clear_requests()
    assert emulator.requests == []


def test_select_and_expand_exceptions_and_cancelled_occurrences(http: httpx.Client) -> None:
    series = {
        **timed("Daily", "2032-01-05T09:00:00", "2032-01-05T09:30:00", "Eastern Standard Time"),
        "recurrence": {
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "startDate": "2032-01-05", "numberOfOccurrences": 3},
        },
    }
    master = http.post(event_path(), json=series).json()
    window = {"startDateTime": "2032-01-01T00:00:00Z", "endDateTime": "2032-02-01T00:00:00Z"}
    first, second, _ = http.get(event_path(master["id"]) + "/instances", params=window).json()["value"]
    assert http.delete(event_path(first["id"])).status_code == 204
    assert http.patch(event_path(second["id"]), json={"subject": "Longer"}).json()["type"] == "exception"

    got = http.get(
        event_path(master["id"]),
        params={
            "$select": "id,subject,cancelledOccurrences",
            "$expand": "exceptionOccurrences($select=id,subject),singleValueExtendedProperties($filter=id eq 'x')",
        },
    ).json()
    assert set(got) == {
        "id",
        "@odata.etag",
        "subject",
        "cancelledOccurrences",
        "exceptionOccurrences",
        "singleValueExtendedProperties",
    }
    assert got["cancelledOccurrences"] == [f"OID.{master['id']}.2032-01-05"]  # the local date in New York
    assert [(e["id"], e["subject"]) for e in got["exceptionOccurrences"]] == [(second["id"], "Longer")]
    view = http.get(f"/users/{ROOM}/calendarView", params=window).json()["value"]
    assert [e["type"] for e in view if e.get("seriesMasterId") == master["id"]] == ["exception", "occurrence"]
