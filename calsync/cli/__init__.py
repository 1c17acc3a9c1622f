"""calsync's operator command line (`calsync ...`, or `python -m calsync.cli ...`).

``app`` is the Typer application ([project.scripts] calsync = "calsync.cli:app"); the
commands live one area per module (see calsync.cli.app), their logic in calsync.operations.
"""

from calsync.cli.app import app

__all__ = ["app"]
