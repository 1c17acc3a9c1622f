"""Property-based run of docs/booking-api.yaml against the emulator: no response may violate the contract.

schemathesis generates valid and invalid requests for every operation and checks each answer
against the document: no 5xx, documented status codes, content types, headers and bodies.
Bounded by max_examples so the whole run stays well under a minute.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devstack.booking import BookingEmulator, EmulatorRoom

SPEC = Path(__file__).resolve().parents[2] / "docs" / "booking-api.yaml"
API_KEY = "contract-key"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_path(str(SPEC))
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    max_examples=40,
    deterministic=True,
    with_security_parameters=False,  # the bearer key is sent on every call; auth has its own tests
)


_cases = itertools.count()


@pytest.fixture(scope="module")
def contract_emulator() -> Iterator[BookingEmulator]:
    rooms = [EmulatorRoom("room-1", "Atlas", "atlas@example.com"), EmulatorRoom("0", "Zero")]
    with BookingEmulator(rooms=rooms, api_key=API_KEY) as running:
        yield running


def _existing_booking(emulator: BookingEmulator, n: int) -> dict[str, Any]:
    """A booking that exists now (generated cases delete and reject them), in a slot of its own."""
    for booking in emulator.bookings():
        if booking["title"] == "Seed" and booking["status"] == "confirmed":
            return booking
    start = dt.datetime(2031, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=2 * n)
    return emulator.user_create_booking(
        "room-1",
        title="Seed",
        start=start.isoformat(),
        end=(start + dt.timedelta(hours=1)).isoformat(),
        external_ref=f"AAMk-{n}",
        recurrence={"rrule": "FREQ=DAILY;COUNT=2"} if n % 3 == 0 else None,
    )


def _steer(case: schemathesis.Case, emulator: BookingEmulator) -> None:
    """Point some generated cases at things that exist, so success paths are checked too, not only 404/422."""
    n = next(_cases)
    if n % 2 or case.meta is None or case.meta.generation.mode is not schemathesis.GenerationMode.POSITIVE:
        return  # negative cases stay as generated: they must be refused
    if case.path_parameters and "booking_id" in case.path_parameters:
        booking = _existing_booking(emulator, n)
        case.path_parameters["booking_id"] = booking["id"]
        if case.headers and "If-Match" in case.headers and n % 4 == 0:
            case.headers["If-Match"] = f'"{booking["version"]}"'
    if isinstance(case.body, dict) and "room_id" in case.body:
        case.body["room_id"] = "room-1"
        if "time_zone" in case.body:
            case.body["time_zone"] = "Europe/Berlin"


@pytest.mark.emulator
@pytest.mark.slow
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=40)
def test_emulator_conforms_to_the_contract(case: schemathesis.Case, contract_emulator: BookingEmulator) -> None:
    _steer(case, contract_emulator)
    case.call_and_validate(
        base_url=contract_emulator.base_url,
        headers={"Authorization": f"Bearer {API_KEY}"},
        checks=CHECKS,
    )


@pytest.mark.slow  # it reads what the slow property-based run above reached
def test_the_run_reached_success_paths_of_every_operation(contract_emulator: BookingEmulator) -> None:
    """Guards the guard: a run that only ever saw 401/404/422 would prove little."""
    seen = {(r.method, r.path.split("/")[1], r.path.endswith("/reject"), r.status) for r in contract_emulator.requests}
    wanted = [
        ("GET", "rooms", False, 200),
        ("GET", "bookings", False, 200),
        ("POST", "bookings", False, 201),
        ("PUT", "bookings", False, 200),
        ("DELETE", "bookings", False, 204),
        ("POST", "bookings", True, 200),
        ("GET", "changes", False, 200),
    ]
    missing = [w for w in wanted if w not in seen]
    assert not missing, f"the property-based run never reached {missing}"
