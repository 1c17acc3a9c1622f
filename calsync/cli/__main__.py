"""`python -m calsync.cli`: the same command as the installed `calsync` script."""

from calsync.cli.app import app

app(prog_name="calsync")
