"""Fixtures for the ingestion API: the app on the session's real PostgreSQL, Redis when REDIS_URL is set.

Every response the `client` fixture gets is checked against docs/api/openapi.yml
(openapi-core response validation); responses of undocumented paths must
still have the JSON error shape. Rate-limit counters use a key prefix unique
to this session, so parallel runs on one Redis never share counters.
"""

from __future__ import annotations

import pytest

from ingest_helpers import SESSION_PREFIX, Tenant, contract_client_class, make_tenant, start_server, stop_server

TIERS = {
    "standard": "1000/second",
    "tiny": "3/minute",
    "default": "1000/second",
}


ContractClient = contract_client_class()


@pytest.fixture(scope="session")
def app(database_url):
    from ingest_api import create_app

    application = create_app(
        {
            "DATABASE_URL": database_url,
            "RATE_LIMIT_TIERS": TIERS,
            "RATELIMIT_KEY_PREFIX": SESSION_PREFIX,
            "TESTING": True,
        }
    )
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


@pytest.fixture(scope="session")
def live_server(database_url, tmp_path_factory):
    server = start_server(database_url, tmp_path_factory.mktemp("live") / "server.log", f"{SESSION_PREFIX}-live")
    yield server
    stop_server(server)
