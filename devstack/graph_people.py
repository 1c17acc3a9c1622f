"""Test-facing people, service mailboxes and room settings of the Graph emulator (a GraphEmulator mixin).

What a person does in Outlook, as Python calls (never recorded as calsync's writes)::

    graph.add_room("hall@contoso.example")
    graph.add_person("ada@contoso.example", "Ada Lovelace")          # optional: organisers are added on use
    graph.add_service_mailbox("butler@contoso.example", "Butler")
    graph.set_calendar_processing("hall@contoso.example", AllowConflicts=True)  # or allow_conflicts=True
    graph.declined_copies = "remove"                                 # or "keep" (the default)

    made = graph.person_create_meeting("ada@contoso.example", "Design review", start, end,
                                       rooms=["hall@contoso.example"])
    made.organizer_event_id, made.room_copy_ids["hall@contoso.example"]   # None when declined and gone
    graph.person_update_meeting("ada@contoso.example", made.organizer_event_id, start=..., end=...)
    graph.person_cancel_occurrence("ada@contoso.example", series_id, occurrence_start, "Holiday")
    graph.person_cancel_meeting("ada@contoso.example", made.organizer_event_id, "Not needed")

    graph.mail_for("ada@contoso.example")     # [Mail(kind="accepted"|"declined"|..., comment=...)]
    graph.ownership_violations                # calsync's writes to items it does not own: assert == []

``start``/``end`` are aware datetimes (written in ``time_zone``) or Graph dateTimeTimeZone
dicts. ``recurrence`` is Graph's patternedRecurrence JSON.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from devstack.graph_attendant import CalendarProcessing
from devstack.graph_calendars import Calendars, Room, occurrence_id, render
from devstack.graph_meetings import DECLINED_COPIES, Mail, Meetings, Violation
from devstack.graph_recurrence import zone


class MeetingMade(NamedTuple):
    organizer_event_id: str
    room_copy_ids: dict[str, str | None]  # room -> the id of its copy, None when there is none


def _when(value: dt.datetime | dict, time_zone: str) -> dict:
    if isinstance(value, dict):
        return dict(value)
    if value.tzinfo is None:
        raise ValueError("meeting times must be aware datetimes (or Graph dateTimeTimeZone dicts)")
    local = value.astimezone(zone(time_zone)).replace(tzinfo=None)
    return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": time_zone}


def _attendees(rooms: list[str], people: list[str]) -> list[dict]:
    made = [{"type": "resource", "emailAddress": {"address": r, "name": r.split("@")[0]}} for r in rooms]
    made += [{"type": "required", "emailAddress": {"address": p, "name": p.split("@")[0]}} for p in people]
    return made


class PeopleAPI:
    """Mixed into GraphEmulator: ``calendars`` and ``meetings`` are its state."""

    calendars: Calendars
    meetings: Meetings

    # --- mailboxes and settings -------------------------------------------------------------------
    def add_person(self, email: str, display_name: str | None = None) -> Room:
        return self.calendars.add_room(email, display_name, kind="person")

    def add_service_mailbox(self, email: str, display_name: str | None = None) -> Room:
        """A mailbox calsync controls (issue #14): its meetings invite rooms like a person's do."""
        return self.calendars.add_room(email, display_name, kind="service")

    def set_calendar_processing(self, room: str, **overrides: object) -> CalendarProcessing:
        """Set-CalendarProcessing for one room: field or PowerShell names (AllowConflicts=True)."""
        return self.meetings.set_policy(room, **overrides)

    def calendar_processing(self, room: str) -> CalendarProcessing:
        return self.meetings.policy(room)

    @property
    def declined_copies(self) -> str:
        """What a room's declined copy does: "keep" (stays, responseStatus declined) or "remove"."""
        return self.meetings.declined_copies

    @declined_copies.setter
    def declined_copies(self, value: str) -> None:
        if value not in DECLINED_COPIES:
            raise ValueError(f"declined_copies must be one of {DECLINED_COPIES}")
        self.meetings.declined_copies = value

    # --- a person (or the service mailbox's owner) in Outlook ------------------------------------------
    def _organizer(self, email: str) -> str:
        if email.lower() not in self.calendars.rooms:
            self.add_person(email)
        return self.meetings.key(email)

    def person_create_meeting(
        self,
        organizer: str,
        subject: str,
        start: dt.datetime | dict,
        end: dt.datetime | dict,
        *,
        rooms: list[str] | tuple[str, ...] = (),
        attendees: list[str] | tuple[str, ...] = (),
        recurrence: dict | None = None,
        private: bool = False,
        body: str | None = None,
        time_zone: str = "UTC",
        show_as: str = "busy",
    ) -> MeetingMade:
        """A meeting ``organizer`` sends inviting ``rooms`` (as resources) and ``attendees``."""
        key = self._organizer(organizer)
        event = {
            "subject": subject,
            "start": _when(start, time_zone),
            "end": _when(end, time_zone),
            "attendees": _attendees(list(rooms), list(attendees)),
            "sensitivity": "private" if private else "normal",
            "showAs": show_as,
            "body": {"contentType": "text", "content": body or ""},
        }
        if recurrence is not None:
            event["recurrence"] = recurrence
        made = self.meetings.organise(key, event)
        return MeetingMade(made["id"], self.copies_of(key, made["id"], rooms))

    def copies_of(self, organizer: str, event_id: str, mailboxes: list[str] | tuple[str, ...] | None = None) -> dict:
        """{attendee mailbox: its copy's id or None} for a meeting ``organizer`` organises."""
        with self.calendars.lock:
            meeting = self.meetings.meeting_of(organizer, event_id)
            copies = dict(meeting.copies) if meeting else {}
            wanted = [m.lower() for m in mailboxes] if mailboxes is not None else list(copies)
            return {m: copies.get(m) for m in wanted}

    def person_update_meeting(
        self,
        organizer: str,
        event_id: str,
        patch: dict | None = None,
        *,
        subject: str | None = None,
        start: dt.datetime | dict | None = None,
        end: dt.datetime | dict | None = None,
        rooms: list[str] | None = None,
        attendees: list[str] | None = None,
        time_zone: str = "UTC",
    ) -> dict:
        """The organiser edits the meeting (or one occurrence, by its instance id); copies follow."""
        change = dict(patch or {})
        if subject is not None:
            change["subject"] = subject
        if start is not None:
            change["start"] = _when(start, time_zone)
        if end is not None:
            change["end"] = _when(end, time_zone)
        if rooms is not None or attendees is not None:
            current = self.calendars.get(organizer, event_id).get("attendees") or []
            keep_rooms = [a["emailAddress"]["address"] for a in current if a.get("type") == "resource"]
            keep_people = [a["emailAddress"]["address"] for a in current if a.get("type") != "resource"]
            change["attendees"] = _attendees(rooms if rooms is not None else keep_rooms,
                                             attendees if attendees is not None else keep_people)  # fmt: skip
        with self.calendars.lock:
            self.calendars.update(organizer, event_id, change)
            self.meetings.organizer_updated(organizer, event_id, change)
            return render(self.calendars.get(organizer, event_id), "UTC", {"*"})

    def person_cancel_meeting(self, organizer: str, event_id: str, comment: str | None = None) -> None:
        """The organiser cancels the meeting (or an occurrence, by its instance id), with a comment."""
        self.meetings.organizer_cancelled(organizer, event_id, comment)

    def person_cancel_occurrence(
        self, organizer: str, series_id: str, occurrence_start: dt.datetime, comment: str | None = None
    ) -> None:
        """The organiser cancels one occurrence of a series, named by its original start."""
        start = occurrence_start.astimezone(dt.UTC)
        self.meetings.organizer_cancelled(organizer, occurrence_id(series_id, start), comment)

    def person_respond(self, mailbox: str, event_id: str, response: str, comment: str | None = None) -> None:
        """An attendee answers: response is "accepted", "tentativelyAccepted" or "declined"."""
        self.meetings.respond(mailbox, event_id, response, comment, True)

    # --- what people received, and what calsync should not have done -------------------------------
    def mail_for(self, mailbox: str) -> list[Mail]:
        """Messages delivered to ``mailbox`` (responses, invitations, cancellations), oldest first."""
        with self.calendars.lock:
            return [m for m in self.meetings.mail if m.to == mailbox.lower()]

    @property
    def ownership_violations(self) -> list[Violation]:
        """calsync's app writes to items it does not own (graph_ownership.py); tests assert it is empty."""
        with self.calendars.lock:
            return list(self.meetings.violations)
