"""Ingestion benchmark: `mbuzz serve` under load vs. a raw COPY of the same rows.

    .venv/bin/python benchmarks/ingest.py [--seconds 20] [--clients 3] [--workers 2] [--threads 4]

Starts `mbuzz serve` (gunicorn, 2+ workers) against the real PostgreSQL
(DATABASE_URL, or the embedded server), drives it from separate client
processes that POST batches of 100 events (keep-alive HTTP, closed loop) for a
bounded time, then prints events/s accepted, p50/p99 latency per batch, and
the rows counted in the database (which must equal the accepted count). In
the same run it COPYs the same number of equivalent rows straight into
raw.events and prints that rate and the ratio. Not a test: figures only.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BATCH = 100
TIER = "benchmark"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def event_json(run: str, client: int, seq: int, i: int) -> str:
    visitor = f"vis_{client}_{(seq * BATCH + i) % 5000}"
    return (
        '{"event_type":"page_view","visitor_id":"%s","session_id":"sess_%s_%d","event_id":"%s-%d-%d-%d",'
        '"properties":{"url":"https://shop.example.com/p/%d?utm_source=google&utm_medium=cpc",'
        '"referrer":"https://www.google.com/","utm_source":"google","utm_medium":"cpc",'
        '"utm_campaign":"black_friday","gclid":"EAIaIQob%d"}}'
        % (visitor, visitor, seq // 10, run, client, seq, i, i, seq)
    )


def drive(port: int, key: str, run: str, client: int, seconds: float, start_at: float, out) -> None:
    """One client process: POST batches back to back until time is up; report latencies and counts."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    latencies, accepted, duplicates, rejected, errors = [], 0, 0, 0, 0
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    seq = 0
    while time.time() < deadline:
        body = '{"events":[' + ",".join(event_json(run, client, seq, i) for i in range(BATCH)) + "]}"
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/events", body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        latencies.append(time.perf_counter() - t0)
        if response.status == 202:
            result = json.loads(data)
            accepted += result["accepted"]
            duplicates += result["duplicates"]
            rejected += len(result["rejected"])
        else:
            errors += 1
        seq += 1
    out.put({"latencies": latencies, "accepted": accepted, "duplicates": duplicates,
             "rejected": rejected, "errors": errors})


def copy_rate(url: str, account_id: str, rows: int) -> float:
    """Rows/s of one COPY of `rows` equivalent events into raw.events, committed (rows built beforehand)."""
    now = datetime.now(timezone.utc)
    prepared = []
    for n in range(rows):
        seq, i = divmod(n, BATCH)
        item = json.loads(event_json("copy", 0, seq, i))
        prepared.append((account_id, item["event_id"], "live", "page_view", item["visitor_id"], item["session_id"],
                         now, now, json.dumps(item["properties"]), "{}", None, "api"))
    with psycopg.connect(url) as conn:
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
            "copy raw.events (account_id, event_id, environment, event_type, visitor_id, session_id, "
            "occurred_at, received_at, properties, context, api_key_id, source) from stdin"
        ) as copy:
            for row in prepared:
                copy.write_row(row)
        conn.commit()
        return rows / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=3, help="client processes (closed loop each)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    from mbuzz.accounts import create_account, create_key
    from mbuzz.db import database_url
    from mbuzz.db.migrate import upgrade
    from mbuzz.settings import mask_url

    url = database_url(start=True)
    upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        account = create_account(conn, f"bench {secrets.token_hex(3)}", tier=TIER)
        copy_account = create_account(conn, f"bench-copy {secrets.token_hex(3)}", tier=TIER)
        key = create_key(conn, account.id, "live").plaintext

    port = free_port()
    env = {**os.environ, "DATABASE_URL": url,
           "MBUZZ_RATE_LIMIT_TIERS": json.dumps({TIER: "1000000/second", "default": "1000/second"}),
           "MBUZZ_RATELIMIT_KEY_PREFIX": f"bench-{secrets.token_hex(4)}"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mbuzz"), "serve", "--port", str(port), "--workers", str(args.workers),
         "--threads", str(args.threads), "--no-access-log", "--no-migrate"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                probe.request("GET", "/api/v1/health")
                if probe.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit("mbuzz serve did not start")
            time.sleep(0.2)

        run = secrets.token_hex(3)
        out: mp.Queue = mp.Queue()
        start_at = time.time() + 1.0
        clients = [mp.Process(target=drive, args=(port, key, run, c, args.seconds, start_at, out))
                   for c in range(args.clients)]
        for c in clients:
            c.start()
        results = [out.get() for _ in clients]
        for c in clients:
            c.join()
    finally:
        server.terminate()
        server.wait(timeout=30)

    latencies = sorted(x for r in results for x in r["latencies"])
    accepted = sum(r["accepted"] for r in results)
    errors = sum(r["errors"] for r in results)
    with psycopg.connect(url, autocommit=True) as conn:
        counted = conn.execute("select count(*) from raw.events where account_id = %s", (account.id,)).fetchone()[0]
    copy_rows = max(accepted, 10_000)
    copied = copy_rate(url, copy_account.id, copy_rows)
    http_rate = accepted / args.seconds
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000

    print(f"machine         {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"database        {mask_url(url)}")
    print(f"server          mbuzz serve --workers {args.workers} --threads {args.threads} (gunicorn)")
    print(f"load            {args.clients} client processes, batches of {BATCH}, {args.seconds:.0f} s")
    print(f"batches         {len(latencies)} ({errors} non-202)")
    print(f"accepted        {accepted} events -> {http_rate:,.0f} events/s")
    print(f"latency/batch   p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"rows in DB      {counted} ({'== accepted' if counted == accepted else 'MISMATCH: accepted ' + str(accepted)})")
    print(f"raw COPY        {copy_rows} rows -> {copied:,.0f} rows/s")
    print(f"ratio           {http_rate / copied:.0%} of raw COPY")

    with psycopg.connect(url, autocommit=True) as conn:  # leave the database as we found it
        for table in ("raw.events", "raw.event_keys", "raw.api_keys"):
            conn.execute(f"delete from {table} where account_id = any(%s)", ([account.id, copy_account.id],))
        conn.execute("delete from raw.accounts where id = any(%s)", ([account.id, copy_account.id],))
    if counted != accepted:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
