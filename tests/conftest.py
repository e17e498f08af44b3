"""Shared fixtures: a real PostgreSQL database per test session, migrated to head.

The server is DATABASE_URL's when set (CI: the machine's PostgreSQL), else an
embedded server started in a temporary MBUZZ_HOME. Each session (and each
xdist worker) gets its own freshly created database, dropped at the end, so
parallel runs never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from mbuzz.settings import libpq_url, with_database

pytest_plugins = ["tests.timescale"]  # the TimescaleDB tier: timescale_server, timescale_url, timescale_conn

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def server_url(tmp_path_factory) -> str:
    """A URL of the PostgreSQL server the tests use (any database on it)."""
    if os.environ.get("DATABASE_URL"):
        yield libpq_url(os.environ["DATABASE_URL"])
        return
    from mbuzz.db.embedded import EmbeddedServer

    home = Path(os.environ.get("MBUZZ_TEST_HOME") or tmp_path_factory.mktemp("mbuzz-home"))
    server = EmbeddedServer(home)
    url = server.up()
    yield url
    if not os.environ.get("MBUZZ_TEST_HOME"):
        server.down()


@contextmanager
def _new_database(server_url: str):
    """Create a database on the server, migrate it to head, drop it afterwards."""
    from mbuzz.db.migrate import upgrade

    name = f"mbuzz_test_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        url = with_database(server_url, name)
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def database_url(server_url) -> str:
    """A fresh database, migrated to head, for this test session."""
    with _new_database(server_url) as url:
        previous = os.environ.get("DATABASE_URL")
        os.environ["DATABASE_URL"] = url  # everything mbuzz starts in this session uses it
        yield url
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous


@pytest.fixture(scope="session")
def new_database(server_url, database_url):
    """`with new_database() as url:` a database of its own, for tests whose checks span
    every account of a database (the pipeline's invariants) and must not see other tests' rows."""
    return lambda: _new_database(server_url)


@pytest.fixture
def conn(database_url):
    """An autocommit psycopg connection to the test database."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def account(conn):
    """A fresh account (tests isolate by tenant, not by truncating)."""
    from mbuzz.accounts import create_account

    return create_account(conn, f"Test {secrets.token_hex(3)}")


@pytest.fixture(scope="session")
def dbt_target(database_url, tmp_path_factory) -> Path:
    """A dbt target folder holding a freshly parsed manifest (`mbuzz.warehouse.parse_project`)."""
    from mbuzz.warehouse import parse_project

    target = tmp_path_factory.mktemp("dbt-parsed")
    parse_project(target)
    return target
