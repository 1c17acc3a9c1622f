"""The dry run's files: per room ``<room>.json`` (the whole plan) and ``<room>.csv`` (one row per item)."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

from calsync.onboarding.plan import PlanRow, RoomPlan

COLUMNS = [f.name for f in dataclasses.fields(PlanRow)]


def write_report(plan: RoomPlan, directory: Path) -> tuple[Path, Path]:
    """Write the plan of one room as JSON and CSV into ``directory`` (created); returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    as_json, as_csv = directory / f"{plan.room}.json", directory / f"{plan.room}.csv"
    as_json.write_text(plan.to_json(), encoding="utf-8")
    with as_csv.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for row in plan.rows:
            writer.writerow(dataclasses.asdict(row))
    return as_json, as_csv
