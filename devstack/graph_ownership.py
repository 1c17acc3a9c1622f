"""The Graph emulator's HTTP handling of meetings, and its record of writes to items the app does not own.

Every HTTP request is calsync's app (Calendars.ReadWrite as an application); the
test-facing "person" methods on GraphEmulator are people acting in Outlook and are
never recorded. ``MeetingRoutes.route`` answers what concerns meetings and returns
None for everything else, so the emulator's plain event paths (a room's own events,
created directly with no attendees) stay as they were.

Recorded as a Violation (EXCHANGE.md, "What calsync may do to each"):
- PATCH or DELETE of an event the mailbox does not organise (an attendee's copy, e.g.
  the room's copy of a person's meeting): Graph allows it, but only that copy changes
  and the organiser never learns of it;
- any write in a person's mailbox (calsync's scope is rooms and its service mailbox);
- accept/decline/tentativelyAccept of an event the mailbox organises, and cancel of
  one it does not: Graph refuses both with 400, and trying is a defect.

Graph's answers modelled here:
- responding to one's own meeting: 400 ErrorInvalidRequest "Your request can't be
  completed. You can't respond to a meeting you organized." (event-accept/decline;
  message as Graph returns it, code as seen in public client fixtures);
- cancel by an attendee: 400 with "Your request can't be completed. You need to be an
  organizer to cancel a meeting." (event-cancel, Graph v1.0 reference; the reference
  gives no error code: ErrorAccessDenied is what one public client expects, uncertain);
- accept/decline/tentativelyAccept answer 202, cancel answers 202, DELETE 204.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devstack.graph_calendars import GraphError, etag_matches
from devstack.graph_meetings import Meetings, Violation

Answer = tuple[int, dict[str, str], Any]
_RESPONSES = {"accept": "accepted", "tentativelyaccept": "tentativelyAccepted", "decline": "declined"}
_ACTION_NAMES = {"accept": "accept", "tentativelyaccept": "tentativelyAccept", "decline": "decline"}
NOT_ORGANIZER = "Your request can't be completed. You need to be an organizer to cancel a meeting."


class MeetingRoutes:
    def __init__(self, meetings: Meetings) -> None:
        self.meetings = meetings

    def _violate(self, action: str, mailbox: str, event_id: str, reason: str) -> None:
        with self.meetings.calendars.lock:
            self.meetings.violations.append(Violation(action, mailbox.lower(), event_id, reason))

    def route(
        self,
        method: str,
        user: str,
        rest: list[str],
        event_id: str | None,
        body: Callable[[], dict],
        if_match: str | None,
        render: Callable[[dict], dict],
    ) -> Answer | None:
        """The answer to a request about meetings, or None to let the plain event paths serve it."""
        if rest[0] != "events":
            return None
        meetings = self.meetings
        cal = meetings.calendars
        person = meetings.kind(user) == "person"  # 404 for unknown users, as before
        if len(rest) == 1 and method == "POST":
            data = body()
            if person:
                self._violate("POST", user, "", "created an event in a person's calendar")
            if not data.get("attendees"):
                return None
            return 201, {}, render(meetings.organise(user, data))
        if event_id is None or len(rest) not in (2, 3):
            return None
        if len(rest) == 2 and method in ("PATCH", "DELETE"):
            return self._write(method, user, event_id, body, if_match, render, person)
        action = rest[2] if len(rest) == 3 and method == "POST" else None
        if action in _RESPONSES:
            event = cal.get(user, event_id)
            if event.get("isOrganizer"):
                self._violate(_ACTION_NAMES[action], user, event_id, "responded to a meeting the mailbox organises")
            elif person:
                self._violate(_ACTION_NAMES[action], user, event_id, "answered in a person's name")
            data = {k.lower(): v for k, v in body().items()}  # Graph's parameter names are case-blind
            meetings.respond(
                user, event_id, _RESPONSES[action], data.get("comment"), data.get("sendresponse") is not False
            )
            return 202, {}, None
        if action == "cancel":
            event = cal.get(user, event_id)
            if not event.get("isOrganizer"):
                self._violate("cancel", user, event_id, "cancelled a meeting the mailbox does not organise")
                raise GraphError(400, "ErrorAccessDenied", NOT_ORGANIZER)
            if person:
                self._violate("cancel", user, event_id, "cancelled a person's meeting")
            comment = {k.lower(): v for k, v in body().items()}.get("comment")
            meetings.organizer_cancelled(user, event_id, comment)
            return 202, {}, None
        return None

    def _write(
        self,
        method: str,
        user: str,
        event_id: str,
        body: Callable[[], dict],
        if_match: str | None,
        render: Callable[[dict], dict],
        person: bool,
    ) -> Answer | None:
        meetings = self.meetings
        cal = meetings.calendars
        event = cal.get(user, event_id)
        if not event.get("isOrganizer"):
            self._violate(method, user, event_id, "changed a copy of a meeting someone else organises")
        elif person:
            self._violate(method, user, event_id, "changed a person's own meeting")
        meeting = meetings.meeting_of(user, event_id) if event.get("isOrganizer") else None
        if meeting is None or meeting.organizer != meetings.key(user):
            return None  # a plain event (or an attendee's copy): the ordinary path serves it
        if method == "PATCH":
            patch = body()
            cal.update(user, event_id, patch, if_match=if_match)
            meetings.organizer_updated(user, event_id, patch)
            return 200, {}, render(cal.get(user, event_id))
        if not etag_matches(if_match, event["changeKey"]):
            raise GraphError(
                412,
                "ErrorIrresolvableConflict",
                "The change key passed in the request does not match the current change key for the item.",
            )
        # event-delete: deleting a meeting the mailbox organises sends cancellations to its attendees
        meetings.organizer_cancelled(user, event_id, None)
        return 204, {}, None
