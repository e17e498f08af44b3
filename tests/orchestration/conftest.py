"""A warehouse with demo traffic, and the Dagster definitions pointed at it."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def pipeline_env(new_database, tmp_path_factory):
    """A database of its own (the pipeline's checks span every account in it), dbt's target
    folder and Dagster's instance, all isolated for these tests."""
    names = ("DATABASE_URL", "MBUZZ_DBT_TARGET_PATH", "DAGSTER_HOME")
    previous = {name: os.environ.get(name) for name in names}
    with new_database() as url:
        os.environ["DATABASE_URL"] = url
        os.environ["MBUZZ_DBT_TARGET_PATH"] = str(tmp_path_factory.mktemp("dbt-target"))
        os.environ["DAGSTER_HOME"] = str(tmp_path_factory.mktemp("dagster-home"))
        from mbuzz.warehouse import parse_project

        parse_project()  # the manifest the Dagster definitions load (importing them builds none)
        yield url
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def pconn(pipeline_env):
    """An autocommit connection to the pipeline tests' database."""
    import psycopg

    with psycopg.connect(pipeline_env, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def loaded_account(pipeline_env):
    """An account with a few weeks of synthetic traffic landed in raw (the API's tables)."""
    from mbuzz.accounts import create_account
    from mbuzz.db import connect
    from mbuzz.demo.traffic import generate, load_direct

    with connect(pipeline_env, autocommit=True) as conn:
        account = create_account(conn, "Pipeline test")
        events, conversions = load_direct(conn, account.id, generate(visitors=1500, days=30, seed=11))
    assert events > 5000 and conversions > 100
    return account


@pytest.fixture(scope="module")
def pipeline_run(loaded_account):
    """The whole graph materialised once, in-process, over every day with conversions."""
    from mbuzz.pipeline import run_pipeline

    messages: list[str] = []
    result = run_pipeline(all_days=True, on_event=messages.append)
    return result, messages
