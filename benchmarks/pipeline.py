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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--bulk", action="store_true", help="history received now, not as it occurred")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    from mbuzz.db import database_url
    from mbuzz.settings import with_database

    server = database_url()
    name = "mbuzz_bench_pipeline"
    with psycopg.connect(with_database(server, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(server, name)
    os.environ["DATABASE_URL"] = url
    os.environ["MBUZZ_DBT_TARGET_PATH"] = tempfile.mkdtemp(prefix="mbuzz-bench-dbt-")
    os.environ["DAGSTER_HOME"] = tempfile.mkdtemp(prefix="mbuzz-bench-dagster-")

    from mbuzz.accounts import create_account
    from mbuzz.db import connect
    from mbuzz.db.migrate import upgrade
    from mbuzz.demo.traffic import Traffic, generate, load_direct
    from mbuzz.pipeline import run_pipeline

    upgrade(url)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    t = time.perf_counter()
    traffic = generate(visitors=int(args.events / EVENTS_PER_VISITOR), days=args.days, seed=1, end=end - timedelta(hours=1))
    print(f"generated {len(traffic.events):,} events, {len(traffic.conversions):,} conversions "
          f"in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    with connect(url, autocommit=True) as conn:
        account = create_account(conn, "bench")
        step = 100_000
        for i in range(0, len(traffic.events), step):
            load_direct(conn, account.id, Traffic(events=traffic.events[i:i + step]), streamed=not args.bulk)
        # conversions point at their purchase events (already loaded: those come back as duplicates)
        by_id = {e["event_id"]: e for e in traffic.events}
        load_direct(conn, account.id, Traffic(events=[by_id[c["event_id"]] for c in traffic.conversions],
                                              conversions=traffic.conversions), streamed=not args.bulk)
    print(f"loaded raw tables in {time.perf_counter() - t:.1f}s "
          f"({'bulk: received now' if args.bulk else 'streamed: received as they occurred'})")

    t = time.perf_counter()
    result = run_pipeline(all_days=True)
    full = time.perf_counter() - t
    print(f"full pipeline (dbt build + all models + aggregates): {full:.1f}s success={result.success} "
          f"checks={len(result.checks)} failed={sum(not c[2] for c in result.checks)}")
    for failure in result.failures:
        print("  ", failure[:300])
    print_steps(result)

    hour = generate(visitors=int(args.events / EVENTS_PER_VISITOR / (args.days * 24)) + 1, days=1 / 24, seed=2,
                    end=end, prefix="hour")
    with connect(url, autocommit=True) as conn:
        load_direct(conn, account.id, hour, streamed=not args.bulk)
    t = time.perf_counter()
    result = run_pipeline(partition=end.strftime("%Y-%m-%d"), hourly=True)
    print(f"incremental hour ({len(hour.events):,} events; the hourly job: rule-based models for today): "
          f"{time.perf_counter() - t:.1f}s success={result.success}")
    print_steps(result)
    if not args.keep:
        with psycopg.connect(with_database(server, "postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
