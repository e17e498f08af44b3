"""`mbuzz serve` (gunicorn) as a real server on a free port of 127.0.0.1, for the tests that need
real HTTP (the ingestion API's live and fault tests, the dashboard's browser tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[1]
MBUZZ = str(Path(sys.executable).parent / "mbuzz")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    log: Path
    process: subprocess.Popen


def start_server(
    database_url: str | None, log: Path, env: dict[str, str], workers: int = 2, threads: int | None = None
) -> LiveServer:
    """`mbuzz serve` with `env` added to this process's environment, up and answering /health,
    or the test fails with the server's log. `database_url=None`: no DATABASE_URL, so the server
    uses the embedded database of `env`'s MBUZZ_HOME."""
    port = free_port()
    command = [MBUZZ, "serve", "--port", str(port), "--workers", str(workers), "--no-migrate"]
    if threads is not None:
        command += ["--threads", str(threads)]
    environment = {**os.environ, "DATABASE_URL": database_url or "", **env}
    if database_url is None:
        environment.pop("DATABASE_URL")
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=environment, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return LiveServer(url, log, process)
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"mbuzz serve did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
