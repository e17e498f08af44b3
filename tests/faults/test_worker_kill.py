"""A worker killed mid-batch (SIGKILL, as an OOM kill would), gunicorn with 2 workers: gunicorn
replaces it, every batch answered 202 is stored, and clients that retry what got no answer (the
same events, same ids) end with every event stored once, however often a batch was sent.
Each kill aims at a worker holding a client's connection (a request in flight) and is repeated
(at most 5 times) until it cut at least one request off: mid-batch, not between batches.
Bounded: 3 clients × 300 batches of 100 events, 20 ms apart (the load outlasts the kills),
retried until acknowledged or 90 s."""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests
from fault_helpers import Load, assert_acked_equals_stored, busy_worker, make_tenant, workers_of

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def test_killing_a_worker_mid_batch_loses_nothing_and_stores_retries_once(api, database_url):
    tenant = make_tenant(database_url)
    load = Load(api.url, tenant.headers, clients=3, batches=300, per_batch=100, pause=0.05, interval=0.02).start()
    load.wait_for(load.total // 5)
    killed = []
    port = int(api.url.rsplit(":", 1)[1])
    for _ in range(5):
        assert len(workers_of(api.process.pid)) == 2
        victim = busy_worker(api.process.pid, port)
        assert victim is not None, "no worker was serving a request while the load ran"
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)
        time.sleep(0.5)
        if any(a.status is None for a in load.answers):  # a request the dead worker was serving
            break
        deadline = time.monotonic() + 30  # wait for the replacement before the next try
        while len(workers_of(api.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert load.running(), "the load ended before the kill: not mid-load"
    load.join()

    cut = [a for a in load.answers if a.status is None]
    assert cut, "no kill cut a request off"
    assert {a.status for a in load.answers} <= {202, None}
    sent_twice = {(a.client, a.batch) for a in cut}  # those batches were sent again, the same ids
    assert all(any(b.status == 202 and (b.client, b.batch) == key for b in load.answers) for key in sent_twice)
    assert_acked_equals_stored(database_url, tenant.account_id, load)

    # a batch acknowledged already, sent again: all duplicates, still stored once
    ids = sorted(load.acked_ids)[:100]
    again = requests.post(
        f"{api.url}/api/v1/events",
        headers=tenant.headers,
        timeout=10,
        json={
            "events": [{"event_type": "page_view", "visitor_id": "vis_again", "event_id": event_id} for event_id in ids]
        },
    )
    assert again.status_code == 202 and again.json()["accepted"] == 0 and again.json()["duplicates"] == 100
    assert_acked_equals_stored(database_url, tenant.account_id, load)

    # gunicorn replaced the workers and the server still answers
    deadline = time.monotonic() + 30
    while len(workers_of(api.process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    after = workers_of(api.process.pid)
    assert len(after) == 2 and not set(killed) & set(after)
    assert requests.get(f"{api.url}/api/v1/health", timeout=5).status_code == 200
