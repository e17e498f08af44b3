"""A hung database: raw.events locked by another session (as a long migration or a stuck
maintenance job would). Requests that need the table answer 503 + Retry-After within a bounded
time (the statement timeout, here 1 s; docs/operations.md) instead of holding every worker
thread, the API keeps serving what does not need it, nothing is stored, and the same batches
land once the lock is gone. Bounded: 16 concurrent batches (twice the 2 × 4 worker threads)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
from fault_helpers import STATEMENT_TIMEOUT_MS, event, make_tenant, stored_ids

pytestmark = [pytest.mark.faults, pytest.mark.slow]

CONCURRENT = 16
BOUND = 8.0  # seconds: 16 requests through 8 threads at ≤ 1 s each, plus a busy machine's slack


def test_a_locked_table_answers_503_in_bounded_time_and_the_workers_stay_free(api, database_url):
    tenant = make_tenant(database_url)
    batches = [[event() for _ in range(20)] for _ in range(CONCURRENT)]

    def send(events) -> tuple[int | None, float, str | None]:
        started = time.monotonic()
        try:
            response = requests.post(
                f"{api.url}/api/v1/events", json={"events": events}, headers=tenant.headers, timeout=30
            )
            return response.status_code, time.monotonic() - started, response.headers.get("Retry-After")
        except requests.RequestException:
            return None, time.monotonic() - started, None

    with psycopg.connect(database_url) as locker:
        locker.execute("lock table raw.events in access exclusive mode")  # held until the block ends
        with ThreadPoolExecutor(CONCURRENT) as pool:
            results = list(pool.map(send, batches))
            health = requests.get(f"{api.url}/api/v1/health", timeout=5)  # a free thread answers it
        assert (
            locker.execute(
                "select count(*) from pg_locks where relation = 'raw.events'::regclass and not granted"
            ).fetchone()[0]
            == 0
        )  # nobody is left waiting on the lock
    assert {status for status, _, _ in results} == {503}, results
    assert all(retry_after == "5" for _, _, retry_after in results)
    assert max(seconds for _, seconds, _ in results) < BOUND, results
    assert min(seconds for _, seconds, _ in results) >= STATEMENT_TIMEOUT_MS / 1000 * 0.9  # the timeout, not a crash
    assert health.status_code == 200
    assert stored_ids(database_url, tenant.account_id) == (set(), 0)

    with ThreadPoolExecutor(4) as pool:  # lock gone: the same batches land
        assert {status for status, _, _ in pool.map(send, batches)} == {202}
    ids, rows = stored_ids(database_url, tenant.account_id)
    assert rows == len(ids) == CONCURRENT * 20


def test_a_lock_wait_over_the_lock_timeout_answers_503(database_url):
    """DB_LOCK_TIMEOUT_MS on its own (statement timeout off), in-process."""
    from ingest_api import create_app

    app = create_app(
        {"DATABASE_URL": database_url, "DB_STATEMENT_TIMEOUT_MS": 0, "DB_LOCK_TIMEOUT_MS": 300, "TESTING": True}
    )
    tenant = make_tenant(database_url)
    client = app.test_client()
    try:
        with psycopg.connect(database_url) as locker:
            locker.execute("lock table raw.events in access exclusive mode")
            started = time.monotonic()
            response = client.post("/api/v1/events", json={"events": [event()]}, headers=tenant.headers)
            waited = time.monotonic() - started
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        assert 0.25 < waited < 5
        assert client.post("/api/v1/events", json={"events": [event()]}, headers=tenant.headers).status_code == 202
    finally:
        app.extensions["mbuzz.db"].dispose()
