"""`mbuzz serve`: gunicorn in production (the live_server fixture), Flask's server with --dev."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from ingest_helpers import free_port

MBUZZ = str(Path(sys.executable).parent / "mbuzz")


def test_serve_help_lists_the_options():
    out = subprocess.run([MBUZZ, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--host", "--port", "--workers", "--threads", "--dev"):
        assert option in out


def test_serve_dev_runs_flasks_server(database_url, tmp_path):
    port = free_port()
    log = tmp_path / "dev.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [MBUZZ, "serve", "--dev", "--port", str(port), "--no-migrate"],
            env={**os.environ, "DATABASE_URL": database_url},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except requests.RequestException:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.2)
        assert response.status_code == 200 and response.json()["database"] == "ok"
        missing = requests.get(f"http://127.0.0.1:{port}/nowhere", timeout=5)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_gunicorn_server_answers_and_logs_without_keys(live_server, tenant):
    response = requests.get(f"{live_server.url}/api/v1/validate", headers=tenant.bearer(), timeout=10)
    assert response.status_code == 200 and response.headers["X-RateLimit-Limit"]
    requests.get(f"{live_server.url}/api/v1/validate?api_key={tenant.live_key}", timeout=10)
    time.sleep(0.5)  # let the access log line reach the file
    text = live_server.log.read_text()
    assert "/api/v1/validate" in text and tenant.live_key not in text
