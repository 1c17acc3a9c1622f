"""Fault injection and the request log of the Graph emulator.

A Fault matches requests by method and a glob over the decoded path below /v1.0
(``/users/*/events/*``) and answers the next ``times`` of them with an error status
(429 and 503 carry Retry-After), after an optional delay; a fault without a status
only slows the answer down, before serving it (``delay``) or after the change is made
(``delay_after``: a response lost to a client timeout). Every request served, batched ones included, is logged
with method, path, query, headers, body and the status it got.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "ErrorAccessDenied",
    404: "ErrorItemNotFound",
    409: "ErrorIrresolvableConflict",
    410: "SyncStateNotFound",
    412: "ErrorIrresolvableConflict",
    429: "ApplicationThrottled",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


@dataclass
class Fault:
    """Answer the next ``times`` requests matching ``method`` and ``path`` with ``status``."""

    method: str
    path: str
    status: int | None = None
    times: int = 1
    retry_after: float | None = None
    delay: float = 0.0
    delay_after: float = 0.0  # serve the request, then wait: the client may time out after the change
    code: str | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (
            self.hits < self.times
            and self.method in ("*", method.upper())
            and fnmatch.fnmatchcase(path.lower(), self.path.lower())
        )

    def error_body(self) -> dict:
        code = self.code or _CODES.get(self.status or 500, "UnknownError")
        return {"error": {"code": code, "message": f"Injected fault {self.status} ({code})."}}

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        value = self.retry_after
        return {"Retry-After": str(int(value)) if float(value).is_integer() else str(value)}


@dataclass
class RecordedRequest:
    """One request the emulator served."""

    method: str
    path: str  # decoded, below the version segment: /users/room@x/events/AAA+/=
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names; repeated headers joined with ', '
    body: bytes
    mailbox: str | None
    batched: bool = False
    status: int | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def prefer(self) -> list[str]:
        """The Prefer header's preferences, one string each."""
        return [p.strip() for p in self.headers.get("prefer", "").split(",") if p.strip()]


class FaultBook:
    """The faults armed for the current test and the log of requests served."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.log: list[RecordedRequest] = []
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}

    def arm(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching the request, counted as used."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.log.append(request)

    def enter(self, mailbox: str | None) -> None:
        if mailbox is None:
            return
        with self.lock:
            now = self.in_flight.get(mailbox, 0) + 1
            self.in_flight[mailbox] = now
            self.max_in_flight[mailbox] = max(now, self.max_in_flight.get(mailbox, 0))

    def leave(self, mailbox: str | None) -> None:
        if mailbox is None:
            return
        with self.lock:
            self.in_flight[mailbox] -= 1
