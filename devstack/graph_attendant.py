"""The room's Calendar Attendant (resource booking assistant) of the Graph emulator, as pure functions.

``decide(policy, invitation, busy, now)`` answers one meeting request the way an
Exchange Online room mailbox does with its calendar-processing settings;
``room_copy_fields(policy, event, organizer_name)`` is what the attendant keeps of
the organiser's event in the room's copy. Nothing here touches the calendars: the
caller (graph_meetings.py) gathers the invitation's occurrences and the room's busy
times, and acts on the decision.

Source for every setting and default: Set-CalendarProcessing, Exchange PowerShell
reference (learn.microsoft.com/powershell/module/exchange/set-calendarprocessing;
text in MicrosoftDocs/office-docs-powershell,
exchange/exchange-ps/exchange/Set-CalendarProcessing.md). Behaviours the reference
leaves open are marked "uncertain" where they are decided.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from dataclasses import dataclass

Interval = tuple[dt.datetime, dt.datetime]

# PowerShell parameter names -> field names, so tests can write either spelling.
_POWERSHELL = {
    "AutomateProcessing": "automate_processing",
    "AllowConflicts": "allow_conflicts",
    "BookingWindowInDays": "booking_window_in_days",
    "EnforceSchedulingHorizon": "enforce_scheduling_horizon",
    "MaximumDurationInMinutes": "maximum_duration_in_minutes",
    "AllowRecurringMeetings": "allow_recurring_meetings",
    "ConflictPercentageAllowed": "conflict_percentage_allowed",
    "MaximumConflictInstances": "maximum_conflict_instances",
    "DeleteSubject": "delete_subject",
    "AddOrganizerToSubject": "add_organizer_to_subject",
    "DeleteComments": "delete_comments",
    "RemovePrivateProperty": "remove_private_property",
    "RemoveCanceledMeetings": "remove_canceled_meetings",
}
AUTOMATE_PROCESSING = ("AutoAccept", "AutoUpdate", "None")


@dataclass(frozen=True)
class CalendarProcessing:
    """A room's Set-CalendarProcessing settings; the defaults are Exchange Online's for a room mailbox."""

    # AutoAccept: the resource booking assistant accepts or declines by policy. AutoUpdate: only the
    # Calendar Attendant runs, requests stay tentative until a delegate decides. None: nothing is processed.
    # (Exchange Online rooms made before 15 Nov 2018 in PowerShell default to AutoUpdate.)
    automate_processing: str = "AutoAccept"
    allow_conflicts: bool = False
    booking_window_in_days: int = 180
    # a recurring request reaching past the booking window is declined whole (True is the default)
    enforce_scheduling_horizon: bool = True
    maximum_duration_in_minutes: int = 1440  # 0 means unlimited; per occurrence for a series
    allow_recurring_meetings: bool = True
    conflict_percentage_allowed: int = 0
    maximum_conflict_instances: int = 0
    delete_subject: bool = True
    add_organizer_to_subject: bool = True
    delete_comments: bool = True
    remove_private_property: bool = True
    remove_canceled_meetings: bool = False

    def with_overrides(self, **overrides: object) -> CalendarProcessing:
        """A copy with settings changed; names as fields (allow_conflicts) or PowerShell (AllowConflicts)."""
        fields = {f.name for f in dataclasses.fields(self)}
        changes = {}
        for name, value in overrides.items():
            field = _POWERSHELL.get(name, name)
            if field not in fields:
                raise TypeError(f"unknown calendar-processing setting {name!r}")
            changes[field] = value
        result = dataclasses.replace(self, **changes)
        if result.automate_processing not in AUTOMATE_PROCESSING:
            raise ValueError(f"AutomateProcessing must be one of {AUTOMATE_PROCESSING}")
        return result


class Verdict(enum.Enum):
    ACCEPT = "accepted"
    TENTATIVE = "tentativelyAccepted"  # AutoUpdate: in the calendar, pending a delegate
    DECLINE = "declined"
    UNPROCESSED = "none"  # AutomateProcessing None: no copy, no answer


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str  # what the organiser's response mail says
    declined_occurrences: tuple[dt.datetime, ...] = ()  # a series accepted except these starts


@dataclass(frozen=True)
class Invitation:
    """What the attendant weighs: every occurrence (one for a single meeting), in UTC."""

    occurrences: tuple[Interval, ...]
    recurring: bool = False
    beyond_horizon: bool = False  # the series has occurrences after the booking window (or no end)


def _overlaps(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def decide(policy: CalendarProcessing, invitation: Invitation, busy: list[Interval], now: dt.datetime) -> Decision:
    """The room's answer to a meeting request (or to an update that moves it)."""
    if policy.automate_processing == "None":
        return Decision(Verdict.UNPROCESSED, "Calendar processing is turned off for this room.")
    if policy.automate_processing == "AutoUpdate":
        return Decision(Verdict.TENTATIVE, "Your request was received and is awaiting approval.")
    occurrences = invitation.occurrences
    if invitation.recurring and not policy.allow_recurring_meetings:
        return Decision(Verdict.DECLINE, "Recurring meetings aren't allowed for this resource.")
    limit = dt.timedelta(minutes=policy.maximum_duration_in_minutes)
    if policy.maximum_duration_in_minutes and any(end - start > limit for start, end in occurrences):
        return Decision(
            Verdict.DECLINE,
            f"The meeting is longer than the maximum of {policy.maximum_duration_in_minutes} minutes.",
        )
    horizon = now + dt.timedelta(days=policy.booking_window_in_days)
    # uncertain: whether the window is counted to the meeting's start or its end, and in whole days;
    # here a meeting must end within the window.
    too_far = (invitation.beyond_horizon and policy.enforce_scheduling_horizon) or any(
        end > horizon for _, end in occurrences
    )
    if too_far:
        return Decision(
            Verdict.DECLINE,
            f"The meeting is outside the booking window of {policy.booking_window_in_days} days.",
        )
    if policy.allow_conflicts:
        return Decision(Verdict.ACCEPT, "Your request was accepted.")
    conflicting = tuple(start for start, end in occurrences if any(_overlaps((start, end), b) for b in busy))
    if not conflicting:
        return Decision(Verdict.ACCEPT, "Your request was accepted.")
    if not invitation.recurring:
        return Decision(Verdict.DECLINE, "The resource is already booked for this time.")
    # Set-CalendarProcessing, AllowConflicts: the series is declined when the conflicts exceed either
    # limit; otherwise it is accepted and only the conflicting occurrences are declined.
    share = 100 * len(conflicting) / len(occurrences)
    if len(conflicting) > policy.maximum_conflict_instances or share > policy.conflict_percentage_allowed:
        days = ", ".join(s.date().isoformat() for s in conflicting)
        return Decision(Verdict.DECLINE, f"The resource is already booked on {days}.")
    return Decision(Verdict.ACCEPT, "Your request was accepted.", declined_occurrences=conflicting)


def room_copy_fields(policy: CalendarProcessing, event: dict, organizer_name: str) -> dict:
    """Subject, body and sensitivity of the room's copy of ``event`` (the organiser's Graph JSON)."""
    subject = event.get("subject") or ""
    if policy.delete_subject:
        subject = organizer_name if policy.add_organizer_to_subject else ""
    elif policy.add_organizer_to_subject:
        # uncertain: the reference says the organiser's name "replaces" the subject; rooms seen in
        # practice show "<organiser> <subject>" when only DeleteSubject is off. Modelled as the latter.
        subject = f"{organizer_name} {subject}".strip()
    body = event.get("body") or {"contentType": "text", "content": ""}
    if policy.delete_comments:
        body = {"contentType": body.get("contentType", "text"), "content": ""}
    sensitivity = event.get("sensitivity") or "normal"
    if policy.remove_private_property and sensitivity == "private":
        sensitivity = "normal"
    return {"subject": subject, "body": dict(body), "sensitivity": sensitivity}
