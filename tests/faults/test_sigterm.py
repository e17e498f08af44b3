"""SIGTERM to `mbuzz serve` under load (a deploy, `docker stop`): the batches in flight finish and
are answered 202 (not reset), every batch answered 202 is stored once, a new connection after the
shutdown began is either served or refused (never accepted and then dropped, never a 5xx), the
listener is closed within a couple of seconds, and the process exits with status 0 within
gunicorn's graceful timeout, with no traceback or error in its log.

The server is the test's own (2 gthread workers × 4 threads, on a free port of 127.0.0.1), since
it is stopped. Bounded: 6 clients × 30 batches of 500 events (the batch limit), each sent once."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests
from fault_helpers import MBUZZ, REPO, TIERS, Load, assert_acked_equals_stored, make_tenant, stored_ids

from tests.live_server import free_port

pytestmark = [pytest.mark.faults, pytest.mark.slow]

GRACEFUL_TIMEOUT = 20  # mbuzz serve's gunicorn graceful_timeout (mbuzz/cli/serve.py)


def start(database_url: str, redis_url: str, port: int, stdout, stderr) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MBUZZ_RATELIMIT_KEY_PREFIX": f"mbuzz-sigterm-{secrets.token_hex(4)}",
        "MBUZZ_RATE_LIMIT_TIERS": json.dumps(TIERS),
    }
    return subprocess.Popen(
        [MBUZZ, "serve", "--port", str(port), "--workers", "2", "--threads", "4", "--no-migrate"],
        env=env,
        stdout=stdout,
        stderr=stderr,
        cwd=REPO,
    )


def wait_healthy(url: str, process: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"mbuzz serve did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


class Probe:
    """New connections, one after another, each a GET /api/v1/health on a connection of its own,
    from SIGTERM until the server is gone: each is answered 200 (the worker still accepted it) or
    refused; anything else (accepted then reset or left unanswered, a 5xx) is a fault."""

    def __init__(self, url: str, process: subprocess.Popen) -> None:
        self.url, self.process = url, process
        self.outcomes: list[tuple[float, str]] = []  # (when, "ok" | "refused" | what went wrong)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + GRACEFUL_TIMEOUT + 10
        while self.process.poll() is None and time.monotonic() < deadline:
            when = time.monotonic()
            try:
                response = requests.get(f"{self.url}/api/v1/health", timeout=5, headers={"Connection": "close"})
                outcome = "ok" if response.status_code == 200 else f"status {response.status_code}"
            except requests.ConnectionError as error:
                refused = isinstance(error.__context__, ConnectionRefusedError) or "refused" in str(error)
                outcome = "refused" if refused else f"dropped: {error!r}"
            except requests.RequestException as error:
                outcome = f"failed: {error!r}"
            self.outcomes.append((when, outcome))
            time.sleep(0.02)

    def refused_at(self) -> float | None:
        return next((when for when, outcome in self.outcomes if outcome == "refused"), None)


def test_sigterm_finishes_in_flight_batches_refuses_new_connections_and_exits_0(database_url, redis_server, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    out_log, err_log = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with open(out_log, "wb") as out, open(err_log, "wb") as err:
        process = start(database_url, redis_server.url, port, out, err)
    try:
        wait_healthy(url, process, err_log)
        tenant = make_tenant(database_url)
        load = Load(
            url,
            tenant.headers,
            clients=6,
            batches=30,
            per_batch=500,
            retry=False,
            deadline=40,
            timeout=GRACEFUL_TIMEOUT + 5,
        ).start()
        load.wait_for(6 * 500)
        probe = Probe(url, process)
        process.send_signal(signal.SIGTERM)
        term = time.monotonic()
        probe.thread.start()
        try:
            process.wait(GRACEFUL_TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"mbuzz serve still running {GRACEFUL_TIMEOUT + 10} s after SIGTERM")
        exited = time.monotonic()
        load.join()
        probe.thread.join(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    stderr = err_log.read_text()

    # a clean exit, within the graceful timeout
    assert process.returncode == 0, f"exit status {process.returncode}:\n{stderr[-3000:]}"
    assert exited - term < GRACEFUL_TIMEOUT, f"{exited - term:.1f} s from SIGTERM to exit"
    assert "Handling signal: term" in stderr
    for bad in ("Traceback", "[ERROR]", "[CRITICAL]", "SIGKILL"):
        assert bad not in stderr, f"{bad} in the server's log:\n{stderr[-3000:]}"

    # the batches in flight at SIGTERM (sent before it, answered after) finished: answered 202
    in_flight = [a for a in load.answers if a.sent < term < a.answered]
    assert in_flight, "no batch was in flight at SIGTERM"
    assert [a.status for a in in_flight] == [202] * len(in_flight), "a batch in flight was not answered 202"
    assert all(a.status == 202 for a in load.answers if a.sent < term), "a batch sent before SIGTERM failed"
    # after it, a batch is answered 202 (a worker still accepted it) or gets no answer: never a 5xx
    assert load.statuses() <= {202, None}
    assert any(a.status is None for a in load.answers), "the load ended before the server stopped"

    # new connections: served until the worker stops accepting, then refused, never dropped
    assert probe.outcomes, "no connection tried after SIGTERM"
    wrong = [outcome for _, outcome in probe.outcomes if outcome not in ("ok", "refused")]
    assert not wrong, f"new connections after SIGTERM neither served nor refused: {wrong[:3]}"
    refused = probe.refused_at()
    assert refused is not None and refused - term < 3, "new connections not refused within 3 s of SIGTERM"
    assert all(outcome == "refused" for when, outcome in probe.outcomes if when > refused)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/api/v1/health", timeout=5)
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass

    # the promise: every batch answered 202 is stored, each event once; nothing else is
    assert_acked_equals_stored(database_url, tenant.account_id, load, everything=False)
    ids, _ = stored_ids(database_url, tenant.account_id)
    assert ids == load.acked_ids
