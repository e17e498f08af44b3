"""Attribution on Spark against the PostgreSQL run, same journeys, same process.

    .venv/bin/python benchmarks/spark_attribution.py [--conversions 20000 100000] [--accounts 2]
        [--touches 4] [--master local[2]] [--rules-only]

For each size: a fresh database `bench_spark_attribution` on DATABASE_URL's server (dropped at the
end) with `--accounts` accounts, each with that many conversions of 1 to `--touches` touches over
six channels and half as many paths that never converted (the data-driven models need them),
seeded straight into marts.fct_conversion_journeys. Then, timed:

- PostgreSQL: `mbuzz.attribution_runs.run_attribution` over the window (every preset; Markov,
  Shapley, ordered Shapley and algorithmic unless --rules-only), credits written in one
  transaction;
- Spark: `mbuzz.spark_attribution.run_spark_attribution` on a session of `--master` (`local[2]`:
  this machine's two cores) over a Parquet copy of the same journeys (the copy is not timed), the
  blocking checks run in Spark SQL and the credits written to Parquet. The session's start is
  timed apart (it is paid once per Dagster step, not per account).

Prints both times, Spark / PostgreSQL, and the largest difference of the credit totals per
(model, channel), which must be under 1e-6 (the credits themselves are compared to 1e-9 in
tests/spark/test_spark_attribution.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import psycopg

sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # not benchmarks/attribution.py

from benchmarks.pipeline import drop_database, fresh_database  # noqa: E402

NAME = "bench_spark_attribution"
START = datetime(2026, 3, 1, tzinfo=timezone.utc)
END = START + timedelta(days=1)
TABLES = """
create schema if not exists marts;
create table marts.fct_conversion_journeys (
    account_id text, environment text, journey_id text, conversion_id text, converted boolean,
    conversion_ts timestamptz, conversion_type text, revenue numeric, touch_index int, touch_ts timestamptz,
    session_id text, channel text, utm_source text, utm_medium text, utm_campaign text, milestones text);
create table marts.fct_group_conversion_journeys (like marts.fct_conversion_journeys, group_id text);
"""
CHANNELS = "array['paid_search', 'email', 'direct', 'organic_search', 'paid_social', 'referral']"
# converted journeys: 1..touches touches, channels spread by a hash of (journey, touch), revenue on half
CONVERTED = f"""
insert into marts.fct_conversion_journeys
select %(account)s, 'live', 'conv_' || c, 'conv_' || c, true,
       %(start)s + make_interval(secs => c * 86399.0 / %(n)s), 'purchase',
       case when c %% 2 = 0 then 10 + c %% 90 end, t,
       %(start)s + make_interval(secs => c * 86399.0 / %(n)s) - make_interval(hours => 1 + %(touches)s - t),
       's_' || c || '_' || t, ({CHANNELS})[1 + abs(hashtext(c || ':' || t)) %% 6],
       'google', 'cpc', 'spring', ''
from generate_series(1, %(n)s) c, generate_series(0, (abs(hashtext(c::text)) %% %(touches)s)) t
"""
PATHS = f"""
insert into marts.fct_conversion_journeys
select %(account)s, 'live', 'path_' || c, null, false, null, null, null, t,
       %(start)s - make_interval(hours => 1 + c %% 48) + make_interval(mins => t),
       'p_' || c || '_' || t, ({CHANNELS})[1 + abs(hashtext('p' || c || ':' || t)) %% 6],
       'google', 'cpc', 'spring', ''
from generate_series(1, %(n)s / 2) c, generate_series(0, (abs(hashtext('p' || c)) %% %(touches)s)) t
"""
TOTALS_PG = """select model, channel, sum(credit)::float8 from attribution.attribution_credits
where run_id = %s group by 1, 2"""


def seed(url: str, accounts: int, conversions: int, touches: int) -> tuple[list[str], int]:
    from mbuzz.accounts import create_account

    ids = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TABLES)
        for n in range(accounts):
            account = create_account(conn, f"Bench {n}").id
            params = {"account": account, "start": START, "n": conversions, "touches": touches}
            conn.execute(CONVERTED, params)
            conn.execute(PATHS, params)
            ids.append(account)
        conn.execute("analyze marts.fct_conversion_journeys")
        rows = conn.execute("select count(*) from marts.fct_conversion_journeys").fetchone()[0]
    return ids, rows


def parquet_copy(url: str, folder: Path) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with psycopg.connect(url) as conn:
        cur = conn.execute("select * from marts.fct_conversion_journeys")
        frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    frame["revenue"] = frame["revenue"].astype(float)
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "part-0.parquet", coerce_timestamps="us")
    return str(folder)


def session(master: str, scratch: Path):
    from mbuzz.spark_attribution import spark_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")  # pyspark on pandas 3, in every worker
    return spark_session(
        master,
        {
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.memory": "4g",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": "4",
            "spark.sql.catalogImplementation": "in-memory",
            "spark.sql.warehouse.dir": str(scratch / "warehouse"),
        },
        app_name="mbuzz-bench-attribution",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversions", type=int, nargs="+", default=[20_000, 100_000], help="per account")
    parser.add_argument("--accounts", type=int, default=2)
    parser.add_argument("--touches", type=int, default=4)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--rules-only", action="store_true", help="no Markov, Shapley or algorithmic")
    args = parser.parse_args()

    from mbuzz.attribution_runs import run_attribution
    from mbuzz.spark_attribution import run_spark_attribution

    print(f"{platform.node()}: {os.cpu_count()} cores, master {args.master}, {args.accounts} accounts, "
          f"data-driven {'off' if args.rules_only else 'on'}")  # fmt: skip
    scratch = Path(tempfile.mkdtemp(prefix="mbuzz-bench-spark-"))
    t = time.perf_counter()
    spark = session(args.master, scratch)
    spark.sparkContext.setLogLevel("ERROR")
    spark.range(1).count()
    started = time.perf_counter() - t
    print(f"Spark session started in {started:.1f}s")
    rows = []
    try:
        for size in args.conversions:
            server, url = fresh_database(NAME)
            try:
                accounts, touch_rows = seed(url, args.accounts, size, args.touches)
                t = time.perf_counter()
                pg = run_attribution(lambda: psycopg.connect(url), START, END, data_driven=not args.rules_only)
                pg_seconds = time.perf_counter() - t
                with psycopg.connect(url) as conn:
                    want = {(m, c): v for m, c, v in conn.execute(TOTALS_PG, (pg.run_id,))}
                journeys = parquet_copy(url, scratch / f"journeys_{size}")
                credits = str(scratch / f"credits_{size}")
                t = time.perf_counter()
                result = run_spark_attribution(
                    spark, START, END, journeys=journeys, credits=credits, accounts=None, account_ids=accounts,
                    custom={}, data_driven=not args.rules_only,
                )  # fmt: skip
                spark_seconds = time.perf_counter() - t
                got = {
                    (r["model"], r["channel"]): r["total"]
                    for r in spark.read.parquet(credits).groupBy("model", "channel").agg({"credit": "sum"})
                    .withColumnRenamed("sum(credit)", "total").collect()
                }  # fmt: skip
                diff = max(abs(got.get(k, 0.0) - v) for k, v in want.items())
                assert set(got) == set(want), sorted(set(got) ^ set(want))[:5]
                assert diff < 1e-6, diff
                rows.append((size * args.accounts, touch_rows, pg.credits_written, pg_seconds, spark_seconds, diff))
                print(f"{size * args.accounts:,} conversions ({touch_rows:,} journey rows): PostgreSQL "
                      f"{pg_seconds:.1f}s, Spark {spark_seconds:.1f}s, {result.credits_written:,} credits, "
                      f"largest total difference {diff:.1e}")  # fmt: skip
            finally:
                drop_database(server, NAME)
    finally:
        spark.stop()
    print("\n| conversions | journey rows | credits | PostgreSQL | Spark | Spark / PostgreSQL |")
    print("|---|---|---|---|---|---|")
    for conversions, touch_rows, credits_written, pg_seconds, spark_seconds, _ in rows:
        print(f"| {conversions:,} | {touch_rows:,} | {credits_written:,} | {pg_seconds:.1f} s | "
              f"{spark_seconds:.1f} s | {spark_seconds / pg_seconds:.2f}× |")  # fmt: skip


if __name__ == "__main__":
    main()
