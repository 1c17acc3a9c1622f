"""The pure sync decision, case by case: each test is one row of the decision table."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from calsync.model import Booking, BookingStatus, Sensitivity, Side, content_hash
from calsync.model.mapping import MappingRow
from calsync.settings import ConflictPolicy
from calsync.sync.actions import ActionKind
from calsync.sync.plan import decide, plan
from calsync.sync.state import Facts, ItemState, OrganizerRole, Policy, TargetView
from calsync.sync.translate import desired_copy, same_reservation

T0 = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
POLICY = Policy()


def booking(subject: str = "Board meeting", hours: int = 0, **extra) -> Booking:
    return Booking(room="room-a", subject=subject, start=T0 + dt.timedelta(hours=hours),
                   end=T0 + dt.timedelta(hours=hours + 1), **extra)  # fmt: skip


def item(side: Side, item_id: str, b: Booking | None, created: int = 0) -> ItemState:
    return ItemState(side=side, item_id=item_id, booking=b, content_hash=content_hash(b) if b else None,
                     created_at=T0 - dt.timedelta(days=10 - created))  # fmt: skip


def mapping(outlook: Booking, booking_side: Booking) -> MappingRow:
    return MappingRow(room="room-a", mapping_id="m1", origin=Side.OUTLOOK, outlook_id="O1", booking_id="B1",
                      outlook_hash=content_hash(outlook), booking_hash=content_hash(booking_side),
                      created_at=T0, updated_at=T0)  # fmt: skip


def test_new_source_is_created_on_the_other_side() -> None:
    action = plan(item(Side.OUTLOOK, "O1", booking()), None, TargetView(), POLICY)
    assert action.kind is ActionKind.CREATE


def test_unchanged_source_is_an_echo_and_writes_nothing() -> None:
    b = booking()
    action = plan(item(Side.OUTLOOK, "O1", b), mapping(b, b), TargetView(), POLICY)
    assert action.kind is ActionKind.SKIP_ECHO and not action.writes


def test_changed_source_updates_its_copy() -> None:
    old, new = booking(), booking("Board meeting (moved)", hours=2)
    copy = item(Side.BOOKING, "B1", old)
    action = plan(item(Side.OUTLOOK, "O1", new), mapping(old, old), TargetView(counterpart=copy), POLICY)
    assert action.kind is ActionKind.UPDATE and action.counterpart == copy


@pytest.mark.parametrize("gone", [None, booking(status=BookingStatus.CANCELLED)])
def test_deleted_or_cancelled_source_deletes_its_copy_where_the_booking_system_only_deletes(
    gone: Booking | None,
) -> None:
    b = booking()
    copy = item(Side.BOOKING, "B1", b)
    action = plan(item(Side.OUTLOOK, "O1", gone), mapping(b, b), TargetView(counterpart=copy), Policy(soft_cancel=False))
    assert action.kind is ActionKind.DELETE


@pytest.mark.parametrize("gone", [None, booking(status=BookingStatus.CANCELLED)])
def test_deleted_or_cancelled_source_cancels_its_booking_copy(gone: Booking | None) -> None:
    b = booking()
    copy = item(Side.BOOKING, "B1", b)
    action = plan(item(Side.OUTLOOK, "O1", gone), mapping(b, b), TargetView(counterpart=copy), POLICY)
    assert action.kind is ActionKind.CANCEL and action.counterpart == copy


def test_both_gone_forgets_the_mapping() -> None:
    b = booking()
    assert plan(item(Side.OUTLOOK, "O1", None), mapping(b, b), TargetView(), POLICY).kind is ActionKind.FORGET


def test_gone_and_never_synced_is_nothing() -> None:
    assert plan(item(Side.OUTLOOK, "O1", None), None, TargetView(), POLICY).kind is ActionKind.SKIP_UNCHANGED


def test_stamped_copy_without_mapping_is_adopted_not_duplicated() -> None:
    source = booking()
    copy = item(Side.BOOKING, "B1", desired_copy(source, private_subject=POLICY.private_subject))
    action = plan(item(Side.OUTLOOK, "O1", source), None, TargetView(counterpart=copy), POLICY)
    assert action.kind is ActionKind.ADOPT


def test_stamped_copy_with_older_content_is_updated_not_duplicated() -> None:
    copy = item(Side.BOOKING, "B1", booking("old title"))
    action = plan(item(Side.OUTLOOK, "O1", booking("new title")), None, TargetView(counterpart=copy), POLICY)
    assert action.kind is ActionKind.UPDATE


def test_copy_deleted_behind_calsyncs_back_is_recreated() -> None:
    old, new = booking(), booking("changed")
    action = plan(item(Side.OUTLOOK, "O1", new), mapping(old, old), TargetView(counterpart=None), POLICY)
    assert action.kind is ActionKind.CREATE


@pytest.mark.parametrize(
    ("policy", "source_created", "rival_created", "expected"),
    [
        (ConflictPolicy.FIRST_COME, 1, 0, ActionKind.DECLINE),  # rival was first: source declined
        (ConflictPolicy.FIRST_COME, 0, 1, ActionKind.CONFLICT),  # source was first: rival declined
        (ConflictPolicy.OUTLOOK_WINS, 1, 0, ActionKind.CONFLICT),  # source is Outlook
        (ConflictPolicy.BOOKING_WINS, 0, 1, ActionKind.DECLINE),  # rival is the booking system
    ],
)
def test_overlap_is_resolved_by_policy(policy, source_created, rival_created, expected) -> None:
    source = item(Side.OUTLOOK, "O1", booking("Outlook meeting"), created=source_created)
    rival = item(Side.BOOKING, "B9", booking("Booked in the system"), created=rival_created)
    action = plan(source, None, TargetView(overlapping=[rival]), Policy(conflict_policy=policy))
    assert action.kind is expected
    losers = [action.loser] if expected is ActionKind.DECLINE else list(action.losers)
    assert [loser.origin for loser in losers] == [source if expected is ActionKind.DECLINE else rival]
    assert "already booked" in action.reason


def test_private_subject_never_reaches_the_copy() -> None:
    source = booking("Layoffs planning", sensitivity=Sensitivity.PRIVATE)
    copy = desired_copy(source, private_subject="Private booking")
    assert copy.subject == "Private booking" and copy.sensitivity is Sensitivity.PRIVATE
    assert same_reservation(source, copy, private_subject="Private booking")
    assert not same_reservation(source, source, private_subject="Private booking")  # the subject would leak


def _edited_outlook_original(copy_version: str) -> tuple[Facts, ItemState]:
    """An edit of an Outlook original whose booking copy the listing around it shows at ``copy_version``."""
    from calsync.model import ChangeHint, HintReason
    from calsync.sync.guard import HoldState
    from calsync.sync.state import HoldView

    old, new = booking(), booking("Board meeting (agenda)")
    row = mapping(old, old).model_copy(update={"booking_version": "v1", "outlook_role": "room"})
    hint = ChangeHint(source=Side.OUTLOOK, room="room-a", item_id="O1", reason=HintReason.WEBHOOK, observed_at=T0)
    listed = dataclasses.replace(item(Side.BOOKING, "B1", old), version=copy_version, stamp="O1")
    facts = Facts(hint=hint, now=T0, window=(T0 - dt.timedelta(days=30), T0 + dt.timedelta(days=30)),
                  hold=HoldView(HoldState.NONE), source=item(Side.OUTLOOK, "O1", new), mapping=row,
                  mapping_read=True, listing=(listed,))  # fmt: skip
    return facts, listed


def test_a_copy_listed_at_the_version_calsync_wrote_is_updated_without_reading_it_again() -> None:
    facts, listed = _edited_outlook_original("v1")
    action = decide(facts, POLICY)
    assert action.kind is ActionKind.UPDATE and action.counterpart == listed  # its content known: no GET first


def test_a_copy_listed_at_another_version_is_written_against_the_version_calsync_wrote() -> None:
    facts, _ = _edited_outlook_original("v2")  # someone changed the copy since: If-Match on v1 finds out
    action = decide(facts, POLICY)
    assert action.kind is ActionKind.UPDATE and not action.counterpart.read and action.counterpart.version == "v1"


def _hint_facts(version: str | None, stored: str, *, series: bool = False, kind: str = "updated") -> Facts:
    """A hint for Outlook event O1 carrying ``version``, its mapping read, the event not read yet."""
    from calsync.model import ChangeHint, ChangeKind
    from calsync.sync.guard import HoldState
    from calsync.sync.state import HoldView

    b = booking()
    row = mapping(b, b).model_copy(update={"outlook_version": stored, "series": series})
    hint = ChangeHint(source=Side.OUTLOOK, room="room-a", item_id="O1", observed_at=T0, version=version,
                      change_kind=ChangeKind(kind))
    return Facts(hint=hint, now=T0, window=(T0, T0 + dt.timedelta(days=30)), hold=HoldView(HoldState.NONE),
                 hinted=row, hinted_read=True)  # fmt: skip


def test_a_notification_of_the_version_calsync_wrote_is_its_echo_and_nothing_is_read() -> None:
    action = decide(_hint_facts('W/"ck-2"', "ck-2"), POLICY)  # Graph's @odata.etag, the stored changeKey
    assert action.kind is ActionKind.SKIP_ECHO and not action.writes


@pytest.mark.parametrize(("version", "series", "kind"), [('W/"ck-3"', False, "updated"), (None, False, "updated"),
                                                         ('W/"ck-2"', True, "updated"), ('W/"ck-2"', False, "deleted"),
                                                         ('W/"ck-2"', False, "unknown")])  # fmt: skip
def test_another_version_a_series_or_a_deletion_reads_the_item(version: str | None, series: bool, kind: str) -> None:
    # a series' exceptions change without a new version of its master; a deletion names the last version
    step = decide(_hint_facts(version, "ck-2", series=series, kind=kind), POLICY)
    assert type(step).__name__ == "ReadSource"


@pytest.mark.parametrize(("kind", "expected"), [("updated", "ReadSourceAndMapping"), ("created", "ReadSourceAndMapping"),
                                                ("deleted", "ReadSource")])  # fmt: skip
def test_an_item_the_rooms_memory_does_not_know_has_source_and_mapping_read_at_once(kind: str, expected: str) -> None:
    # its mapping comes from the table anyway: both requests in flight together (a deletion's hint names no
    # new version, so it is not checked against the memory first and reads as before)
    facts = dataclasses.replace(_hint_facts('W/"ck-3"', "ck-2", kind=kind), hinted=None)
    assert type(decide(facts, POLICY)).__name__ == expected


def _outlook_edit(new: Booking, *, reason: str = "webhook", slot_of: Booking | None = None) -> Facts:
    """An Outlook original O1 edited to ``new``; its copy B1 was written holding ``slot_of``'s slot (default: the old one)."""
    from calsync.model import ChangeHint, HintReason
    from calsync.model.content_hash import slot_hash
    from calsync.sync.guard import HoldState
    from calsync.sync.state import HoldView

    old = booking()
    row = mapping(old, old).model_copy(update={"booking_version": "v1", "outlook_role": "room",
                                               "slot": slot_hash(slot_of or old)})  # fmt: skip
    hint = ChangeHint(source=Side.OUTLOOK, room="room-a", item_id="O1", reason=HintReason(reason), observed_at=T0)
    return Facts(hint=hint, now=T0, window=(T0 - dt.timedelta(days=30), T0 + dt.timedelta(days=30)),
                 hold=HoldView(HoldState.NONE), source=item(Side.OUTLOOK, "O1", new), mapping=row,
                 mapping_read=True)  # fmt: skip


def test_a_retitled_original_whose_copy_holds_its_slot_updates_the_copy_without_listing_the_room() -> None:
    action = decide(_outlook_edit(booking("Board meeting (agenda)")), POLICY)
    assert action.kind is ActionKind.UPDATE and action.counterpart.item_id == "B1" and not action.counterpart.read


@pytest.mark.parametrize("new", [booking(hours=1), booking(status=BookingStatus.TENTATIVE)], ids=["moved", "tentative"])
def test_an_edit_that_changes_the_slot_lists_the_room_for_rivals(new: Booking) -> None:
    assert type(decide(_outlook_edit(new), POLICY)).__name__ == "ListAround"


@pytest.mark.parametrize("reason", ["reconcile", "replay"])
def test_reconcile_and_replays_always_list_the_room(reason: str) -> None:
    step = decide(_outlook_edit(booking("Board meeting (agenda)"), reason=reason), POLICY)
    assert type(step).__name__ == "ListAround"


def test_an_edit_back_into_a_slot_the_copy_does_not_hold_lists_the_room() -> None:
    # the copy was written elsewhere (say without the dates it lost): the mapping's slot is not the source's
    step = decide(_outlook_edit(booking("Board meeting (agenda)"), slot_of=booking(hours=2)), POLICY)
    assert type(step).__name__ == "ListAround"


def test_a_moved_copy_goes_back_to_its_originals_slot_only_after_a_listing() -> None:
    # the copy of a person's meeting was moved in the booking system: reverting it re-takes the original's
    # slot, which may be booked by now, so the room is listed first even though the mapping's slot is that one
    from calsync.model import ChangeHint, HintReason
    from calsync.model.content_hash import slot_hash
    from calsync.sync.guard import HoldState
    from calsync.sync.state import HoldView

    old, moved = booking(), booking(hours=3)
    row = mapping(old, old).model_copy(update={"booking_version": "v1", "outlook_role": "person",
                                               "slot": slot_hash(old)})  # fmt: skip
    hint = ChangeHint(source=Side.BOOKING, room="room-a", item_id="B1", reason=HintReason.WEBHOOK, observed_at=T0)
    facts = Facts(hint=hint, now=T0, window=(T0 - dt.timedelta(days=30), T0 + dt.timedelta(days=30)),
                  hold=HoldView(HoldState.NONE), source=dataclasses.replace(item(Side.BOOKING, "B1", moved),
                                                                            version="v2"),
                  mapping=row, mapping_read=True, origin_read=True,
                  origin=dataclasses.replace(item(Side.OUTLOOK, "O1", old), role=OrganizerRole.PERSON))  # fmt: skip
    assert type(decide(facts, POLICY)).__name__ == "ListAround"
    retitled = dataclasses.replace(facts, source=dataclasses.replace(item(Side.BOOKING, "B1", booking("Renamed")),
                                                                     version="v2"))  # fmt: skip
    assert decide(retitled, POLICY).kind is ActionKind.UPDATE  # a retitled copy still holds the slot: reverted at once


@pytest.mark.parametrize(("kind", "expected"), [("updated", "SkipEcho"), ("deleted", "ReadSource")])
def test_a_version_this_process_wrote_outside_the_rooms_memory_is_its_echo(kind: str, expected: str) -> None:
    # a backfill wrote the row in bulk: the session memory never held it, the record of own writes does
    facts = dataclasses.replace(_hint_facts('W/"ck-3"', "ck-2", kind=kind), hinted=None, hinted_written=True)
    assert type(decide(facts, POLICY)).__name__ == expected
