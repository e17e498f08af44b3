"""A warehouse with demo traffic, and the Dagster definitions pointed at it."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def pipeline_env(database_url, tmp_path_factory):
    """Isolate dbt's target folder and Dagster's instance for this test session."""
    os.environ["MBUZZ_DBT_TARGET_PATH"] = str(tmp_path_factory.mktemp("dbt-target"))
    os.environ["DAGSTER_HOME"] = str(tmp_path_factory.mktemp("dagster-home"))
    return database_url


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def pipeline_run(loaded_account):
    """The whole graph materialised once, in-process, over every day with conversions."""
    from mbuzz.pipeline import run_pipeline

    messages: list[str] = []
    result = run_pipeline(all_days=True, on_event=messages.append)
    return result, messages
