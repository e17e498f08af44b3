"""The database stops mid-load and comes back, as a user restarts the embedded server
(`mbuzz db down`, `mbuzz db up`): while it is down the API answers 503 with Retry-After; once it
is back the same `mbuzz serve` recovers by itself, whether the server came back on its remembered
port or had to move because another program took that port meanwhile; and every batch answered
202 is stored, each event once.

Bounded: 3 clients × 150 batches × 20 events per case (a batch every 50 ms: the load lasts
through the restart), retried until acknowledged or 90 s."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import requests
from fault_helpers import Load, assert_acked_equals_stored, embedded_env, make_tenant, mbuzz, port_of

from tests.live_server import start_server, stop_server

pytestmark = [pytest.mark.faults, pytest.mark.slow]

DOWN_FOR = 2.0  # seconds the database stays down


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """An embedded PostgreSQL of this module's own, migrated: (environment of its user, its URL)."""
    from mbuzz.db.embedded import EmbeddedServer
    from mbuzz.db.migrate import upgrade

    home = tmp_path_factory.mktemp("embedded-home")
    server = EmbeddedServer(home)
    upgrade(server.up())
    yield embedded_env(home), server.url()
    server.down()


@pytest.fixture(scope="module")
def server(embedded, tmp_path_factory):
    """`mbuzz serve` on the embedded database, started as a user starts it (no DATABASE_URL)."""
    env, _ = embedded
    live = start_server(
        None, tmp_path_factory.mktemp("serve") / "server.log", {"MBUZZ_HOME": env["MBUZZ_HOME"], "REDIS_URL": ""}
    )
    yield live
    stop_server(live)


def current_url(env) -> str:
    """The address in server.json (what `mbuzz db url` prints)."""
    from mbuzz.db.embedded import EmbeddedServer

    return EmbeddedServer(Path(env["MBUZZ_HOME"])).url()


def restart_under_load(env, url: str, server, *, between=lambda: None) -> tuple[Load, list[requests.Response], str]:
    """Stop the database once the load is under way, keep it down DOWN_FOR s (probing the API),
    start it again; the load, the probes' answers while down, and `mbuzz db up`'s output."""
    tenant = make_tenant(url)
    load = Load(server.url, tenant.headers, batches=150, interval=0.05).start()
    load.wait_for(load.total // 10)
    mbuzz("db", "down", env=env)
    between()
    probes = []
    until = time.monotonic() + DOWN_FOR
    while time.monotonic() < until:
        probes.append(
            requests.post(f"{server.url}/api/v1/events", json={"events": []}, headers=tenant.headers, timeout=10)
        )
        probes.append(requests.get(f"{server.url}/api/v1/health", timeout=10))
        time.sleep(0.2)
    assert load.running(), "the load ended before the database came back: not mid-load"
    up = mbuzz("db", "up", env=env)
    load.join()
    load.tenant = tenant
    return load, probes, up.stderr + up.stdout


def assert_recovered(load: Load, probes, env, server) -> None:
    # while down: 503 + Retry-After, for the batches of the load and for the probes
    down = [a for a in load.answers if a.status != 202]
    assert down and {a.status for a in down} == {503}, {a.status for a in down}
    assert all(a.retry_after == "5" for a in down)
    assert {p.status_code for p in probes} == {503}
    assert all(p.headers["Retry-After"] == "5" for p in probes)
    assert {p.json()["error"]["code"] for p in probes if "error" in p.json()} == {"service_unavailable"}
    assert {p.json()["database"] for p in probes if "database" in p.json()} == {"unreachable"}
    # recovered without a restart: same server process, every batch acknowledged in the end
    assert server.process.poll() is None
    assert_acked_equals_stored(current_url(env), load.tenant.account_id, load)
    # even a worker that served nothing since the restart notices its idle connections are dead
    health = [requests.get(f"{server.url}/api/v1/health", timeout=10).status_code for _ in range(6)]
    assert set(health) == {200}, health


def test_database_restarted_on_its_port(embedded, server):
    env, url = embedded
    load, probes, up = restart_under_load(env, url, server)
    assert current_url(env) == url  # the same address: the port was free again
    assert "taken" not in up
    assert_recovered(load, probes, env, server)


def test_database_restarted_while_its_port_is_taken_moves_and_the_api_follows(embedded, server):
    env, _ = embedded
    url = current_url(env)
    squatter = socket.socket()

    def take_the_port() -> None:  # another program listens on the port while the database is down
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port_of(url)))
        squatter.listen(64)

    try:
        load, probes, up = restart_under_load(env, url, server, between=take_the_port)
        moved = current_url(env)
        assert moved != url and port_of(moved) != port_of(url)
        assert f"port {port_of(url)}" in up and "is taken by another program" in up
        assert_recovered(load, probes, env, server)
    finally:
        squatter.close()
