"""The booking emulator itself: seeding, request log, fault injection, auth, rules, SQLite storage,
signed webhooks to a real loopback receiver, and the "as a user" API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from calsync.booking.webhook_signature import SIGNATURE_HEADER, verify_webhook
from calsync.errors import AuthenticationError
from devstack.booking import BookingEmulator, EmulatorRoom
from devstack.booking_store import ProblemError

pytestmark = pytest.mark.emulator

KEY = "emu-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ROOM = EmulatorRoom("room-1", "Atlas", "atlas@example.com")
OLD, NEW = "old-webhook-secret", "new-webhook-secret"


def body(**fields: object) -> dict[str, object]:
    return {
        "room_id": "room-1",
        "title": "Standup",
        "start": "2030-03-04T09:00:00+01:00",
        "end": "2030-03-04T09:30:00+01:00",
        "time_zone": "Europe/Berlin",
        **fields,
    }


class Receiver:
    """A loopback webhook receiver that keeps (headers, body) of every POST."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append((dict(self.headers.items()), self.rfile.read(length)))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/booking"

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.received) >= count, f"expected {count} webhooks, got {len(self.received)}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def emulator(receiver: Receiver) -> Iterator[BookingEmulator]:
    with BookingEmulator(rooms=[ROOM], api_key=KEY, webhook_url=receiver.url, webhook_secrets=[NEW, OLD]) as running:
        yield running


@pytest.fixture
def http(emulator: BookingEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url, headers=AUTH, timeout=5) as client:
        yield client


def test_listens_on_loopback_and_serves_seeded_rooms(emulator: BookingEmulator, http: httpx.Client) -> None:
    assert emulator.base_url.startswith("http://127.0.0.1:")
    assert http.get("/rooms").json() == {"items": [{"id": "room-1", "name": "Atlas", "email": "atlas@example.com"}]}
    assert http.get("/rooms/room-1").json()["name"] == "Atlas"


def test_request_log_records_every_request_with_the_key_redacted(emulator: BookingEmulator, http: httpx.Client) -> None:
    http.post("/bookings", json=body(), headers={"Idempotency-Key": "k1"})
    http.get("/rooms", params={"x": "1"})
    first, second = emulator.requests
    assert (first.method, first.path, first.status) == ("POST", "/bookings", 201)
    assert first.json()["title"] == "Standup" and first.headers["idempotency-key"] == "k1"
    assert first.headers["authorization"] == "Bearer <redacted>"
    assert (second.method, second.path, second.query) == ("GET", "/rooms", "x=1")
    emulator.clear_requests()
    assert emulator.requests == []


def test_missing_or_wrong_api_key_is_401_problem(http: httpx.Client) -> None:
    response = http.get("/rooms", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["title"] == "Unauthorized"


def test_faults_match_method_and_path_and_run_out(emulator: BookingEmulator, http: httpx.Client) -> None:
    fault = emulator.inject_fault("GET", "/rooms*", status=429, times=2, retry_after=7)
    assert http.post("/bookings", json=body()).status_code == 201  # other method: untouched
    first = http.get("/rooms")
    assert (first.status_code, first.headers["retry-after"]) == (429, "7")
    assert first.json()["type"].endswith("injected-fault")
    assert http.get("/rooms/room-1").status_code == 429
    assert http.get("/rooms").status_code == 200
    assert fault.hits == 2


def test_server_error_and_slow_faults(emulator: BookingEmulator, http: httpx.Client) -> None:
    emulator.inject_fault("*", "/changes", status=500)
    assert http.get("/changes").status_code == 500
    emulator.inject_fault("GET", "/rooms", delay=0.3)
    began = time.monotonic()
    assert http.get("/rooms").status_code == 200
    assert time.monotonic() - began >= 0.3
    emulator.inject_fault("GET", "/rooms", status=503, times=5)
    emulator.clear_faults()
    assert http.get("/rooms").status_code == 200


def test_unknown_path_and_method_are_problems(http: httpx.Client) -> None:
    assert http.get("/nothing").headers["content-type"] == "application/problem+json"
    assert http.patch("/rooms").status_code == 405


def test_if_match_is_required_and_checked(http: httpx.Client) -> None:
    created = http.post("/bookings", json=body()).json()
    path = f"/bookings/{created['id']}"
    assert http.put(path, json=body(title="x")).status_code == 428
    assert http.delete(path).status_code == 428
    assert http.put(path, json=body(title="x"), headers={"If-Match": '"5"'}).status_code == 412
    updated = http.put(path, json=body(title="x"), headers={"If-Match": '"1"'})
    assert (updated.status_code, updated.headers["etag"], updated.json()["version"]) == (200, '"2"', "2")
    assert http.delete(path, headers={"If-Match": "*"}).status_code == 204


def test_exdate_frees_an_occurrence_and_an_override_moves_one(http: httpx.Client) -> None:
    series = body(
        recurrence={
            "rrule": "FREQ=DAILY;COUNT=5",
            "exdates": ["2030-03-05T09:00:00+01:00"],
            "overrides": [
                {
                    "original_start": "2030-03-06T09:00:00+01:00",
                    "start": "2030-03-06T14:00:00+01:00",
                    "end": "2030-03-06T14:30:00+01:00",
                }
            ],
        }
    )
    assert http.post("/bookings", json=series).status_code == 201
    on_exdate = body(start="2030-03-05T09:00:00+01:00", end="2030-03-05T09:30:00+01:00")
    assert http.post("/bookings", json=on_exdate).status_code == 201
    on_moved_away = body(start="2030-03-06T09:00:00+01:00", end="2030-03-06T09:30:00+01:00")
    assert http.post("/bookings", json=on_moved_away).status_code == 201
    on_moved_to = body(start="2030-03-06T14:15:00+01:00", end="2030-03-06T15:00:00+01:00")
    assert http.post("/bookings", json=on_moved_to).status_code == 409
    on_regular = body(start="2030-03-08T09:15:00+01:00", end="2030-03-08T10:00:00+01:00")
    assert http.post("/bookings", json=on_regular).status_code == 409


def test_invalid_bodies_are_problems_naming_the_field(http: httpx.Client) -> None:
    bad_zone = http.post("/bookings", json=body(time_zone="Mars/Olympus"))
    assert bad_zone.status_code == 422 and "time_zone" in bad_zone.json()["detail"]
    not_midnight = http.post("/bookings", json=body(all_day=True))
    assert not_midnight.status_code == 422 and "not midnight" in not_midnight.json()["detail"]
    bad_rule = http.post("/bookings", json=body(recurrence={"rrule": "FREQ=SOMETIMES"}))
    assert bad_rule.status_code == 422 and "rrule" in bad_rule.json()["detail"]
    assert http.post("/bookings", content=b"{nope", headers={"Content-Type": "application/json"}).status_code == 400


def test_webhooks_are_signed_and_verify_with_either_active_secret(
    emulator: BookingEmulator, receiver: Receiver, http: httpx.Client
) -> None:
    created = http.post("/bookings", json=body()).json()
    receiver.wait_for(1)
    headers, raw = receiver.received[0]
    assert json.loads(raw) == {
        "event": "booking.created",
        "booking_id": created["id"],
        "room_id": "room-1",
        "version": "1",
    }
    assert headers[SIGNATURE_HEADER].count("v1=") == 2  # one per secret during the rotation
    assert verify_webhook(headers, raw, [NEW]).booking_id == created["id"]
    assert verify_webhook(headers, raw, [OLD]).booking_id == created["id"]
    assert verify_webhook(headers, raw, [NEW, OLD]).event.value == "booking.created"
    with pytest.raises(AuthenticationError, match="no webhook signature matches"):
        verify_webhook(headers, raw, ["some-other-secret"])
    with pytest.raises(AuthenticationError, match="tampered"):
        verify_webhook(headers, raw.replace(b"room-1", b"room-2"), [NEW])
    with pytest.raises(AuthenticationError, match="stale"):
        verify_webhook(headers, raw, [NEW], now=time.time() + 301)
    emulator.flush_webhooks()
    assert emulator.webhook_deliveries[0].status == 202


def test_user_edits_fire_webhooks_and_feed_the_change_feed(
    emulator: BookingEmulator, receiver: Receiver, http: httpx.Client
) -> None:
    booking = emulator.user_create_booking("room-1", **{k: v for k, v in body().items() if k != "room_id"})
    emulator.user_update_booking(booking["id"], title="Retitled")
    emulator.user_cancel_booking(booking["id"])
    emulator.user_delete_booking(booking["id"])
    receiver.wait_for(4)
    events = [json.loads(raw)["event"] for _, raw in receiver.received]
    assert events == ["booking.created", "booking.updated", "booking.updated", "booking.deleted"]
    assert [json.loads(raw)["version"] for _, raw in receiver.received] == ["1", "2", "3", "3"]
    page = http.get("/changes").json()
    assert (page["changed"], page["deleted"]) == ([], [booking["id"]])


def test_user_edits_keep_the_rules(emulator: BookingEmulator) -> None:
    emulator.user_add_block("room-1", "2030-03-04T00:00:00Z", "2030-03-05T00:00:00Z", title="Painting")
    with pytest.raises(ProblemError, match="already booked"):
        emulator.user_create_booking("room-1", **{k: v for k, v in body().items() if k != "room_id"})
    assert [b["kind"] for b in emulator.bookings()] == ["block"]


def test_webhooks_can_be_dropped(emulator: BookingEmulator, receiver: Receiver, http: httpx.Client) -> None:
    emulator.webhooks_enabled = False
    http.post("/bookings", json=body())
    emulator.flush_webhooks()
    time.sleep(0.1)
    assert receiver.received == [] and emulator.webhook_deliveries == []


def test_unreachable_webhook_url_is_recorded_not_fatal(receiver: Receiver) -> None:
    from devstack.azurite import free_port

    url = f"http://127.0.0.1:{free_port()}/hooks"
    with BookingEmulator(rooms=[ROOM], api_key=KEY, webhook_url=url, webhook_secrets=[NEW]) as emulator:
        with httpx.Client(base_url=emulator.base_url, headers=AUTH) as http:
            assert http.post("/bookings", json=body()).status_code == 201
        emulator.flush_webhooks()
        (delivery,) = emulator.webhook_deliveries
        assert delivery.status is None and delivery.error


def test_sqlite_file_storage_survives_a_restart(tmp_path: Path) -> None:
    database = str(tmp_path / "booking.sqlite")
    emulator = BookingEmulator(rooms=[ROOM], api_key=KEY, database=database)
    with emulator, httpx.Client(base_url=emulator.start().base_url, headers=AUTH) as http:
        created = http.post("/bookings", json=body()).json()
    with BookingEmulator(api_key=KEY, database=database) as emulator:
        assert [b["id"] for b in emulator.bookings()] == [created["id"]]
        assert emulator.store.list_rooms()[0]["id"] == "room-1"


def test_a_long_running_series_is_listed_in_a_window_years_later(http: httpx.Client) -> None:
    daily = body(
        start="2030-01-01T08:00:00Z", end="2030-01-01T08:15:00Z", time_zone="UTC", recurrence={"rrule": "FREQ=DAILY"}
    )
    created = http.post("/bookings", json=daily).json()
    page = http.get(
        "/bookings", params={"room_id": "room-1", "start": "2034-06-01T00:00:00Z", "end": "2034-06-02T00:00:00Z"}
    )
    assert [b["id"] for b in page.json()["items"]] == [created["id"]]
    later = body(start="2034-06-01T08:10:00Z", end="2034-06-01T09:00:00Z")
    assert http.post("/bookings", json=later).status_code == 409
    # a daily 12:00 in Berlin stays 12:00 local in summer (10:00 UTC, not 11:00 UTC)
    noon = body(start="2030-01-01T12:00:00+01:00", end="2030-01-01T12:15:00+01:00", recurrence={"rrule": "FREQ=DAILY"})
    assert http.post("/bookings", json=noon).status_code == 201
    summer_noon = body(start="2030-07-01T10:05:00Z", end="2030-07-01T10:10:00Z")
    assert http.post("/bookings", json=summer_noon).status_code == 409
    summer_one_pm = body(start="2030-07-01T11:05:00Z", end="2030-07-01T11:10:00Z")
    assert http.post("/bookings", json=summer_one_pm).status_code == 201


def test_webhook_url_without_secrets_is_a_configuration_error() -> None:
    from calsync.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="webhook_secrets"):
        BookingEmulator(webhook_url="http://127.0.0.1:9/hooks")
