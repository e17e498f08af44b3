"""A worker killed mid-load (SIGKILL, as an OOM kill would): gunicorn replaces it, every batch
answered 202 is stored, and clients that retry what failed end with every event stored once.
Bounded: 3 client threads x 60 batches of 20 events, to 127.0.0.1 only."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from ingest_helpers import SESSION_PREFIX, event, start_server, stop_server

pytestmark = pytest.mark.slow

CLIENTS, BATCHES, PER_BATCH = 3, 60, 20


def workers_of(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def test_killing_a_worker_mid_load_loses_nothing(database_url, conn, tenant, tmp_path):
    server = start_server(database_url, tmp_path / "server.log", f"{SESSION_PREFIX}-faults")
    try:
        headers = tenant.bearer()
        outcomes: dict[tuple[int, int], tuple[int | None, list[str], list[dict]]] = {}
        sent = threading.Event()

        def client(c: int) -> None:
            session = requests.Session()
            for b in range(BATCHES):
                events = [event() for _ in range(PER_BATCH)]
                try:
                    status = session.post(f"{server.url}/api/v1/events", json={"events": events},
                                          headers=headers, timeout=10).status_code
                except requests.RequestException:
                    status = None  # the connection died with the worker
                outcomes[(c, b)] = (status, [e["event_id"] for e in events], events)
                if len(outcomes) >= CLIENTS * BATCHES // 3:
                    sent.set()

        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        for thread in threads:
            thread.start()
        assert sent.wait(60)
        before = workers_of(server.process.pid)
        assert len(before) == 2
        os.kill(before[0], signal.SIGKILL)
        assert len(outcomes) < CLIENTS * BATCHES  # mid-load: the clients are still sending
        for thread in threads:
            thread.join(120)

        answered = {key: ids for key, (status, ids, _) in outcomes.items() if status == 202}
        failed = {key: events for key, (status, _, events) in outcomes.items() if status != 202}
        stored = {r[0] for r in conn.execute("select event_id from raw.events where account_id = %s",
                                             (tenant.account_id,))}
        # what was answered 202 was committed first
        assert all(set(ids) <= stored for ids in answered.values())
        # clients retry what failed: all of it lands, once
        for events in failed.values():
            response = requests.post(f"{server.url}/api/v1/events", json={"events": events}, headers=headers,
                                     timeout=10)
            assert response.status_code == 202, response.text
        count, distinct = conn.execute(
            "select count(*), count(distinct event_id) from raw.events where account_id = %s",
            (tenant.account_id,)).fetchone()
        assert count == distinct == CLIENTS * BATCHES * PER_BATCH

        # gunicorn replaced the worker and the server still answers
        deadline = time.monotonic() + 30
        while len(workers_of(server.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        after = workers_of(server.process.pid)
        assert len(after) == 2 and before[0] not in after
        assert requests.get(f"{server.url}/api/v1/health", timeout=5).status_code == 200
    finally:
        stop_server(server)
