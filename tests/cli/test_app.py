"""The command itself: the entry point pyproject names, `python -m calsync.cli`, every area's help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

import calsync.cli
from tests.cli.helpers import invoke

ROOT = Path(__file__).resolve().parents[2]


def test_the_script_entry_point_is_a_typer_app() -> None:
    assert 'calsync = "calsync.cli:app"' in (ROOT / "pyproject.toml").read_text()
    assert isinstance(calsync.cli.app, typer.Typer)


def test_python_dash_m_runs_the_command() -> None:
    result = subprocess.run([sys.executable, "-m", "calsync.cli", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name in ("status", "rooms", "dlq", "subscriptions", "demo"):
        assert name in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ["status", "rooms", "dlq", "subscriptions", "demo"]),
        (["rooms"], ["propose", "holds", "release"]),
        (["dlq"], ["list", "replay"]),
        (["subscriptions"], ["list"]),
        (["demo", "--help"], ["--serve", "--booking"]),
        (["rooms", "release", "--help"], ["--discard", "ROOM"]),
    ],
)
async def test_each_area_shows_its_commands(args: list[str], expected: list[str]) -> None:
    result = await invoke(*args)
    for word in expected:
        assert word in result.output


async def test_an_unknown_command_is_a_usage_error() -> None:
    result = await invoke("reconcil")
    assert result.exit_code == 2
