"""Fixtures of the conversions / attribution models / report API tests.

The app runs on the session's real PostgreSQL (tests/conftest.py); tenants and keys come from
the ingestion tests' helpers (tests/ingest_api/ingest_helpers.py). Every response the `client`
gets is validated against docs/api/openapi.yml by openapi-core, templated paths
(`/conversions/{conversion_id}`) included: the status must be documented for the operation and
the body must match its schema; unknown paths must still answer the JSON error shape.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ingest_api"))
from api_helpers import TIERS, ContractClient  # noqa: E402
from ingest_helpers import Tenant, make_tenant  # noqa: E402


@pytest.fixture(scope="session")
def api_app(database_url):
    from ingest_api import create_app

    application = create_app(
        {
            "DATABASE_URL": database_url,
            "RATE_LIMIT_TIERS": TIERS,
            "RATELIMIT_KEY_PREFIX": f"mbuzz-api-test-{secrets.token_hex(4)}",
            "TESTING": True,
        }
    )
    application.test_client_class = ContractClient
    yield application
    application.extensions["mbuzz.db"].dispose()


@pytest.fixture
def client(api_app):
    return api_app.test_client()


@pytest.fixture
def tenant(conn) -> Tenant:
    return make_tenant(conn)


@pytest.fixture
def other_tenant(conn) -> Tenant:
    return make_tenant(conn)
