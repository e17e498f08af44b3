"""The pipeline killed mid-attribution (SIGKILL during the credits write, as an OOM kill would):
nothing of the killed run is visible (the credits, which the marts read, are still the previous
run's, whole), the next run marks it 'abandoned' in the run history, and its own credits are
complete and consistent. A real child process over ~2 × 12,000 conversions × 3 touches × 8
presets, killed while its COPY into attribution.attribution_credits for the second account runs
(so under a per-account commit the first account's credits would already show). Bounded: < 60 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from tests.journeys_seed import END, START, seed_journeys

pytestmark = [pytest.mark.faults, pytest.mark.slow]

CHILD = """
import sys
import psycopg
from mbuzz.attribution_runs import run_attribution
from tests.journeys_seed import END, START
run_attribution(lambda: psycopg.connect(sys.argv[1]), START, END, data_driven=False)
"""
COPYING = """select query_start from pg_stat_activity
             where datname = current_database() and state = 'active' and pid <> pg_backend_pid()
               and query ilike 'copy%%attribution_credits%%'"""
OTHERS = "select count(*) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()"
SNAPSHOT = """select run_id, count(*), round(sum(credit)::numeric, 6), count(distinct (account_id, conversion_id))
              from attribution.attribution_credits group by run_id"""


def run_child(url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, url],
        cwd=os.getcwd(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def statuses(conn) -> dict[str, str]:
    return dict(conn.execute("select run_id, status from attribution.attribution_runs").fetchall())


def assert_consistent(conn) -> None:
    from orchestration.checks import CREDIT_INVARIANTS, TOLERANCE, UNATTRIBUTED

    window = {"start": START, "end": END, "tol": TOLERANCE}
    total, negative, not_one, revenue = conn.execute(CREDIT_INVARIANTS, window).fetchone()
    assert total > 0 and (negative, not_one, revenue) == (0, 0, 0)
    assert conn.execute(UNATTRIBUTED, window).fetchone()[0] == 0


def test_a_run_killed_during_the_credits_write_leaves_nothing_half_written(new_database):
    with new_database() as url, psycopg.connect(url, autocommit=True) as conn:
        seed_journeys(conn, conversions=12_000, accounts=2)
        first = run_child(url)
        assert first.wait(60) == 0, first.stderr.read()
        (previous,) = conn.execute(SNAPSHOT).fetchall()
        assert_consistent(conn)

        child = run_child(url)
        seen, deadline = set(), time.monotonic() + 45
        while len(seen) < 2:  # the second account's COPY: the first account's is written already
            assert child.poll() is None, f"the run ended before the kill: {child.stderr.read()}"
            assert time.monotonic() < deadline, "no second credits COPY seen in 45 s"
            seen |= {r[0] for r in conn.execute(COPYING)}
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
        deadline = time.monotonic() + 15  # the server notices the dead client and rolls back
        while conn.execute(OTHERS).fetchone()[0]:
            assert time.monotonic() < deadline, "the killed run's connections are still open"
            time.sleep(0.05)

        assert conn.execute(SNAPSHOT).fetchall() == [previous]  # the previous run's credits, whole
        killed = {r: s for r, s in statuses(conn).items() if r != previous[0]}
        assert list(killed.values()) == ["running"]  # what it was doing when it died; no one has looked yet

        last = run_child(url)
        assert last.wait(60) == 0, last.stderr.read()
        history = statuses(conn)
        assert history[previous[0]] == "succeeded" and history[next(iter(killed))] == "abandoned"
        (newest,) = [r for r in history if r not in killed and r != previous[0]]
        assert history[newest] == "succeeded"
        (current,) = conn.execute(SNAPSHOT).fetchall()
        assert current[0] == newest and current[1:] == previous[1:]  # the same credits, by the new run
        assert conn.execute(
            "select conversions, credits_written from attribution.attribution_runs where run_id = %s", (newest,)
        ).fetchone() == (24_000, current[1])
        assert_consistent(conn)
