"""The Graph emulator's change-notification subscriptions and the notifications they send.

Subscriptions live in memory with Graph's rules for events: resource
/users/{id}/events, changeType from created/updated/deleted, an expiry in the future
and at most 4230 minutes away, read from the emulator's clock (expired ones vanish).
A create runs Graph's validation handshake (POST ?validationToken=..., expect 200
text/plain echoing it, else 400). Changes and lifecycle events become Graph's
notification JSON, POSTed by one background thread in order; the test can drop
some and can read every delivery. Each POST carries one notification in ``value``:
Graph may put several in one POST (a changeNotificationCollection's ``value``,
https://learn.microsoft.com/graph/api/resources/changenotificationcollection) but says
not how many, and calsync's endpoint takes any number; one per POST is the costlier
case for the endpoint, kept so that benchmarks do not flatter it.
"""

from __future__ import annotations

import datetime as dt
import queue
import re
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from devstack.graph_calendars import GraphError, not_found

UTC = dt.UTC
MAX_MINUTES = 4230
TENANT_ID = "00000000-0000-4000-8000-00000000c0de"
_RESOURCE = re.compile(r"^/?users/(?P<user>[^/]+)/(?:calendar/)?events$", re.IGNORECASE)
_CHANGE_TYPES = {"created", "updated", "deleted"}
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


def parse_time(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Delivery:
    """One notification POST the emulator made (or dropped)."""

    url: str
    payload: dict
    status: int | None  # None when dropped or the connection failed
    dropped: bool = False


@dataclass
class Notifier:
    """Sends notification POSTs from one background thread, in order, and records them."""

    timeout: float = 5.0
    deliveries: list[Delivery] = field(default_factory=list)
    drop_next: int = 0
    _queue: queue.Queue = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="graph-emulator-notifier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def send(self, url: str, payload: dict) -> None:
        with self._lock:
            if self.drop_next > 0:
                self.drop_next -= 1
                self.deliveries.append(Delivery(url, payload, None, dropped=True))
                return
        self._queue.put((url, payload))

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued notification has been POSTed."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                if isinstance(item, threading.Event):
                    item.set()
                    continue
                url, payload = item
                try:
                    status: int | None = client.post(url, json=payload).status_code
                except httpx.HTTPError:
                    status = None
                with self._lock:
                    self.deliveries.append(Delivery(url, payload, status))


class Subscriptions:
    """Graph subscriptions for room events; ``user_of(resource user)`` resolves a room's user id."""

    def __init__(self, clock: Callable[[], dt.datetime], notifier: Notifier, user_id_of: Callable[[str], str]) -> None:
        self.clock = clock
        self.notifier = notifier
        self.user_id_of = user_id_of
        self.lock = threading.RLock()
        self._subs: dict[str, dict] = {}

    def _live(self) -> dict[str, dict]:
        now = self.clock()
        for sid in [s for s, sub in self._subs.items() if parse_time(sub["expirationDateTime"]) <= now]:
            del self._subs[sid]
        return self._subs

    def _check_expiry(self, value: str | None) -> str:
        if not value:
            raise GraphError(400, "InvalidRequest", "expirationDateTime is required.")
        expiry = parse_time(value)
        now = self.clock()
        if expiry <= now or expiry > now + dt.timedelta(minutes=MAX_MINUTES):
            raise GraphError(
                400,
                "ExtensionError",
                f"Subscription expiration can only be {MAX_MINUTES} minutes in the future.",
            )
        return _iso(expiry)

    async def create(self, body: dict) -> dict:
        """Check the request, run the validation handshake(s), store and return the subscription."""
        resource = body.get("resource") or ""
        match = _RESOURCE.match(resource)
        if match is None:
            raise GraphError(400, "InvalidRequest", f"Unsupported resource '{resource}'.")
        self.user_id_of(match["user"])  # 404 for unknown users
        changes = {c.strip() for c in (body.get("changeType") or "").split(",") if c.strip()}
        if not changes or not changes <= _CHANGE_TYPES:
            raise GraphError(400, "InvalidRequest", f"Invalid changeType '{body.get('changeType')}'.")
        if not body.get("notificationUrl"):
            raise GraphError(400, "InvalidRequest", "notificationUrl is required.")
        expiry = self._check_expiry(body.get("expirationDateTime"))
        for url in filter(None, (body.get("notificationUrl"), body.get("lifecycleNotificationUrl"))):
            await validate_endpoint(url, self.notifier.timeout)
        sub = {
            "@odata.type": "#microsoft.graph.subscription",
            "id": str(uuid.uuid4()),
            "resource": resource,
            "changeType": ",".join(sorted(changes)),
            "clientState": body.get("clientState"),
            "notificationUrl": body["notificationUrl"],
            "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
            "expirationDateTime": expiry,
            "applicationId": "00000000-0000-4000-8000-0000000ca15c",
            "creatorId": "00000000-0000-4000-8000-0000000ca15c",
            "latestSupportedTlsVersion": "v1_2",
            "notificationContentType": None,
            "includeResourceData": False,
        }
        with self.lock:
            self._subs[sub["id"]] = sub
        return dict(sub)

    def get(self, sid: str) -> dict:
        with self.lock:
            sub = self._live().get(sid)
            if sub is None:
                raise not_found(f"The object '{sid}' doesn't exist.")
            return dict(sub)

    def list(self) -> list[dict]:
        with self.lock:
            return [dict(s) for s in self._live().values()]

    def renew(self, sid: str, body: dict) -> dict:
        with self.lock:
            sub = self._live().get(sid)
            if sub is None:
                raise not_found(f"The object '{sid}' doesn't exist.")
            sub["expirationDateTime"] = self._check_expiry(body.get("expirationDateTime"))
            return dict(sub)

    def reauthorize(self, sid: str) -> None:
        self.get(sid)

    def delete(self, sid: str) -> None:
        with self.lock:
            if self._live().pop(sid, None) is None:
                raise not_found(f"The object '{sid}' doesn't exist.")

    # --- notifications ---------------------------------------------------------------------------
    def on_change(self, mailbox: str, change_type: str, event: dict) -> None:
        """Send a change notification to every live subscription on ``mailbox``'s events."""
        user_id = self.user_id_of(mailbox)
        with self.lock:
            targets = [
                dict(s)
                for s in self._live().values()
                if change_type in s["changeType"].split(",")
                and self.user_id_of(_RESOURCE.match(s["resource"])["user"]) == user_id
            ]
        for sub in targets:
            resource = f"Users/{user_id}/Events/{event['id']}"
            item = {
                "subscriptionId": sub["id"],
                "subscriptionExpirationDateTime": sub["expirationDateTime"],
                "changeType": change_type,
                "resource": resource,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "@odata.etag": f'W/"{event["changeKey"]}"',
                    "id": event["id"],
                },
                "clientState": sub["clientState"],
                "tenantId": TENANT_ID,
            }
            self.notifier.send(sub["notificationUrl"], {"value": [item]})

    def lifecycle(self, sid: str, lifecycle_event: str) -> dict:
        """Send one lifecycle notification for subscription ``sid`` (subscriptionRemoved also removes it)."""
        if lifecycle_event not in LIFECYCLE_EVENTS:
            raise ValueError(f"lifecycle event must be one of {LIFECYCLE_EVENTS}")
        with self.lock:
            sub = self._subs.get(sid)
            if sub is None:
                raise KeyError(sid)
            if lifecycle_event == "subscriptionRemoved":
                del self._subs[sid]
        payload = {
            "value": [
                {
                    "subscriptionId": sid,
                    "subscriptionExpirationDateTime": sub["expirationDateTime"],
                    "tenantId": TENANT_ID,
                    "clientState": sub["clientState"],
                    "lifecycleEvent": lifecycle_event,
                }
            ]
        }
        self.notifier.send(sub.get("lifecycleNotificationUrl") or sub["notificationUrl"], payload)
        return payload


async def validate_endpoint(url: str, wait_seconds: float) -> None:
    """Graph's validation handshake: the endpoint must echo the token as text/plain with 200."""
    token = "Validation: Testing client application reachability for subscription Request-Id: " + secrets.token_hex(8)
    try:
        async with httpx.AsyncClient(timeout=wait_seconds) as client:
            answer = await client.post(url, params={"validationToken": token}, headers={"Content-Type": "text/plain"})
    except httpx.HTTPError as exc:
        raise GraphError(
            400, "InvalidRequest", f"Subscription validation request failed. {type(exc).__name__}"
        ) from None
    content_type = answer.headers.get("content-type", "")
    if answer.status_code != 200 or answer.text != token or not content_type.startswith("text/plain"):
        raise GraphError(
            400,
            "InvalidRequest",
            "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
        )
