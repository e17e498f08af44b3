"""Fixtures for the ingestion API: the app on the session's real PostgreSQL, Redis when REDIS_URL is set.

Every response the `client` fixture gets is checked against docs/api/openapi.yml
(openapi-core response validation); responses of undocumented paths must
still have the JSON error shape. Rate-limit counters use a key prefix unique
to this session, so parallel runs on one Redis never share counters.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from ingest_helpers import Tenant, contract_client_class, free_port, make_tenant

REPO = Path(__file__).resolve().parents[2]
MBUZZ = str(Path(sys.executable).parent / "mbuzz")
SESSION_PREFIX = f"mbuzz-test-{secrets.token_hex(4)}"
TIERS = {
    "standard": "1000/second",
    "tiny": "3/minute",
    "default": "1000/second",
}


ContractClient = contract_client_class()


@pytest.fixture(scope="session")
def app(database_url):
    from ingest_api import create_app

    application = create_app({
        "DATABASE_URL": database_url,
        "RATE_LIMIT_TIERS": TIERS,
        "RATELIMIT_KEY_PREFIX": SESSION_PREFIX,
        "TESTING": True,
    })
    application.test_client_class = ContractClient
    yield application
    application.extensions["mbuzz.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def tenant(conn) -> Tenant:
    return make_tenant(conn)


@pytest.fixture
def other_tenant(conn) -> Tenant:
    return make_tenant(conn)


# -- a live server: `mbuzz serve` under gunicorn on a free port ---------------------

@dataclass
class LiveServer:
    url: str
    log: Path
    process: subprocess.Popen


def start_server(database_url: str, log: Path, prefix: str, workers: int = 2) -> LiveServer:
    """`mbuzz serve` (gunicorn) on a free port, up and answering /health, or the test fails."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url,
           "MBUZZ_RATELIMIT_KEY_PREFIX": prefix,
           "MBUZZ_RATE_LIMIT_TIERS": '{"standard": "1000/second", "default": "1000/second"}'}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [MBUZZ, "serve", "--port", str(port), "--workers", str(workers), "--no-migrate"],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
        )
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


@pytest.fixture(scope="session")
def live_server(database_url, tmp_path_factory):
    server = start_server(database_url, tmp_path_factory.mktemp("live") / "server.log", f"{SESSION_PREFIX}-live")
    yield server
    stop_server(server)
