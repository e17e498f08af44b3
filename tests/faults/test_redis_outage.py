"""Redis stops mid-load (SIGKILL) and comes back: requests go on, rate limits fail open as
docs/api/rate_limits.md says (no 429, no 5xx, no rate-limit headers while it is away), and the
limits count again once it answers. Bounded: 3 clients × 100 batches × 20 events, one batch
each 20 ms, and a `tiny` account (3 requests/hour) probed a few times."""

from __future__ import annotations

import time

import pytest
import requests
from fault_helpers import Load, assert_acked_equals_stored, make_tenant

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def post(api, tenant) -> requests.Response:
    return requests.post(f"{api.url}/api/v1/events", json={"events": []}, headers=tenant.headers, timeout=10)


def test_limits_fail_open_while_redis_is_down_and_resume_when_it_returns(api, redis_server, database_url):
    tiny = make_tenant(database_url, tier="tiny")
    before = [post(api, tiny) for _ in range(4)]
    assert [r.status_code for r in before] == [202, 202, 202, 429]  # limits work
    assert before[3].headers["Retry-After"] and before[3].json()["error"]["code"] == "rate_limited"

    tenant = make_tenant(database_url)
    load = Load(api.url, tenant.headers, batches=100, interval=0.02, retry=False).start()
    load.wait_for(load.total // 5)
    redis_server.stop()  # SIGKILL: no goodbye to the clients of Redis
    stopped_at = time.monotonic()
    time.sleep(0.5)
    during = [post(api, tiny) for _ in range(3)]
    assert load.running(), "the load ended before Redis stopped: not mid-load"
    load.join()

    # fail open: the tiny account, spent before, gets through; no rate-limit headers (no counter)
    assert {r.status_code for r in during} == {202}  # an empty batch, let through
    assert all("X-RateLimit-Remaining" not in r.headers for r in during)
    # the load never saw an error: not a 5xx, not a refused connection, not a 429
    assert load.statuses() == {202}
    assert any(a.sent > stopped_at for a in load.answers), "no batch was sent while Redis was down"
    assert_acked_equals_stored(database_url, tenant.account_id, load)
    log = api.log.read_text()
    assert "rate-limit storage unavailable, request let through" in log

    redis_server.start()  # the same port, empty (no persistence)
    after = [post(api, tiny) for _ in range(4)]
    assert [r.status_code for r in after] == [202, 202, 202, 429]  # counting again
    assert after[0].headers["X-RateLimit-Limit"] == "3"
