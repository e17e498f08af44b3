"""Pipeline benchmark: N raw events → full pipeline (dbt + every model + aggregates), then one more hour.

    .venv/bin/python benchmarks/pipeline.py [--events 1000000] [--bulk] [--keep]

Uses DATABASE_URL's server (or the embedded one) and a database of its own
(`mbuzz_bench_pipeline`, recreated). Prints wall times of each phase.

The history is landed as if the API had received each event when it occurred (steady state:
the hourly run sees the last hour); `--bulk` lands it all as received now instead (a migration
or backfill: the first hourly runs after it also revisit what was received within the received
margin, `mbuzz__received_margin_minutes`).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import sql

# run as a script, this folder comes first on sys.path and benchmarks/attribution.py would
# shadow the attribution package: put the repository root first instead
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EVENTS_PER_VISITOR = 4.9  # what the synthetic generator produces on average


def print_steps(result) -> None:
    print("   steps: " + ", ".join(f"{step} {seconds:.1f}s" for step, seconds in result.step_seconds.items()))


def fresh_database(name: str) -> tuple[str, str]:
    """(server URL, URL of a new empty database `name` on it, migrated); the process's
    DATABASE_URL, dbt target folder and Dagster home point at it from now on."""
    from mbuzz.db import database_url
    from mbuzz.db.migrate import upgrade
    from mbuzz.settings import with_database

    server = database_url()
    drop_database(server, name)
    with psycopg.connect(with_database(server, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(server, name)
    os.environ["DATABASE_URL"] = url
    os.environ["MBUZZ_DBT_TARGET_PATH"] = tempfile.mkdtemp(prefix="mbuzz-bench-dbt-")
    os.environ["DAGSTER_HOME"] = tempfile.mkdtemp(prefix="mbuzz-bench-dagster-")
    upgrade(url)
    return server, url


def drop_database(server: str, name: str) -> None:
    from mbuzz.settings import with_database

    with psycopg.connect(with_database(server, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def land_history(url: str, events: int, days: int, bulk: bool, end: datetime) -> str:
    """Generate a seeded history of about `events` events ending an hour before `end` and land it
    in the raw tables (streamed: each row received when it occurred, unless `bulk`); the account id."""
    from mbuzz.accounts import create_account
    from mbuzz.db import connect
    from mbuzz.demo.traffic import Traffic, generate, load_direct

    t = time.perf_counter()
    traffic = generate(visitors=int(events / EVENTS_PER_VISITOR), days=days, seed=1, end=end - timedelta(hours=1))
    print(
        f"generated {len(traffic.events):,} events, {len(traffic.conversions):,} conversions "
        f"in {time.perf_counter() - t:.1f}s"
    )
    t = time.perf_counter()
    with connect(url, autocommit=True) as conn:
        account = create_account(conn, "bench")
        step = 100_000
        for i in range(0, len(traffic.events), step):
            load_direct(conn, account.id, Traffic(events=traffic.events[i : i + step]), streamed=not bulk)
        # conversions point at their purchase events (already loaded: those come back as duplicates)
        by_id = {e["event_id"]: e for e in traffic.events}
        load_direct(
            conn,
            account.id,
            Traffic(events=[by_id[c["event_id"]] for c in traffic.conversions], conversions=traffic.conversions),
            streamed=not bulk,
        )
    print(
        f"loaded raw tables in {time.perf_counter() - t:.1f}s "
        f"({'bulk: received now' if bulk else 'streamed: received as they occurred'})"
    )
    return account.id


def land_hour(
    url: str, account_id: str, events: int, days: int, bulk: bool, end: datetime, seed: int = 2, prefix: str = "hour"
) -> int:
    """One more hour of events (the history's rate), ending at `end`; the number of events."""
    from mbuzz.db import connect
    from mbuzz.demo.traffic import generate, load_direct

    hour = generate(
        visitors=int(events / EVENTS_PER_VISITOR / (days * 24)) + 1, days=1 / 24, seed=seed, end=end, prefix=prefix
    )
    with connect(url, autocommit=True) as conn:
        load_direct(conn, account_id, hour, streamed=not bulk)
    return len(hour.events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--bulk", action="store_true", help="history received now, not as it occurred")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--cold", type=int, default=0, help="hourly runs in a new process after the warm one")
    parser.add_argument("--database", default="mbuzz_bench_pipeline", help="database to (re)create and use")
    args = parser.parse_args()

    name = args.database
    server, url = fresh_database(name)
    from mbuzz.pipeline import run_pipeline

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    account_id = land_history(url, args.events, args.days, args.bulk, end)
    t = time.perf_counter()
    result = run_pipeline(all_days=True)
    full = time.perf_counter() - t
    print(
        f"full pipeline (dbt build + all models + aggregates): {full:.1f}s success={result.success} "
        f"checks={len(result.checks)} failed={sum(not c[2] for c in result.checks)}"
    )
    for failure in result.failures:
        print("  ", failure[:300])
    print_steps(result)

    hour_events = land_hour(url, account_id, args.events, args.days, args.bulk, end)
    t = time.perf_counter()
    result = run_pipeline(partition=end.strftime("%Y-%m-%d"), hourly=True)
    print(
        f"incremental hour ({hour_events:,} events; the hourly job: rule-based models for today): "
        f"{time.perf_counter() - t:.1f}s success={result.success}"
    )
    print_steps(result)
    if args.cold:  # the hourly job as the Dagster daemon launches it: a new process each time
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.setdefault("PYTHONPYCACHEPREFIX", os.path.join(tempfile.gettempdir(), "mbuzz-bench-pycache"))
        mbuzz = os.path.join(os.path.dirname(sys.executable), "mbuzz")
        cmd = [mbuzz, "pipeline", "run", "--hourly", "--partition", end.strftime("%Y-%m-%d")]
        for i in range(args.cold):
            n = land_hour(url, account_id, args.events, args.days, args.bulk, end, seed=3 + i, prefix=f"cold{i}")
            t = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            print(
                f"incremental hour ({n:,} events), cold (`{' '.join(['mbuzz', *cmd[1:]])}`, a new "
                f"process): {time.perf_counter() - t:.1f}s exit={proc.returncode} load {os.getloadavg()[0]:.1f}"
            )
            print("   " + (proc.stdout.strip().splitlines() or [""])[-1][:300])
    if not args.keep:
        drop_database(server, name)


if __name__ == "__main__":
    main()
