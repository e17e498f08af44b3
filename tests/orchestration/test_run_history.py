"""The run history (attribution.attribution_runs): a normal run is recorded 'running', then
'succeeded' with its window and counts; a run left 'running' by a dead process is marked
'abandoned' by the next run; a run that raises is 'failed' and writes nothing."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from mbuzz.attribution_runs import run_attribution
from tests.journeys_seed import END, START, seed_journeys

RUN = """select status, window_start, window_end, conversions, credits_written, finished_at >= started_at, error
         from attribution.attribution_runs where run_id = %s"""


def test_a_run_is_recorded_succeeded_with_its_window_and_counts(new_database):
    with new_database() as url, psycopg.connect(url, autocommit=True) as conn:
        (account,) = seed_journeys(conn, conversions=20)
        result = run_attribution(lambda: psycopg.connect(url), START, END, data_driven=False)
        credits = conn.execute(
            "select count(*), count(distinct run_id) from attribution.attribution_credits where account_id = %s",
            (account,),
        ).fetchone()
        assert credits == (result.credits_written, 1) and result.credits_written > 0
        assert conn.execute(RUN, (result.run_id,)).fetchone() == (
            "succeeded",
            START,
            END,
            20,
            result.credits_written,
            True,
            None,
        )
        assert result.conversions == 20

        # a run left 'running' by a process that is gone (no one holds its lease): the next run abandons it
        conn.execute(
            "insert into attribution.attribution_runs (run_id, config_hash, config, status) "
            "values ('run_dead', 'x', '{}', 'running')"
        )
        again = run_attribution(lambda: psycopg.connect(url), START, END, data_driven=False)
        assert conn.execute(RUN, ("run_dead",)).fetchone()[0] == "abandoned"
        assert conn.execute(RUN, (again.run_id,)).fetchone()[0] == "succeeded"
        assert conn.execute("select distinct run_id from attribution.attribution_credits").fetchall() == [
            (again.run_id,)
        ]

        # a run that fails mid-way: 'failed' with its error, and the previous run's credits untouched
        def failing(calls=[0]):  # noqa: B006 - the second connection (the credits write) fails
            calls[0] += 1
            if calls[0] == 2:
                raise psycopg.OperationalError("the database went away")
            return psycopg.connect(url)

        with pytest.raises(psycopg.OperationalError):
            run_attribution(failing, START, END, data_driven=False)
        status, error = conn.execute(
            "select status, error from attribution.attribution_runs order by started_at desc limit 1"
        ).fetchone()
        assert status == "failed" and "database went away" in error
        assert conn.execute("select distinct run_id from attribution.attribution_credits").fetchall() == [
            (again.run_id,)
        ]


def test_mbuzz_runs_list_shows_the_history(new_database):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    with new_database() as url, psycopg.connect(url, autocommit=True) as conn:
        seed_journeys(conn, conversions=5)
        result = run_attribution(lambda: psycopg.connect(url), START, END, data_driven=False)
        mbuzz = str(Path(sys.executable).parent / "mbuzz")
        out = subprocess.run(
            [mbuzz, "runs", "list", "--json"],
            env={**os.environ, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        (row,) = json.loads(out)
        assert row["run_id"] == result.run_id and row["status"] == "succeeded" and row["conversions"] == 5


def test_the_run_keeps_what_the_warehouse_lookback_kept(new_database):
    """The journeys mart applies dbt's mbuzz__lookback_days (say 60): the run must not cut again at the
    engine's default 30 days, or a touch 45 days back would lose its credit."""
    with new_database() as url, psycopg.connect(url, autocommit=True) as conn:
        (account,) = seed_journeys(conn, conversions=1)
        at = START + timedelta(hours=6)
        for index, (age, channel) in enumerate([(timedelta(days=45), "referral"), (timedelta(hours=1), "direct")]):
            conn.execute(
                "insert into marts.fct_conversion_journeys values (%s, 'live', 'conv_old', 'conv_old', true, "
                "%s, 'purchase', null, %s, %s, %s, %s, null, null, null, '')",
                (account, at, index, at - age, f"sess_old_{index}", channel),
            )
        run_attribution(lambda: psycopg.connect(url), START, END, data_driven=False)
        first = conn.execute(
            "select channel, credit from attribution.attribution_credits "
            "where conversion_id = 'conv_old' and model = 'first_touch'"
        ).fetchall()
        assert {channel: float(credit) for channel, credit in first} == {"referral": 1.0, "direct": 0.0}


def test_a_model_that_cannot_run_is_recorded_with_its_reason_per_account(new_database):
    """Too few paths for the data-driven models: never a silent zero — the run records each model's
    reason under its account (config.skipped), which `skipped_models` reads for that account only."""
    from mbuzz.attribution_runs import skipped_models

    with new_database() as url, psycopg.connect(url, autocommit=True) as conn:
        (account,) = seed_journeys(conn, conversions=20)
        result = run_attribution(lambda: psycopg.connect(url), START, END, data_driven=True)
        assert conn.execute(RUN, (result.run_id,)).fetchone()[0] == "succeeded"
        reasons = skipped_models(conn, account)
        assert set(reasons) == {"markov", "shapley", "ordered_shapley", "algorithmic"}
        assert "the ordered Shapley model needs at least 100 paths" in reasons["ordered_shapley"]
        assert skipped_models(conn, "acct_someone_else") == {}
        assert (
            conn.execute(
                "select count(*) from attribution.attribution_credits where model = 'ordered_shapley'"
            ).fetchone()[0]
            == 0
        )
