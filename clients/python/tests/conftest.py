"""Fixtures of the SDK's tests: the project's real PostgreSQL database (tests/conftest.py),
a live `mbuzz serve` on it (tests/live_server.py), a tenant with keys, a fault-injecting
proxy in front of the server, and clients that are closed after each test.

Run from the repository root (`pytest clients/python/tests`), where `tests` is importable.
"""

from __future__ import annotations

import pytest
from sdk_helpers import FaultProxy

from tests.conftest import conn, database_url, server_url  # noqa: F401 -- the project's database fixtures
from tests.ingest_api.ingest_helpers import SESSION_PREFIX, Tenant, make_tenant, start_server, stop_server


@pytest.fixture(scope="session")
def live_server(database_url, tmp_path_factory):  # noqa: F811
    # one worker: the SDK sends one request at a time, and it starts faster on a busy machine
    server = start_server(
        database_url, tmp_path_factory.mktemp("sdk-live") / "server.log", f"{SESSION_PREFIX}-sdk", workers=1
    )
    yield server
    stop_server(server)


@pytest.fixture
def tenant(conn) -> Tenant:  # noqa: F811
    return make_tenant(conn)


@pytest.fixture
def proxy(live_server):
    server = FaultProxy(live_server.url)
    yield server
    server.close()


@pytest.fixture
def make_client():
    """`make_client(key, host, **options)`: a Client with fast test timings, closed after the test."""
    from mbuzz_sdk import Client

    made = []

    def make(key: str, host: str, **options) -> Client:
        settings = {
            "flush_interval": 0.05,
            "backoff": 0.02,
            "backoff_max": 0.2,
            "timeout": 10.0,
            "shutdown_timeout": 5.0,
            **options,
        }
        client = Client(key, host, **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close(timeout=5)
