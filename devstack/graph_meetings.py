"""Meetings across mailboxes in the Graph emulator: the organiser's event, the attendees' copies, mail.

Exchange keeps one item per mailbox for a meeting: the organiser's event and a copy
in each attendee's calendar, all with the same iCalUId and each with its own id
(event resource, Graph v1.0). A room's copy is made by its Calendar Attendant
(graph_attendant.py); a person's or service mailbox's copy arrives unanswered
(``notResponded``, shown tentative). Updates and cancellations by the organiser flow
to every copy; attendees' responses flow back to the organiser's attendee list and
as mail. Everything runs under the calendars' lock and writes through ``Calendars``,
so subscribers on any mailbox hear each change.

Modelled choices, with sources:
- Cancelling (POST .../cancel, or DELETE of a meeting with attendees) removes the
  organiser's event and marks each copy ``isCancelled`` with "Canceled: " before its
  subject (event-cancel, event-delete; the prefix is what Outlook shows, uncertain for
  Graph). A room deletes its copy instead when RemoveCanceledMeetings is on.
- A declined copy either stays with ``responseStatus: declined`` or disappears: both
  are seen in practice (EXCHANGE.md), so ``declined_copies`` picks "keep" or "remove".
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field

from devstack.graph_attendant import (
    CalendarProcessing,
    Decision,
    Invitation,
    Verdict,
    decide,
    room_copy_fields,
)
from devstack.graph_calendars import Calendars, Decline, GraphError, occurrence_id, split_occurrence_id
from devstack.graph_recurrence import occurrence_starts, to_utc

UTC = dt.UTC
_COPIED = ("subject", "body", "start", "end", "isAllDay", "recurrence", "showAs", "sensitivity",
           "location", "locations", "attendees", "importance", "isOnlineMeeting", "categories")  # fmt: skip
_TIME_KEYS = {"start", "end", "recurrence", "isAllDay"}
_LABELS = {"accepted": "Accepted", "tentativelyAccepted": "Tentative", "declined": "Declined"}
DECLINED_COPIES = ("keep", "remove")


@dataclass(frozen=True)
class Mail:
    """A message the emulator "sent": a response, an invitation or a cancellation."""

    to: str  # the recipient's address, lower-case
    sender: str
    kind: str  # meetingRequest | accepted | tentativelyAccepted | declined | cancelled
    subject: str
    comment: str | None
    ical_uid: str | None
    occurrences: tuple[str, ...] = ()  # UTC starts (ISO) when it concerns single occurrences
    at: dt.datetime | None = None


@dataclass(frozen=True)
class Violation:
    """A write calsync's app made to an item it does not own (see graph_ownership.py)."""

    action: str  # PATCH, DELETE, POST, decline, accept, tentativelyAccept, cancel
    mailbox: str
    event_id: str
    reason: str


@dataclass
class Meeting:
    ical_uid: str
    organizer: str  # mailbox key
    event_id: str  # the organiser's event
    copies: dict[str, str] = field(default_factory=dict)  # attendee mailbox -> its copy's id
    responses: dict[str, str] = field(default_factory=dict)  # attendee mailbox -> response


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _address(who: dict | None) -> str:
    return ((who or {}).get("emailAddress") or {}).get("address", "").lower()


class Meetings:
    def __init__(self, calendars: Calendars) -> None:
        self.calendars = calendars
        self.processing: dict[str, CalendarProcessing] = {}
        self.declined_copies = "keep"
        self.mail: list[Mail] = []
        self.violations: list[Violation] = []
        self._meetings: dict[str, Meeting] = {}  # iCalUId -> meeting
        self._by_event: dict[tuple[str, str], str] = {}  # (mailbox, event id) -> iCalUId

    # --- lookups ------------------------------------------------------------------------------------
    def kind(self, mailbox: str) -> str:
        return self.calendars.room(mailbox).kind

    def key(self, mailbox: str) -> str:
        return self.calendars.room(mailbox).email.lower()

    def policy(self, room: str) -> CalendarProcessing:
        return self.processing.get(self.key(room), CalendarProcessing())

    def set_policy(self, room: str, **overrides: object) -> CalendarProcessing:
        with self.calendars.lock:
            if self.kind(room) != "room":
                raise ValueError(f"{room} is not a room mailbox")
            self.processing[self.key(room)] = self.policy(room).with_overrides(**overrides)
            return self.processing[self.key(room)]

    def meeting_of(self, mailbox: str, event_id: str) -> Meeting | None:
        """The meeting an event (or an occurrence of it) belongs to, in any attendee's or the organiser's box."""
        occurrence = split_occurrence_id(event_id)
        master = occurrence[0] if occurrence else event_id
        uid = self._by_event.get((self.key(mailbox), master))
        return self._meetings.get(uid) if uid else None

    def _known(self, event: dict, organizer: str) -> list[str]:
        """Attendees that are mailboxes of this tenant (the emulator's), without the organiser."""
        found: list[str] = []
        for attendee in event.get("attendees") or []:
            address = _address(attendee)
            if address in self.calendars.rooms and address != organizer and address not in found:
                found.append(address)
        return found

    def _alive(self, meeting: Meeting, mailbox: str) -> str | None:
        """The attendee's copy id while it exists (a test or the app may have deleted it)."""
        copy_id = meeting.copies.get(mailbox)
        if copy_id is not None and copy_id not in self.calendars._calendar(mailbox):
            meeting.copies.pop(mailbox)
            self._by_event.pop((mailbox, copy_id), None)
            return None
        return copy_id

    def _send(self, to: str, sender: str, kind: str, subject: str, comment: str | None, uid: str | None,
              occurrences: tuple[dt.datetime, ...] = ()) -> None:  # fmt: skip
        starts = tuple(_iso(s) for s in occurrences)
        self.mail.append(Mail(to.lower(), sender.lower(), kind, subject, comment, uid, starts, self.calendars.clock()))

    # --- the organiser's side -----------------------------------------------------------------------
    def organise(self, mailbox: str, body: dict) -> dict:
        """Create a meeting in ``mailbox`` (organised by it) and invite its attendees."""
        cal = self.calendars
        with cal.lock:
            event, created = cal.create(mailbox, body)
            if not created:
                return event
            organizer = self.key(mailbox)
            meeting = Meeting(event["iCalUId"], organizer, event["id"])
            self._meetings[meeting.ical_uid] = meeting
            self._by_event[organizer, event["id"]] = meeting.ical_uid
            for attendee in event.get("attendees") or []:
                attendee["status"] = {"response": "none", "time": "0001-01-01T00:00:00Z"}
            for address in self._known(event, organizer):
                self._invite(meeting, address)
            self._sync_statuses(meeting)
            return cal.stored(mailbox, event["id"])

    def organizer_updated(self, mailbox: str, event_id: str, patch: dict) -> None:
        """Carry an update the organiser made (already stored) to every copy; re-ask rooms on a time change."""
        cal = self.calendars
        with cal.lock:
            meeting = self.meeting_of(mailbox, event_id)
            if meeting is None or meeting.organizer != self.key(mailbox):
                return
            occurrence = split_occurrence_id(event_id)
            if occurrence is not None:
                self._update_occurrence(meeting, occurrence[1], patch)
                return
            event = cal.stored(mailbox, meeting.event_id)
            invited = set(meeting.responses)
            now_invited = self._known(event, meeting.organizer)
            for gone in invited - set(now_invited):
                self._cancel_copy(meeting, gone, None)
                self._send(gone, meeting.organizer, "cancelled", f"Canceled: {event.get('subject', '')}", None,
                           meeting.ical_uid)  # fmt: skip
                meeting.responses.pop(gone, None)
            for address in now_invited:
                if address not in invited:
                    self._invite(meeting, address)
                elif self.kind(address) == "room":
                    moved = bool(_TIME_KEYS & patch.keys()) or meeting.responses.get(address) != "accepted"
                    if moved:
                        self._apply(meeting, address, self._decide(address, event, meeting))
                    else:
                        self._write_copy(meeting, address, event, meeting.responses[address])
                else:
                    self._write_copy(meeting, address, event, None)
            self._sync_statuses(meeting)

    def _update_occurrence(self, meeting: Meeting, start: dt.datetime, patch: dict) -> None:
        # uncertain: a moved occurrence is not re-checked against the room's calendar here
        organizer_event = self.calendars.stored(meeting.organizer, meeting.event_id)
        for address in list(meeting.copies):
            copy_id = self._alive(meeting, address)
            if copy_id is None:
                continue
            change = {k: copy.deepcopy(v) for k, v in patch.items() if k in _COPIED and k != "recurrence"}
            if self.kind(address) == "room":
                fields = room_copy_fields(self.policy(address), {**organizer_event, **patch}, self._name(meeting))
                change.update({k: v for k, v in fields.items() if k in change})
            try:
                self.calendars.update(address, occurrence_id(copy_id, start), change)
            except GraphError:
                continue  # that occurrence is not in the copy (declined or cancelled there)

    def organizer_cancelled(self, mailbox: str, event_id: str, comment: str | None) -> None:
        """The organiser cancels the meeting or one occurrence: copies are told, the organiser's item goes."""
        cal = self.calendars
        with cal.lock:
            meeting = self.meeting_of(mailbox, event_id)
            occurrence = split_occurrence_id(event_id)
            start = occurrence[1] if occurrence else None
            event = cal.get(mailbox, event_id)
            if meeting is not None:
                for address in list(meeting.copies):
                    self._cancel_copy(meeting, address, start)
                for address in meeting.responses:
                    self._send(address, meeting.organizer, "cancelled", f"Canceled: {event.get('subject', '')}",
                               comment, meeting.ical_uid, (start,) if start else ())  # fmt: skip
            cal.delete(mailbox, event_id)

    def _cancel_copy(self, meeting: Meeting, address: str, start: dt.datetime | None) -> None:
        copy_id = self._alive(meeting, address)
        if copy_id is None:
            return
        target = occurrence_id(copy_id, start) if start else copy_id
        try:
            if self.kind(address) == "room" and self.policy(address).remove_canceled_meetings:
                self.calendars.delete(address, target)
                if start is None:
                    self._forget(meeting, address)
                return
            current = self.calendars.get(address, target)
            subject = current.get("subject") or ""
            if not subject.startswith("Canceled: "):
                subject = f"Canceled: {subject}"
            self.calendars.update(address, target, {"isCancelled": True, "subject": subject})
        except GraphError:
            return  # the occurrence is not in that copy

    def _forget(self, meeting: Meeting, address: str) -> None:
        copy_id = meeting.copies.pop(address, None)
        if copy_id is not None:
            self._by_event.pop((address, copy_id), None)

    # --- the attendees' side ------------------------------------------------------------------------
    def _invite(self, meeting: Meeting, address: str) -> None:
        event = self.calendars.stored(meeting.organizer, meeting.event_id)
        if self.kind(address) == "room":
            self._apply(meeting, address, self._decide(address, event, meeting))
            return
        meeting.responses[address] = "none"
        self._write_copy(meeting, address, event, "notResponded")
        self._send(address, meeting.organizer, "meetingRequest", event.get("subject", ""), None, meeting.ical_uid)

    def _name(self, meeting: Meeting) -> str:
        return self.calendars.room(meeting.organizer).display_name

    def _decide(self, room: str, event: dict, meeting: Meeting) -> Decision:
        policy, now = self.policy(room), self.calendars.clock()
        invitation = _invitation(event, policy, now)
        starts = [s for s, _ in invitation.occurrences]
        ends = [e for _, e in invitation.occurrences]
        own = meeting.copies.get(room)
        busy = [
            (to_utc(e["start"]), to_utc(e["end"]))
            for e in self.calendars.calendar_view(room, min(starts), max(ends))
            if (own is None or own not in (e["id"], e.get("seriesMasterId")))
            and not e.get("isCancelled")
            and e.get("showAs") != "free"
            and (e.get("responseStatus") or {}).get("response") != "declined"
        ]
        return decide(policy, invitation, busy, now)

    def _apply(self, meeting: Meeting, room: str, decision: Decision) -> None:
        """Act on the attendant's decision: the room's copy, the organiser's view, the response mail."""
        event = self.calendars.stored(meeting.organizer, meeting.event_id)
        subject = event.get("subject", "")
        response = decision.verdict.value
        meeting.responses[room] = response
        if decision.verdict is Verdict.UNPROCESSED:
            return
        self._send(meeting.organizer, room, response, f"{_LABELS[response]}: {subject}", decision.reason,
                   meeting.ical_uid)  # fmt: skip
        if decision.verdict is Verdict.DECLINE:
            self._retire(meeting, room, None)
            return
        copy_id = self._write_copy(meeting, room, event, response)
        master = self.calendars.stored(room, copy_id)
        for start in decision.declined_occurrences:
            # Set-CalendarProcessing, AllowConflicts: the series is accepted, the conflicting occurrences
            # declined one by one (a mail each); they are not in the room's calendar.
            master["_cancelled"].add(start)
            self._send(meeting.organizer, room, "declined", f"Declined: {subject}",
                       "The resource is already booked for this occurrence.", meeting.ical_uid, (start,))  # fmt: skip

    def _retire(self, meeting: Meeting, room: str, start: dt.datetime | None) -> None:
        """A declined copy: gone, or kept with responseStatus declined (``declined_copies``)."""
        copy_id = self._alive(meeting, room)
        if copy_id is None:
            if start is None and self.declined_copies == "keep":
                self._write_copy(meeting, room, self.calendars.stored(meeting.organizer, meeting.event_id), "declined")
            return
        target = occurrence_id(copy_id, start) if start else copy_id
        if self.declined_copies == "remove":
            self.calendars.delete(room, target)
            if start is None:
                self._forget(meeting, room)
            return
        status = {"response": "declined", "time": _iso(self.calendars.clock())}
        self.calendars.update(room, target, {"responseStatus": status})

    def _write_copy(self, meeting: Meeting, address: str, event: dict, response: str | None) -> str:
        """Create or refresh ``address``'s copy from the organiser's event; returns its id."""
        body = {k: copy.deepcopy(event[k]) for k in _COPIED if k in event}
        if self.kind(address) == "room":
            body.update(room_copy_fields(self.policy(address), event, self._name(meeting)))
        elif response == "notResponded":
            body["showAs"] = "tentative"  # an unanswered invitation holds the time tentatively
        else:
            body.pop("showAs", None)  # the attendee's own choice
        if response is not None:
            body["responseStatus"] = {"response": response, "time": _iso(self.calendars.clock())}
        copy_id = self._alive(meeting, address)
        if copy_id is None:
            created, _ = self.calendars.create(address, body, organizer=copy.deepcopy(event["organizer"]))
            created["iCalUId"] = meeting.ical_uid
            created["responseStatus"] = body.get("responseStatus") or created["responseStatus"]
            created["_cancelled"] = set(event.get("_cancelled") or ())
            meeting.copies[address] = created["id"]
            self._by_event[address, created["id"]] = meeting.ical_uid
            return created["id"]
        current = self.calendars.stored(address, copy_id)
        # only what differs: rewriting an unchanged time would drop the copy's declined occurrences
        change = {k: v for k, v in body.items() if current.get(k) != v}
        self.calendars.update(address, copy_id, change)  # touched even when equal, as the attendant does
        return copy_id

    def respond(self, mailbox: str, event_id: str, response: str, comment: str | None, send: bool) -> None:
        """accept / tentativelyAccept / decline by an attendee (Graph event-accept, event-decline)."""
        cal = self.calendars
        with cal.lock:
            event = cal.get(mailbox, event_id)
            if event.get("isOrganizer"):
                raise GraphError(400, "ErrorInvalidRequest",
                                 "Your request can't be completed. You can't respond to a meeting you organized.")  # fmt: skip
            if event.get("isCancelled"):
                raise GraphError(400, "ErrorInvalidRequest",
                                 "Your request can't be completed. You can't respond to a meeting that's been canceled.")  # fmt: skip
            now = cal.clock()
            key = self.key(mailbox)
            occurrence = split_occurrence_id(event_id)
            start = occurrence[1] if occurrence else None
            meeting = self.meeting_of(mailbox, event_id)
            if response == "declined":
                cal.declines.append(Decline(cal.room(mailbox).email, event_id, comment, send, now))
            if response == "declined" and self.declined_copies == "remove":
                cal.delete(mailbox, event_id)
                if meeting is not None and start is None:
                    self._forget(meeting, key)
            else:
                cal.update(mailbox, event_id, {"responseStatus": {"response": response, "time": _iso(now)}})
            if send:
                self._send(_address(event.get("organizer")), key, response,
                           f"{_LABELS[response]}: {event.get('subject', '')}", comment, event.get("iCalUId"),
                           (start,) if start else ())  # fmt: skip
            if meeting is not None and start is None and key in meeting.responses:
                meeting.responses[key] = response
                self._sync_statuses(meeting)

    def _sync_statuses(self, meeting: Meeting) -> None:
        """The organiser's event shows each attendee's latest answer (attendees[].status)."""
        try:
            event = self.calendars.stored(meeting.organizer, meeting.event_id)
        except GraphError:
            return
        attendees = copy.deepcopy(event.get("attendees") or [])
        changed = False
        for attendee in attendees:
            response = meeting.responses.get(_address(attendee))
            if response is not None and (attendee.get("status") or {}).get("response") != response:
                attendee["status"] = {"response": response, "time": _iso(self.calendars.clock())}
                changed = True
        if changed:
            self.calendars.update(meeting.organizer, meeting.event_id, {"attendees": attendees})


def _invitation(event: dict, policy: CalendarProcessing, now: dt.datetime) -> Invitation:
    """The occurrences the attendant weighs: those inside the booking window (at least the first)."""
    start, end = to_utc(event["start"]), to_utc(event["end"])
    if not event.get("recurrence"):
        return Invitation(((start, end),))
    horizon = now + dt.timedelta(days=policy.booking_window_in_days)
    cancelled = event.get("_cancelled") or set()
    found = [o for o in occurrence_starts(event, start, max(horizon, start) + dt.timedelta(days=400))
             if o[0] not in cancelled]  # fmt: skip
    within = tuple(o for o in found if o[1] <= horizon)
    beyond = len(within) < len(found) or (event["recurrence"].get("range") or {}).get("type") == "noEnd"
    return Invitation(within or tuple(found[:1]) or ((start, end),), recurring=True, beyond_horizon=beyond)
