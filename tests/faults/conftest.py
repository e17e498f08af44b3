"""Servers shared by the fault cases that break something of their own and leave the rest
standing: a `redis-server` of the suite's own and one `mbuzz serve` on the session's database,
with that Redis, a `tiny` tier and a short statement timeout. Cases that stop the database
(test_database_restart.py) or the API (test_sigterm.py) start their own."""

from __future__ import annotations

import json
import secrets

import pytest
from fault_helpers import STATEMENT_TIMEOUT_MS, TIERS, RedisServer

from tests.live_server import start_server, stop_server


@pytest.fixture(scope="package")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def api(database_url, redis_server, tmp_path_factory):
    """`mbuzz serve` (2 gthread workers × 4 threads) on the session's database and the suite's Redis."""
    server = start_server(
        database_url,
        tmp_path_factory.mktemp("api") / "server.log",
        {
            "REDIS_URL": redis_server.url,
            "MBUZZ_RATELIMIT_KEY_PREFIX": f"mbuzz-faults-{secrets.token_hex(4)}",
            "MBUZZ_RATE_LIMIT_TIERS": json.dumps(TIERS),
            "MBUZZ_DB_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
            "MBUZZ_DB_LOCK_TIMEOUT_MS": "0",  # the statement timeout alone bounds a lock wait here
        },
    )
    yield server
    stop_server(server)
