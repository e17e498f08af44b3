"""Lake landing benchmark: `mbuzz lake land` (mbuzz/lake.py) against reading the same rows out of
PostgreSQL with COPY, in one run.

    .venv/bin/python benchmarks/lake.py [--visitors 40000] [--days 30] [--accounts 4] [--repeat 3]

Uses DATABASE_URL's server (else the embedded one) and a fresh database it drops at the end.
It lands the demo's traffic generator's histories for a few accounts (streamed: received when
they happened, so nothing is held back by the margin), then, per repeat, into an empty lake:

- the reference: `COPY (select <the lake's columns> … order by received_at) TO STDOUT` of events,
  conversions and spend (binary), the floor of getting the rows out of the database at all;
- the landing: `lake.land` (the same rows, typed into Arrow, written as Parquet partitioned by
  account and day, the state file committed);
- a second landing into the same lake, which must copy nothing.

Prints rows, seconds, the ratio landing / COPY and the lake's size on disk.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mbuzz import lake  # noqa: E402
from mbuzz.accounts import create_account  # noqa: E402
from mbuzz.db import database_url  # noqa: E402
from mbuzz.db.migrate import upgrade  # noqa: E402
from mbuzz.demo.traffic import generate, load_direct  # noqa: E402
from mbuzz.settings import with_database  # noqa: E402


def copy_out(conn) -> int:
    """Every lake column of every copied table out of PostgreSQL with COPY; returns the bytes read."""
    total = 0
    for table in lake.TABLES:
        query = f"copy (select account_id, {table.select()} from raw.{table.name} order by received_at) to stdout (format binary)"
        with conn.cursor().copy(query) as copy:
            for block in copy:
                total += len(block)
    return total


def lake_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*.parquet"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=40_000, help="visitors per account")
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--accounts", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    server = database_url()
    name = f"bench_lake_{int(time.time())}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(server, name)
    try:
        upgrade(url)
        end = datetime.now(timezone.utc) - timedelta(hours=1)
        with psycopg.connect(url, autocommit=True) as conn:
            started = time.perf_counter()
            for n in range(args.accounts):
                account = create_account(conn, f"Lake bench {n}").id
                load_direct(
                    conn,
                    account,
                    generate(visitors=args.visitors, days=args.days, seed=n, end=end, prefix=f"b{n}"),
                    streamed=True,
                )
                print(
                    f"  landed account {n + 1}/{args.accounts} in PostgreSQL ({time.perf_counter() - started:.0f} s)",
                    file=sys.stderr,
                )
            counts = {t.name: conn.execute(f"select count(*) from raw.{t.name}").fetchone()[0] for t in lake.TABLES}
            conn.execute("vacuum analyze")
        print("rows: " + ", ".join(f"{rows:,} {table}" for table, rows in counts.items()))

        copies, lands, reruns = [], [], []
        with psycopg.connect(url) as conn:
            copy_out(conn)  # warm the page cache for both
            for run in range(args.repeat):
                root = Path(tempfile.mkdtemp(prefix="mbuzz-lake-bench-"))
                try:
                    started = time.perf_counter()
                    copied_bytes = copy_out(conn)
                    copies.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    result = lake.land(conn, str(root))
                    lands.append(time.perf_counter() - started)
                    assert result.copied == counts, (result.copied, counts)
                    started = time.perf_counter()
                    again = lake.land(conn, str(root))
                    reruns.append(time.perf_counter() - started)
                    assert not any(again.copied.values()), again.copied
                    size = lake_bytes(root)
                finally:
                    shutil.rmtree(root, ignore_errors=True)
                print(
                    f"  run {run + 1}: COPY {copies[-1]:.2f} s, land {lands[-1]:.2f} s, rerun {reruns[-1]:.2f} s",
                    file=sys.stderr,
                )

        copy_s, land_s, rerun_s = (statistics.median(xs) for xs in (copies, lands, reruns))
        print(
            f"COPY out (binary, {copied_bytes / 1e6:.0f} MB): median {copy_s:.2f} s "
            f"({', '.join(f'{x:.2f}' for x in copies)})"
        )
        print(
            f"lake land (Parquet, {size / 1e6:.0f} MB): median {land_s:.2f} s ({', '.join(f'{x:.2f}' for x in lands)})"
        )
        print(
            f"ratio land / COPY: {land_s / copy_s:.2f}x (median of pairs "
            f"{statistics.median(land / copy for land, copy in zip(lands, copies)):.2f}x)"
        )
        print(f"rerun with nothing new: median {rerun_s:.3f} s, 0 rows copied")
        print(f"rows/s landed: {sum(counts.values()) / land_s:,.0f}")
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
