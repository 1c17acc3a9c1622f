"""The mapping row: which Outlook event and which booking are the same reservation, and what calsync last saw.

A plain frozen model (no storage SDK): the pure decision reads it, calsync.store.mappings
stores it in Table Storage.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from pydantic import BaseModel, ConfigDict

from calsync.model.booking import Side


def mapping_id_for(origin: Side, source_id: str) -> str:
    """Deterministic mapping id: a retried first sync of the same item lands on the same row."""
    return hashlib.sha256(f"{origin.value}\x1f{source_id}".encode()).hexdigest()[:32]


class MappingRow(BaseModel):
    """One synchronised reservation as calsync last wrote or saw it on both sides."""

    model_config = ConfigDict(frozen=True)

    room: str
    mapping_id: str
    origin: Side
    outlook_id: str | None = None
    booking_id: str | None = None
    outlook_hash: str | None = None
    booking_hash: str | None = None
    outlook_version: str | None = None
    booking_version: str | None = None
    series: bool = False
    outlook_role: str | None = None  # who organises the Outlook item (calsync.sync.state.OrganizerRole)
    outlook_organizer_id: str | None = None  # service-mailbox mode: the organiser's event (outlook_id: the room's copy)
    cancelled: bool = False  # soft-cancelled on both sides; kept so a re-confirmed booking updates its copy
    origin_created_at: dt.datetime | None = None  # when the origin was created (first-come compares these)
    generation: int = 0  # bumped when a copy deleted behind calsync's back is created again (a fresh create key)
    # the booking side's slot as calsync last wrote or saw it (calsync.model.content_hash.slot_hash): an Outlook
    # edit that keeps it (a new title, say) meets no new rival there, so its webhook hint lists none (#16)
    slot: str | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    etag: str | None = None

    def id_on(self, side: Side) -> str | None:
        return self.outlook_id if side is Side.OUTLOOK else self.booking_id

    def hash_on(self, side: Side) -> str | None:
        return self.outlook_hash if side is Side.OUTLOOK else self.booking_hash

    def version_on(self, side: Side) -> str | None:
        return self.outlook_version if side is Side.OUTLOOK else self.booking_version


def bare_version(version: str) -> str:
    """A version as an ETag (W/"x", "x") or bare (x), bare: Graph's ``@odata.etag`` is the weak ETag of a changeKey."""
    version = version.removeprefix("W/")
    return version[1:-1] if len(version) >= 2 and version[0] == version[-1] == '"' else version


def same_version(stored: str | None, hinted: str | None) -> bool:
    """Two versions of one item, as an ETag (W/"x", "x") or bare (x), name the same version."""
    return bool(stored) and bool(hinted) and bare_version(stored) == bare_version(hinted)  # type: ignore[arg-type]


def likely_mapping_id(side: Side, item_id: str, stamp: str | None) -> str:
    """The main row that most likely maps this item: its origin's (a stamped copy) or its own."""
    return mapping_id_for(side.other, stamp) if stamp else mapping_id_for(side, item_id)
