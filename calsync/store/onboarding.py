"""The Onboarding table: per room, the last dry run's plan and the progress of its onboarding.

Partition = the encoded room key; row "plan" holds the plan (calsync.onboarding.plan)
as zlib-compressed JSON (a binary property holds up to 64 KiB: some thousand items),
row "progress" what the onboarding job is doing (``OnboardingProgress``), which the
CLI polls while the job runs in Azure.
"""

from __future__ import annotations

import datetime as dt
import zlib

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from pydantic import BaseModel, ConfigDict

from calsync.errors import ValidationError
from calsync.store.client import TableStore, translate_errors
from calsync.store.keys import encode_key

MAX_PLAN_BYTES = 64 * 1024


class OnboardingProgress(BaseModel):
    """Where one room's onboarding stands: step (planning, planned, applying, live, refused, failed), counts."""

    model_config = ConfigDict(frozen=True)

    room: str
    request_id: str = ""
    step: str
    done: int = 0
    total: int = 0
    message: str = ""
    updated_at: dt.datetime

    @property
    def finished(self) -> bool:
        return self.step in ("planned", "live", "refused", "failed")


class OnboardingStore:
    def __init__(self, tables: TableStore) -> None:
        self._table = tables.table("Onboarding")

    async def save_plan(self, room: str, plan_json: str) -> None:
        packed = zlib.compress(plan_json.encode("utf-8"), 9)
        if len(packed) > MAX_PLAN_BYTES:
            raise ValidationError(f"the onboarding plan of room {room} is too large to store ({len(packed)} bytes "
                                  "compressed); narrow the sync window", room=room)  # fmt: skip
        entity = {"PartitionKey": encode_key(room), "RowKey": "plan", "plan": packed}
        async with translate_errors(f"saving the onboarding plan of room {room}"):
            await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def load_plan(self, room: str) -> str | None:
        async with translate_errors(f"reading the onboarding plan of room {room}"):
            try:
                entity = await self._table.get_entity(encode_key(room), "plan")
            except ResourceNotFoundError:
                return None
        return zlib.decompress(bytes(entity["plan"])).decode("utf-8")

    async def set_progress(self, progress: OnboardingProgress) -> None:
        entity = progress.model_dump(mode="python", exclude={"room"})
        entity.update(PartitionKey=encode_key(progress.room), RowKey="progress")
        async with translate_errors(f"saving the onboarding progress of room {progress.room}"):
            await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def progress(self, room: str) -> OnboardingProgress | None:
        async with translate_errors(f"reading the onboarding progress of room {room}"):
            try:
                entity = await self._table.get_entity(encode_key(room), "progress")
            except ResourceNotFoundError:
                return None
        data = {k: v for k, v in entity.items() if k not in ("PartitionKey", "RowKey")}
        return OnboardingProgress(room=room, **data)
