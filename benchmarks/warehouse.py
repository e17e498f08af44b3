"""Warehouse benchmark: 1M events → `dbt build`, then one more hour incrementally, then the
dashboard queries on the daily aggregates.

    .venv/bin/python benchmarks/warehouse.py [--events 1000000] [--days 60] [--keep]

Uses DATABASE_URL's server (else the embedded one) and a fresh database it drops at the end
(--keep keeps it). Prints wall times and p50/p99 query latencies; targets: full build of 1M
events < 60 s, incremental hour < 10 s, aggregate queries < 100 ms.

Traffic: visitors with 1-8 sessions over the period, 1-8 events a session, a realistic channel
mix (direct, organic search from search-engine referrers, paid search by gclid or UTMs, paid
social by fbclid, email, referrals incl. own-domain self-referrals, organic social, display,
affiliate, video), some client session ids, identify events linking a second device, mql/sql
milestones and conversions with revenue. Credits for the aggregates are written by SQL from the
journeys (first/last touch and linear: enough rows for the dashboard queries; the attribution
engine has its own benchmark).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import secrets
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mbuzz.db import database_url  # noqa: E402
from mbuzz.db.landing import BULK_CONVERSION_COLUMNS, BULK_EVENT_COLUMNS  # noqa: E402
from mbuzz.db.migrate import upgrade  # noqa: E402
from mbuzz.settings import with_database  # noqa: E402
from mbuzz.warehouse import run_dbt  # noqa: E402

SITE = "https://acme-shop.example"
# (weight, url query, referrer)
LANDINGS = [
    (0.22, "", None),
    (0.18, "", "https://www.google.com/"),
    (0.04, "", "https://www.bing.com/search?q=acme"),
    (0.02, "", "https://duckduckgo.com/"),
    (0.07, "?gclid={click}", None),
    (0.04, "?utm_source=google&utm_medium=cpc&utm_campaign=brand", None),
    (0.05, "?fbclid={click}", "https://l.facebook.com/"),
    (0.03, "?utm_source=facebook&utm_medium=paid_social&utm_campaign=spring_sale", None),
    (0.07, "?utm_source=newsletter&utm_medium=email&utm_campaign=weekly_{n}", None),
    (0.05, "", "https://news.example.org/review"),
    (0.03, "", "https://blog.acme-shop.example/post"),  # self-referral (own domain)
    (0.05, "", "https://t.co/xyz"),
    (0.03, "", "https://www.reddit.com/r/shopping"),
    (0.03, "?utm_source=adnet&utm_medium=display&utm_campaign=retarget_{n}", None),
    (0.02, "?utm_source=partner{n}&utm_medium=affiliate", None),
    (0.02, "", "https://www.youtube.com/watch?v=1"),
    (0.02, "?utm_source=tiktok&utm_medium=paid&utm_campaign=launch", None),
    (0.03, "?utm_source=partner&utm_medium=referral", None),
]
PAGES = ["/", "/pricing", "/product/1", "/product/2", "/cart", "/blog/post", "/about", "/checkout"]


def generate(
    n_events: int,
    start: datetime,
    days: float,
    rng: np.random.Generator,
    account_ids: list[str],
    prefix: str = "e",
    visitor_offset: int = 0,
):
    """Rows of raw.events and raw.conversions (as tuples for COPY / INSERT)."""
    weights = np.array([w for w, _, _ in LANDINGS])
    weights /= weights.sum()
    events, conversions = [], []
    seconds = days * 86400
    visitor = visitor_offset
    n = 0
    while n < n_events:
        visitor += 1
        account = account_ids[0] if rng.random() < 0.8 else account_ids[1 + int(rng.integers(len(account_ids) - 1))]
        vid = f"vis_{prefix}{visitor}"
        user = f"user_{prefix}{visitor}" if rng.random() < 0.12 else None
        first = rng.random() * seconds
        n_sessions = int(min(8, 1 + rng.geometric(0.55) - 1))
        t = first
        mql_done = False
        for s in range(n_sessions):
            if s:
                t += rng.exponential(4 * 86400)
            if t > seconds:
                break
            landing = LANDINGS[int(rng.choice(len(LANDINGS), p=weights))]
            query = landing[1].format(click=secrets.token_hex(6), n=int(rng.integers(1, 6)))
            client_session = f"cs_{prefix}{visitor}_{s}" if rng.random() < 0.3 else None
            n_ev = int(min(8, rng.geometric(0.35)))
            at = t
            for e in range(n_ev):
                if e:
                    at += rng.exponential(120)
                occurred = start + timedelta(seconds=at)
                props = {"url": SITE + PAGES[int(rng.integers(len(PAGES)))] + (query if e == 0 else "")}
                if e == 0 and landing[2]:
                    props["referrer"] = landing[2]
                kind = "page_view"
                if user and e == 1 and s == 0:
                    kind = "identify"
                elif not mql_done and e == n_ev - 1 and rng.random() < 0.08:
                    kind, mql_done = "mql", True
                n += 1
                events.append(
                    (
                        account,
                        f"{prefix}{n}",
                        "live",
                        kind,
                        vid,
                        user if kind == "identify" else None,
                        client_session,
                        occurred,
                        occurred + timedelta(seconds=float(rng.uniform(0.2, 5))),
                        json.dumps(props),
                    )
                )
            t = at
        if rng.random() < 0.06 and t <= seconds:
            converted = start + timedelta(seconds=t + 60)
            conversions.append(
                (
                    account,
                    f"conv_{prefix}{visitor}",
                    "live",
                    "purchase",
                    vid,
                    None,
                    round(float(rng.gamma(2.0, 40.0)), 2),
                    "EUR",
                    converted,
                    converted,
                )
            )
    return events, conversions, visitor


EVENT_COLS = BULK_EVENT_COLUMNS
CONV_COLS = BULK_CONVERSION_COLUMNS


def copy(conn, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    with conn.cursor() as cur:
        with cur.copy(f"copy {table} ({', '.join(columns)}) from stdin") as cp:
            for row in rows:
                cp.write_row(row)


CREDITS_SQL = """
insert into attribution.attribution_credits
    (account_id, credit_id, run_id, environment, model, conversion_id, conversion_type, converted_at,
     touch_index, session_id, channel, credit, revenue_credit, utm_source, utm_medium, utm_campaign)
select j.account_id, 'cred_' || m.model || '_' || j.journey_id || '_' || coalesce(j.touch_index, 0), 'run_bench',
       j.environment, m.model, j.conversion_id, j.conversion_type, j.conversion_ts, coalesce(j.touch_index, 0),
       j.session_id, coalesce(j.channel, 'unassigned'), c.credit, c.credit * j.revenue,
       j.utm_source, j.utm_medium, j.utm_campaign
from (
    select *, count(*) over (partition by account_id, journey_id) as n
    from marts.fct_conversion_journeys where converted
) as j
cross join (values ('first_touch'), ('last_touch'), ('linear'), ('u_shaped'), ('time_decay'), ('w_shaped')) as m (model)
cross join lateral (
    select case m.model
        when 'first_touch' then case when coalesce(j.touch_index, 0) = 0 then 1.0 else 0 end
        when 'last_touch' then case when coalesce(j.touch_index, 0) = j.n - 1 then 1.0 else 0 end
        else 1.0 / j.n end::float8 as credit
) as c
"""

QUERIES = {
    "channel report (model, 30 days)": """
        select channel, sum(conversions), sum(revenue), sum(touches)
        from marts.channel_attribution_daily
        where account_id = %(a)s and environment = 'live' and model = 'linear' and day >= %(f)s and day < %(t)s
        group by channel order by 2 desc""",
    "models side by side (90 days)": """
        select model, channel, sum(conversions), sum(revenue)
        from marts.channel_attribution_daily
        where account_id = %(a)s and environment = 'live' and day >= %(f90)s and day < %(t)s
        group by model, channel order by model, 3 desc""",
    "daily series (one channel)": """
        select day, sum(conversions), sum(revenue) from marts.channel_attribution_daily
        where account_id = %(a)s and environment = 'live' and model = 'u_shaped' and channel = 'paid_search'
          and day >= %(f90)s and day < %(t)s
        group by day order by day""",
    "top 10 campaigns (30 days)": """
        select utm_source, utm_medium, utm_campaign, sum(conversions), sum(revenue)
        from marts.source_attribution_daily
        where account_id = %(a)s and environment = 'live' and model = 'linear' and day >= %(f)s and day < %(t)s
        group by 1, 2, 3 order by 4 desc limit 10""",
}


def timed(label: str, fn, results: dict) -> None:
    t = time.perf_counter()
    fn()
    results[label] = time.perf_counter() - t
    print(f"  {label:<44} {results[label]:8.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=60)
    parser.add_argument(
        "--hour-events", type=int, default=None, help="events in the extra hour (default: the hourly rate)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--subprocess",
        action="store_true",
        help="run each dbt command as a new `dbt` process (default: in this process, as the "
        "Dagster pipeline does; dbt's import is paid once, before the timings)",
    )
    args = parser.parse_args()

    server = database_url()
    name = f"mbuzz_bench_wh_{secrets.token_hex(3)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(server, name)
    results: dict[str, float] = {}
    try:
        upgrade(url)
        rng = np.random.default_rng(20261125)
        accounts = ["acct_bench_main", "acct_bench_b", "acct_bench_c"]
        start = datetime(2026, 9, 1, tzinfo=timezone.utc)
        end = start + timedelta(days=args.days)
        print(f"database {name}; generating {args.events:,} events over {args.days:g} days", flush=True)
        t = time.perf_counter()
        events, conversions, last_visitor = generate(args.events, start, args.days, rng, accounts)
        results["generate"] = time.perf_counter() - t
        print(f"  generated {len(events):,} events, {len(conversions):,} conversions in {results['generate']:.1f} s")
        with psycopg.connect(url) as conn:
            for account in accounts:
                conn.execute(
                    "insert into raw.accounts (id, name, settings) values (%s, %s, %s)",
                    (account, account, json.dumps({"own_domains": ["acme-shop.example"]})),
                )
            timed(
                "load (COPY)",
                lambda: (
                    copy(conn, "raw.events", EVENT_COLS, events),
                    copy(conn, "raw.conversions", CONV_COLS, conversions),
                ),
                results,
            )
            conn.commit()
            conn.execute("analyze raw.events")
            conn.execute("analyze raw.conversions")
            conn.commit()

        target_path = Path(__file__).resolve().parent.parent / "target" / "bench"

        def dbt(*a):
            run_dbt(
                list(a),
                url=url,
                target="postgres",
                threads=args.threads,
                subprocess_mode=args.subprocess,
                target_path=str(target_path),
            )
            # dbt's own elapsed time (the rest of the wall time is process start-up and parsing)
            # and the slowest nodes
            run = json.loads((target_path / "run_results.json").read_text())
            slowest = sorted(run["results"], key=lambda r: -r["execution_time"])[:4]
            print(
                f"    (dbt elapsed {run['elapsed_time']:.1f} s; slowest: "
                + ", ".join(
                    f"{r['unique_id'].split('.')[-1] if r['unique_id'].startswith('model') else r['unique_id'].split('.')[2]}"
                    f" {r['execution_time']:.1f} s"
                    for r in slowest
                )
                + ")"
            )

        if not args.subprocess:
            t = time.perf_counter()
            importlib.import_module("dbt.cli.main")  # what a warm process has already paid
            print(f"dbt imported in {time.perf_counter() - t:.1f} s (not counted below)")
        print(f"dbt ({'a new process per command' if args.subprocess else 'in-process'}, postgres target):", flush=True)
        timed("dbt build, full (1M events, with tests)", lambda: dbt("build"), results)
        counts = {}
        with psycopg.connect(url) as conn:
            for table in ("marts.fct_sessions", "marts.fct_conversion_journeys", "marts.fct_conversions"):
                counts[table] = conn.execute(f"select count(*) from {table}").fetchone()[0]
        print("  rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

        # one more hour of traffic at the same rate, plus a few late events of the last days
        hour_events = args.hour_events or max(1, int(args.events / (args.days * 24)))
        hour_rng = np.random.default_rng(7)
        more, more_conv, _ = generate(hour_events, end, 1 / 24, hour_rng, accounts, prefix="h", visitor_offset=0)
        late = [
            (e[0], "late" + e[1], *e[2:7], e[7] - timedelta(days=2), e[8], e[9])
            for e in more[: max(1, hour_events // 20)]
        ]
        with psycopg.connect(url) as conn:
            copy(conn, "raw.events", EVENT_COLS, more + late)
            copy(conn, "raw.conversions", CONV_COLS, more_conv)
            conn.commit()
        print(f"one more hour: {len(more):,} events (+{len(late)} late ones), {len(more_conv)} conversions", flush=True)
        timed("dbt run, incremental hour (models only)", lambda: dbt("run", "--exclude", "tag:credits"), results)
        timed("dbt build, incremental hour (with tests)", lambda: dbt("build", "--exclude", "tag:credits"), results)

        with psycopg.connect(url) as conn:
            t = time.perf_counter()
            conn.execute(CREDITS_SQL)
            conn.commit()
            n_credits = conn.execute("select count(*) from attribution.attribution_credits").fetchone()[0]
        print(f"credits written: {n_credits:,} ({time.perf_counter() - t:.1f} s)")
        timed("dbt build -s tag:credits (marts + aggregates)", lambda: dbt("build", "-s", "tag:credits"), results)

        params = {"a": accounts[0], "t": end, "f": end - timedelta(days=30), "f90": end - timedelta(days=90)}
        print("aggregate queries (200 runs each, one connection):")
        with psycopg.connect(url, autocommit=True) as conn:
            for label, query in QUERIES.items():
                for _ in range(10):
                    conn.execute(query, params).fetchall()
                samples = []
                for _ in range(200):
                    t = time.perf_counter()
                    conn.execute(query, params).fetchall()
                    samples.append((time.perf_counter() - t) * 1000)
                p50 = statistics.median(samples)
                p99 = float(np.percentile(samples, 99))
                results[f"q:{label}:p50"], results[f"q:{label}:p99"] = p50, p99
                print(f"  {label:<44} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
        print()
        print(
            f"targets: full build < 60 s ({results['dbt build, full (1M events, with tests)']:.1f}), "
            f"incremental hour < 10 s ({results['dbt run, incremental hour (models only)']:.1f} run / "
            f"{results['dbt build, incremental hour (with tests)']:.1f} build), "
            f"aggregate queries < 100 ms (worst p99 {max(v for k, v in results.items() if k.endswith(':p99')):.1f})"
        )
    finally:
        if not args.keep:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        else:
            print(f"kept database {name}: {url}")


if __name__ == "__main__":
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    main()
