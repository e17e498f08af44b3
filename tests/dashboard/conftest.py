"""Fixtures for the dashboard: the Flask app on the session's real PostgreSQL, signed-in clients,
accounts with users, and the attribution aggregates the report pages read.

CSRF stays on (as in production): the helpers read the token from the page
like a browser does.
"""

from __future__ import annotations

import secrets

import pytest

from dashboard_helpers import AGGREGATES, SECRET, Admin, make_admin, sign_in


@pytest.fixture(scope="session")
def app(database_url):
    from ingest_api import create_app

    application = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "RATE_LIMIT_TIERS": {"standard": "1000/second", "default": "1000/second"},
            "RATELIMIT_KEY_PREFIX": f"dash-{secrets.token_hex(4)}",
            "DASHBOARD_LOGIN_LIMIT": "1000/minute",
        }
    )
    yield application
    application.extensions["mbuzz.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin(conn) -> Admin:
    return make_admin(conn)


@pytest.fixture
def other_admin(conn) -> Admin:
    return make_admin(conn)


@pytest.fixture
def signed_in(client, admin):
    sign_in(client, admin)
    return client


# -- attribution results for the report pages ------------------------------------------------------------------


@pytest.fixture(scope="session")
def aggregates(database_url, tmp_path_factory):
    """The two daily aggregates the reports read, built by dbt over attribution.attribution_credits
    (with its own target path, so parallel sessions never share dbt's manifests)."""
    from mbuzz.warehouse import run_dbt

    run_dbt(
        [
            "run",
            "--select",
            "channel_attribution_daily",
            "source_attribution_daily",
            "--target-path",
            str(tmp_path_factory.mktemp("dbt-target")),
        ],
        url=database_url,
        subprocess_mode=True,
    )
    return AGGREGATES
