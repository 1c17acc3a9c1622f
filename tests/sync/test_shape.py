"""The decision is pure and the engine only loops: checked on the modules themselves, not by convention."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

SYNC = Path(__file__).resolve().parents[2] / "calsync" / "sync"
IO_PACKAGES = {"azure", "msgraph", "kiota_abstractions", "kiota_http", "httpx", "aiohttp", "requests",
               "sqlalchemy", "psycopg", "opentelemetry", "calsync.store", "calsync.outlook", "calsync.booking"}  # fmt: skip


def _modules_imported_by(module: str) -> list[str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,  # noqa: S603
                         cwd=SYNC.parents[1])  # fmt: skip
    return json.loads(out.stdout)


def _io_modules(loaded: list[str]) -> list[str]:
    return [m for m in loaded if any(m == p or m.startswith(p + ".") for p in IO_PACKAGES)]


def test_the_decision_imports_no_sdk_and_no_io_module() -> None:
    assert _io_modules(_modules_imported_by("calsync.sync.plan")) == []


def test_the_guard_imports_no_sdk_and_no_io_module() -> None:
    assert _io_modules(_modules_imported_by("calsync.sync.guard")) == []


def test_the_engine_never_branches_on_the_kind_of_action() -> None:
    tree = ast.parse((SYNC / "engine.py").read_text())
    action_names = {"ActionKind", "Create", "Update", "Delete", "Decline", "Conflict", "Adopt", "Forget",
                    "SkipEcho", "SkipUnchanged", "Held", "TripGuard"}  # fmt: skip
    branches = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If | ast.IfExp | ast.Match | ast.While):
            names = {n.id for n in ast.walk(node.test if not isinstance(node, ast.Match) else node.subject)
                     if isinstance(n, ast.Name)}  # fmt: skip
            attrs = {n.attr for n in ast.walk(node.test if not isinstance(node, ast.Match) else node.subject)
                     if isinstance(n, ast.Attribute)}  # fmt: skip
            if names & action_names or "kind" in attrs:
                branches.append(ast.unparse(node.test if not isinstance(node, ast.Match) else node.subject))
    assert branches == []


def test_every_action_is_a_metric_the_telemetry_knows() -> None:
    """An action whose telemetry name the metrics do not know fails every hint that takes it (found by the machine)."""
    from calsync.sync import actions
    from calsync.telemetry.metrics import SyncAction

    kinds = [c for c in vars(actions).values() if isinstance(c, type) and issubclass(c, actions.Action)
             and "kind" in vars(c) and c.kind not in (actions.ActionKind.HELD, actions.ActionKind.TRIP_GUARD)]  # fmt: skip
    assert [c.__name__ for c in kinds if c.telemetry not in {a.value for a in SyncAction}] == []
