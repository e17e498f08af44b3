"""Ingestion benchmark: `mbuzz serve` under load vs. a raw COPY of the same rows.

    .venv/bin/python benchmarks/ingest.py [--seconds 20] [--clients 3] [--workers 2] [--threads 4] [--repeat N]

Starts `mbuzz serve` (gunicorn, 2+ workers) against the real PostgreSQL
(DATABASE_URL, or the embedded server), drives it from separate client
processes that POST batches of 100 events (keep-alive HTTP, closed loop) for a
bounded time, then prints events/s accepted, p50/p99 latency per batch, and
the rows counted in the database (which must equal the accepted count). In
the same run it COPYs the same number of equivalent rows straight into
raw.events and prints that rate and the ratio; `--repeat N` measures N times
(fresh account and server each) and prints the medians. Not a test: figures only.
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

import psutil
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


def batch_body(run: str, client: int, seq: int) -> bytes:
    return ('{"events":[' + ",".join(event_json(run, client, seq, i) for i in range(BATCH)) + "]}").encode()


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive client for one request at a time: the load generator shares the
    2 cores with the server, and http.client's header parsing cost it ~0.3 ms of CPU per batch."""

    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.head = (
            f"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        )
        self.sock: socket.socket | None = None
        self.buffer = b""

    def post(self, body: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        self.sock.sendall((self.head % len(body)).encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        length = int(fields.get("content-length", "0"))
        while len(rest) < length:
            rest += self._recv()
        data, self.buffer = rest[:length], rest[length:]
        if fields.get("connection", "").lower() == "close":
            self.sock.close()
            self.sock = None
        return status, data

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk


def drive(port: int, key: str, run: str, client: int, seconds: float, prebuilt: int, built, ready, out) -> None:
    """One client process: POST batches back to back until time is up; report latencies and counts.

    The first `prebuilt` bodies are built before the clock starts (as the COPY reference's rows
    are), so the load generator's own CPU takes less from the server on a small machine."""
    bodies = [batch_body(run, client, seq) for seq in range(prebuilt)]
    client_conn = KeepAliveClient(port, key)
    latencies, accepted, duplicates, rejected, errors = [], 0, 0, 0, 0
    built.put(client)
    start_at = ready.get()
    while time.time() < start_at:
        time.sleep(0.001)
    cpu_start = sum(os.times()[:2])
    deadline = start_at + seconds
    seq = 0
    while time.time() < deadline:
        body = bodies[seq] if seq < prebuilt else batch_body(run, client, seq)
        t0 = time.perf_counter()
        status, data = client_conn.post(body)
        latencies.append(time.perf_counter() - t0)
        if status == 202:
            result = json.loads(data)
            accepted += result["accepted"]
            duplicates += result["duplicates"]
            rejected += len(result["rejected"])
        else:
            errors += 1
        seq += 1
    out.put(
        {
            "latencies": latencies,
            "accepted": accepted,
            "duplicates": duplicates,
            "rejected": rejected,
            "errors": errors,
            "cpu": sum(os.times()[:2]) - cpu_start,
        }
    )


def cpu_by_process(server_pid: int) -> dict[tuple[str, int], float]:
    """CPU seconds (user + system) used so far by each server-side process: gunicorn (master and
    workers), PostgreSQL (backends and its writers), Redis; keyed by (group, pid)."""
    server = psutil.Process(server_pid)
    processes = [("mbuzz serve", p) for p in (server, *server.children(recursive=True))]
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in ("postgres", "postmaster"):
            processes.append(("PostgreSQL", process))
        elif process.info["name"] == "redis-server":
            processes.append(("Redis", process))
    spent = {}
    for group, process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        spent[(group, process.pid)] = times.user + times.system
    return spent


def cpu_used(before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]) -> dict[str, float]:
    """CPU seconds per group between two snapshots; a process born in between counts whole."""
    used = {"mbuzz serve": 0.0, "PostgreSQL": 0.0, "Redis": 0.0}
    for (group, pid), spent in after.items():
        used[group] += spent - before.get((group, pid), 0.0)
    return used


def copy_rate(url: str, account_id: str, rows: int) -> float:
    """Rows/s of one COPY of `rows` equivalent events into raw.events, committed (rows built beforehand)."""
    now = datetime.now(timezone.utc)
    prepared = []
    for n in range(rows):
        seq, i = divmod(n, BATCH)
        item = json.loads(event_json("copy", 0, seq, i))
        prepared.append(
            (
                account_id,
                item["event_id"],
                "live",
                "page_view",
                item["visitor_id"],
                item["session_id"],
                now,
                now,
                json.dumps(item["properties"]),
                "{}",
                None,
                "api",
            )
        )
    with psycopg.connect(url) as conn:
        conn.execute("checkpoint")
        conn.commit()
        t0 = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "copy raw.events (account_id, event_id, environment, event_type, visitor_id, session_id, "
                "occurred_at, received_at, properties, context, api_key_id, source) from stdin"
            ) as copy,
        ):
            for row in prepared:
                copy.write_row(row)
        conn.commit()
        return rows / (time.perf_counter() - t0)


def start_server(url: str, args) -> tuple[subprocess.Popen, int]:
    """`mbuzz serve` on a free port, waited for until /health answers."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "MBUZZ_RATE_LIMIT_TIERS": json.dumps({TIER: "1000000/second", "default": "1000/second"}),
        "MBUZZ_RATELIMIT_KEY_PREFIX": f"bench-{secrets.token_hex(4)}",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mbuzz"),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--no-access-log",
            "--no-migrate",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    deadline = time.time() + 60
    while True:
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            probe.request("GET", "/api/v1/health")
            if probe.getresponse().status == 200:
                return server, port
        except OSError:
            pass
        if time.time() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit("mbuzz serve did not start")
        time.sleep(0.2)


def one_run(url: str, args, accounts: list[str]) -> dict:
    """One measurement: a fresh account and server, the HTTP phase, the row count, the COPY phase."""
    from mbuzz.accounts import create_account, create_key

    with psycopg.connect(url, autocommit=True) as conn:
        account = create_account(conn, f"bench {secrets.token_hex(3)}", tier=TIER)
        copy_account = create_account(conn, f"bench-copy {secrets.token_hex(3)}", tier=TIER)
        key = create_key(conn, account.id, "live").plaintext
    accounts += [account.id, copy_account.id]
    server, port = start_server(url, args)
    try:
        run = secrets.token_hex(3)
        out: mp.Queue = mp.Queue()
        built: mp.Queue = mp.Queue()
        ready: mp.Queue = mp.Queue()
        prebuilt = int(args.seconds * 15_000 / BATCH / args.clients)  # up to 15k events/s per client
        clients = [
            mp.Process(target=drive, args=(port, key, run, c, args.seconds, prebuilt, built, ready, out))
            for c in range(args.clients)
        ]
        for c in clients:
            c.start()
        for _ in clients:
            built.get()
        with psycopg.connect(url, autocommit=True) as conn:  # both phases start from a fresh checkpoint
            conn.execute("checkpoint")
        start_at = time.time() + 0.2
        for _ in clients:
            ready.put(start_at)
        while time.time() < start_at:
            time.sleep(0.001)
        cpu_before = cpu_by_process(server.pid)
        results = [out.get() for _ in clients]
        cpu = cpu_used(cpu_before, cpu_by_process(server.pid))
        for c in clients:
            c.join()
    finally:
        server.terminate()
        server.wait(timeout=30)

    latencies = sorted(x for r in results for x in r["latencies"])
    accepted = sum(r["accepted"] for r in results)
    with psycopg.connect(url, autocommit=True) as conn:
        counted = conn.execute("select count(*) from raw.events where account_id = %s", (account.id,)).fetchone()[0]
    copy_rows = max(accepted, 10_000)
    cpu["clients"] = sum(r["cpu"] for r in results)
    return {
        "batches": len(latencies),
        "errors": sum(r["errors"] for r in results),
        "accepted": accepted,
        "rate": accepted / args.seconds,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "cpu": cpu,
        "counted": counted,
        "copy_rows": copy_rows,
        "copy_rate": copy_rate(url, copy_account.id, copy_rows),
    }


def report(r: dict, args) -> None:
    print(f"batches         {r['batches']} ({r['errors']} non-202)")
    print(f"accepted        {r['accepted']} events -> {r['rate']:,.0f} events/s")
    print(f"latency/batch   p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms")
    batches = max(1, r["batches"])
    cpu = r["cpu"]
    print(
        "CPU per batch   "
        + ", ".join(f"{name} {spent / batches * 1000:.2f} ms" for name, spent in cpu.items())
        + f" (total {sum(cpu.values()) / batches * 1000:.2f} ms, {sum(cpu.values()) / args.seconds:.2f} of"
        f" {os.cpu_count()} cores)"
    )
    same = r["counted"] == r["accepted"]
    print(f"rows in DB      {r['counted']} ({'== accepted' if same else 'MISMATCH: accepted ' + str(r['accepted'])})")
    print(f"raw COPY        {r['copy_rows']} rows -> {r['copy_rate']:,.0f} rows/s")
    print(f"ratio           {r['rate'] / r['copy_rate']:.0%} of raw COPY")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=3, help="client processes (closed loop each)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1, help="measurements (each with both phases); medians shown")
    args = parser.parse_args()

    from mbuzz.db import database_url
    from mbuzz.db.migrate import upgrade
    from mbuzz.settings import mask_url

    url = database_url(start=True)
    upgrade(url)
    print(f"machine         {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"database        {mask_url(url)}")
    print(f"server          mbuzz serve --workers {args.workers} --threads {args.threads} (gunicorn)")
    print(f"load            {args.clients} client processes, batches of {BATCH}, {args.seconds:.0f} s")
    accounts: list[str] = []
    runs = []
    try:
        for n in range(args.repeat):
            if args.repeat > 1:
                print(f"-- run {n + 1} of {args.repeat}")
            runs.append(one_run(url, args, accounts))
            report(runs[-1], args)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:  # leave the database as we found it
            for table in ("raw.events", "raw.event_keys", "raw.api_keys"):
                conn.execute(f"delete from {table} where account_id = any(%s)", (accounts,))
            conn.execute("delete from raw.accounts where id = any(%s)", (accounts,))
            conn.execute("vacuum raw.events, raw.event_keys")
    if len(runs) > 1:
        ratios = sorted(r["rate"] / r["copy_rate"] for r in runs)
        print(
            f"-- {len(runs)} runs: events/s median {statistics.median(r['rate'] for r in runs):,.0f}"
            f" (min {min(r['rate'] for r in runs):,.0f}), p99 max {max(r['p99'] for r in runs):.1f} ms,"
            f" raw COPY median {statistics.median(r['copy_rate'] for r in runs):,.0f} rows/s,"
            f" ratio median {statistics.median(ratios):.0%} (runs: {', '.join(f'{x:.0%}' for x in ratios)})"
        )
    if any(r["counted"] != r["accepted"] for r in runs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
