"""Scale curve: the full pipeline and the hourly run at several history sizes, on PostgreSQL.

    .venv/bin/python benchmarks/scale.py [--events 1000000 3000000] [--before DIR] [--database NAME]
        [--no-hourly] [--no-before-pipeline]

For each size: a fresh database `bench_memory` on DATABASE_URL's server, the history generated
and landed by benchmarks/pipeline.py's code (in this process), then the full pipeline and, after
one more hour is landed, the hourly run, each in a CHILD process: its wall time and its own peak
RSS (GNU time's %M, /usr/bin/time, so the generator's memory is not counted). In the same
database, the physical floor: one sorted window pass over raw.events (`create table … as select
…, lag(occurred_at) over (partition by account_id, visitor_id order by occurred_at) from
raw.events`), and the full pipeline's ratio to it. Between sizes: the growth exponent
log(t2/t1) / log(n2/n1) of each figure (1 = linear).

--before DIR: also run the full pipeline (again, on the built warehouse) with the code of another
checkout (e.g. a worktree of the commit before the chunked attribution run) and report its peak
RSS beside this code's. Then the attribution run alone (`run_attribution` over the history, every
model, data-driven ones included, in a child process) with this code and, with --before, the
other checkout's: its time and peak RSS without Dagster and dbt around it. The database
(`--database`, default bench_memory) is dropped at the end.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[0] = ROOT  # benchmarks/attribution.py must not shadow the attribution package

from benchmarks.pipeline import drop_database, fresh_database, land_history, land_hour  # noqa: E402

NAME = "bench_memory"
FULL = "r = run_pipeline(all_days=True)"
HOURLY = "r = run_pipeline(partition={partition!r}, hourly=True)"
CHILD = """import sys
sys.path.insert(0, {root!r})
from mbuzz.pipeline import run_pipeline
{call}
print('checks', len(r.checks), 'failed', sum(not c[2] for c in r.checks), 'success', r.success)
for f in r.failures:
    print('  ', f[:300])
sys.exit(0 if r.success else 1)
"""
ATTRIBUTION = """import sys, time
sys.path.insert(0, {root!r})
from datetime import datetime
import psycopg
from mbuzz.attribution_runs import run_attribution
from mbuzz.db import database_url
t = time.perf_counter()
r = run_attribution(lambda: psycopg.connect(database_url()), datetime.fromisoformat({start!r}),
                    datetime.fromisoformat({end!r}), data_driven=True)
print(f'attribution: {{r.conversions}} conversions, {{r.credits_written}} credits, '
      f'{{time.perf_counter() - t:.1f}}s, skipped {{sorted(r.skipped)}}')
"""
FLOOR = """create table public.bench_floor as
select account_id, visitor_id, occurred_at,
       lag(occurred_at) over (partition by account_id, visitor_id order by occurred_at) as previous_at
from raw.events"""


def measured(call: str, root: str = ROOT, program: str | None = None) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of the pipeline run (or `program`) in a child process."""
    env = {**os.environ, "MBUZZ_DBT_TARGET_PATH": tempfile.mkdtemp(prefix="mbuzz-scale-dbt-")}
    t = time.perf_counter()
    code = program if program is not None else CHILD.format(root=root, call=call)
    # a script file, not `python -c`: under -c, __main__ has no __file__ and pyspark.sql.connect
    # (imported by Great Expectations' Spark support) takes the process for a doctest run and
    # sys.exit(0)s inside the data-quality checks
    with tempfile.NamedTemporaryFile("w", suffix=".py", prefix="mbuzz-scale-", delete=False) as script:
        script.write(code)
    # through /usr/bin/time (GNU time: %M, the peak RSS in KB): a child forked from THIS process
    # would report at least this process's own peak (Linux carries the old memory's high-water
    # mark through fork and exec), i.e. the generator's memory; time's own memory is small
    with tempfile.NamedTemporaryFile("r", suffix=".rss", delete=False) as rss_file:
        pass
    child = subprocess.Popen(
        ["/usr/bin/time", "-f", "%M", "-o", rss_file.name, sys.executable, script.name], cwd=root, env=env
    )
    child.wait()
    seconds = time.perf_counter() - t
    with open(rss_file.name) as out:
        peak_kb = int(out.read().split()[-1])
    os.unlink(script.name)
    os.unlink(rss_file.name)
    return seconds, peak_kb / 1024, child.returncode


def floor_seconds(url: str) -> tuple[float, int]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop table if exists public.bench_floor")
        t = time.perf_counter()
        conn.execute(FLOOR)
        seconds = time.perf_counter() - t
        rows = conn.execute("select count(*) from public.bench_floor").fetchone()[0]
        conn.execute("drop table public.bench_floor")
    return seconds, rows


def exponent(a: float, b: float, n_a: int, n_b: int) -> float:
    return math.log(b / a) / math.log(n_b / n_a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 3_000_000])
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--before", help="a checkout whose code is measured too (peak RSS of the full pipeline)")
    parser.add_argument("--database", default=NAME, help="the scratch database (dropped at the end)")
    parser.add_argument("--no-hourly", action="store_true", help="skip the hourly run")
    parser.add_argument(
        "--no-before-pipeline", action="store_true", help="with --before: compare the attribution run alone only"
    )
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    rows = []
    failed = []  # (what, exit code) of every child that did not succeed: their figures are not results
    server = None
    try:
        for events in args.events:
            server, url = fresh_database(args.database)
            end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
            account_id = land_history(url, events, args.days, bulk=False, end=end)
            full, full_rss, rc = measured(FULL)
            print(f"{events:,}: full pipeline {full:.1f}s, peak RSS {full_rss:.0f} MB, exit {rc}")
            failed += [(f"{events:,}: full pipeline", rc)] if rc else []
            hourly = hourly_rss = math.nan
            if not args.no_hourly:
                hour = land_hour(url, account_id, events, args.days, bulk=False, end=end)
                hourly, hourly_rss, rc_h = measured(HOURLY.format(partition=end.strftime("%Y-%m-%d")))
                print(f"{events:,}: hourly ({hour:,} events) {hourly:.1f}s, peak RSS {hourly_rss:.0f} MB, exit {rc_h}")
                failed += [(f"{events:,}: hourly run", rc_h)] if rc_h else []
            floor, n = floor_seconds(url)
            print(
                f"{events:,}: floor (sorted lag() pass over {n:,} raw events) {floor:.1f}s; ratio {full / floor:.1f}x"
            )
            before_rss = None
            if args.before and not args.no_before_pipeline:
                _, before_rss, rc_b = measured(FULL, root=os.path.abspath(args.before))
                print(f"{events:,}: full pipeline, code of {args.before}: peak RSS {before_rss:.0f} MB, exit {rc_b}")
            window = {
                "start": (end - timedelta(days=args.days + 1)).isoformat(),
                "end": (end + timedelta(days=1)).isoformat(),
            }
            alone = {}
            for label, root in [("this code", ROOT)] + (
                [(args.before, os.path.abspath(args.before))] if args.before else []
            ):
                seconds, rss, rc_a = measured("", root, ATTRIBUTION.format(root=root, **window))
                alone[label] = (seconds, rss)
                print(f"{events:,}: attribution run alone, {label}: {seconds:.1f}s, peak RSS {rss:.0f} MB, exit {rc_a}")
                failed += [(f"{events:,}: attribution run alone, {label}", rc_a)] if rc_a else []
            rows.append((events, n, full, full_rss, hourly, hourly_rss, floor, before_rss, alone))
            print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        if server:
            drop_database(server, args.database)

    print(
        "\n| events (raw rows) | full pipeline | peak RSS | hourly | peak RSS | floor | full / floor | RSS before "
        "| attribution alone | RSS | before | RSS before |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for events, n, full, full_rss, hourly, hourly_rss, floor, before_rss, alone in rows:
        before = f"{before_rss:.0f} MB" if before_rss else "-"
        a_s, a_rss = alone["this code"]
        b_s, b_rss = alone.get(args.before, (math.nan, math.nan))
        print(
            f"| {events:,} ({n:,}) | {full:.1f} s | {full_rss:.0f} MB | {hourly:.1f} s | {hourly_rss:.0f} MB "
            f"| {floor:.1f} s | {full / floor:.1f}x | {before} | {a_s:.1f} s | {a_rss:.0f} MB | {b_s:.1f} s "
            f"| {b_rss:.0f} MB |"
        )
    for a, b in zip(rows, rows[1:]):
        print(
            f"growth exponent {a[1]:,} -> {b[1]:,} raw events: full {exponent(a[2], b[2], a[1], b[1]):.2f}, "
            f"full RSS {exponent(a[3], b[3], a[1], b[1]):.2f}, hourly {exponent(a[4], b[4], a[1], b[1]):.2f}, "
            f"floor {exponent(a[6], b[6], a[1], b[1]):.2f}"
        )
    if failed:  # a failed run's time is not a result: say so, and fail
        print("\nFAILED (their figures are not results): " + "; ".join(f"{what} (exit {rc})" for what, rc in failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
