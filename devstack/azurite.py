"""Starts and stops Azurite's Table service (the npm package pinned in package.json) on loopback.

Used by the test suite and the local run. Azurite runs with in-memory persistence
on a free port, so every start is empty and nothing is left on disk. The caller
gets the connection string; ``stop()`` ends the process and its children.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from calsync.errors import ConfigurationError
from calsync.settings import azurite_connection_string

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _azurite_binary() -> str:
    local = PROJECT_ROOT / "node_modules" / ".bin" / "azurite-table"
    if local.exists():
        return str(local)
    found = shutil.which("azurite-table")
    if found:
        return found
    raise ConfigurationError("Azurite is not installed: run `make setup` (npm ci installs the pinned azurite)")


@dataclass
class AzuriteTables:
    """A running Azurite Table service."""

    port: int
    process: subprocess.Popen[bytes]
    workdir: str
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = Path(self.workdir) / "azurite.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.endpoint)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_azurite_tables(timeout: float = 30.0) -> AzuriteTables:
    """Launch Azurite's Table service on a free loopback port and wait until it accepts connections."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="calsync-azurite-")
    log = open(Path(workdir) / "azurite.log", "wb")  # noqa: SIM115 - handed to the child process
    args = [
        _azurite_binary(),
        "--tableHost", "127.0.0.1",
        "--tablePort", str(port),
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--disableProductStyleUrl",
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603
        args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True
    )
    running = AzuriteTables(port=port, process=process, workdir=workdir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = running.log_path.read_text(errors="replace")[-2000:]
            running.stop()
            raise ConfigurationError(f"Azurite exited with code {process.returncode}: {output}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return running
        time.sleep(0.1)
    running.stop()
    raise ConfigurationError(f"Azurite did not listen on port {port} within {timeout:.0f} s")
