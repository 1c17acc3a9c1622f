"""The rooms CSV of `calsync rooms import rooms.csv`: one room per line, with a header.

Columns (header names, any order; extra columns are ignored)::

    key,mailbox,booking_room_id,name
    atlas,room-a@contoso.example,R-100,Atlas
    ,room-b@contoso.example,R-200,Borealis      <- no key: derived from the mailbox

``mailbox`` and ``booking_room_id`` are required; ``key`` defaults to the slug of the
mailbox's local part (as `calsync rooms propose` derives it). Every problem is reported
with its line number in one ValidationError, and nothing is imported from a bad file.
"""

from __future__ import annotations

import csv
import io

from pydantic import ValidationError as PydanticValidationError

from calsync.errors import ValidationError
from calsync.settings import Room

REQUIRED = ("mailbox", "booking_room_id")


def slug_key(mailbox: str) -> str:
    from calsync.rooms.keys import slugify  # the one slug rule, shared with `rooms propose`

    return slugify(mailbox.split("@", 1)[0])


def parse_rooms_csv(text: str) -> list[Room]:
    """The rooms of a CSV text; ValidationError listing every bad line (and duplicate keys, mailboxes, ids)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise ValidationError(f"the rooms CSV needs the column(s) {', '.join(missing)} (header: key,mailbox,"
                              "booking_room_id,name)")  # fmt: skip
    rooms: list[Room] = []
    problems: list[str] = []
    seen: dict[str, dict[str, int]] = {"key": {}, "mailbox": {}, "booking_room_id": {}}
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
        if not any(row.values()):
            continue
        try:
            room = Room(key=row.get("key") or slug_key(row.get("mailbox", "")), mailbox=row.get("mailbox", ""),
                        booking_room_id=row.get("booking_room_id", ""), name=row.get("name") or None)  # fmt: skip
        except PydanticValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            problems.append(f"line {line}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
            continue
        for field, value in (("key", room.key), ("mailbox", room.mailbox.casefold()),
                             ("booking_room_id", room.booking_room_id)):  # fmt: skip
            if value in seen[field]:
                problems.append(f"line {line}: {field} {value} already on line {seen[field][value]}")
            seen[field].setdefault(value, line)
        rooms.append(room)
    if problems:
        raise ValidationError("the rooms CSV has problems: " + "; ".join(problems[:20])
                              + (f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""))  # fmt: skip
    return rooms
