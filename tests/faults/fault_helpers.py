"""What the fault tests share: a bounded load of clients that retry, the servers they break, and the
one promise they all check (every batch answered 202 is stored, each event once).

Every server here is the test's own, on 127.0.0.1 and a free port: an embedded PostgreSQL in a
temporary MBUZZ_HOME, a `redis-server`, `mbuzz serve`. The machine's PostgreSQL and Redis are
never stopped.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests

from tests.live_server import free_port

TIERS = {"standard": "1000/second", "tiny": "3/hour", "default": "1000/second"}  # the shared `api` server's
STATEMENT_TIMEOUT_MS = 1000  # the shared `api` server's statement timeout
MBUZZ = str(Path(sys.executable).parent / "mbuzz")
REPO = Path(__file__).resolve().parents[2]


def event() -> dict:
    return {
        "event_type": "page_view",
        "visitor_id": f"vis_{secrets.token_hex(4)}",
        "event_id": f"e-{secrets.token_hex(8)}",
        "properties": {"url": "https://shop.example.com/?utm_source=google", "utm_source": "google"},
    }


@dataclass
class Answer:
    """One attempt of one batch: when it was sent and answered, and how (status None: no answer)."""

    client: int
    batch: int
    sent: float
    answered: float
    status: int | None
    retry_after: str | None


@dataclass
class Load:
    """`clients` threads, each sending `batches` batches of `per_batch` fresh events to POST /api/v1/events.

    With `retry`, a batch that is not answered 202 is sent again, the same events (same ids), after
    `pause` seconds, until it is or `deadline` seconds have passed since `start()`; without it each
    batch is sent once. `interval`: seconds between a client's batches (a load that lasts while the
    fault is injected). Bounded by construction: clients × batches batches, and the deadline."""

    url: str
    headers: dict
    clients: int = 3
    batches: int = 40
    per_batch: int = 20
    retry: bool = True
    pause: float = 0.1
    interval: float = 0.0
    deadline: float = 90.0
    timeout: float = 15.0
    answers: list[Answer] = field(default_factory=list)
    sent_ids: set[str] = field(default_factory=set)
    acked_ids: set[str] = field(default_factory=set)
    unacked: list[list[dict]] = field(default_factory=list)  # batches never answered 202
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "Load":
        self._t0 = time.monotonic()
        self._threads = [threading.Thread(target=self._client, args=(c,), daemon=True) for c in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def _client(self, c: int) -> None:
        session = requests.Session()
        for b in range(self.batches):
            events = [event() for _ in range(self.per_batch)]
            with self._lock:
                self.sent_ids.update(e["event_id"] for e in events)
            while True:
                sent = time.monotonic()
                try:
                    response = session.post(
                        f"{self.url}/api/v1/events", json={"events": events}, headers=self.headers, timeout=self.timeout
                    )
                    status, retry_after = response.status_code, response.headers.get("Retry-After")
                except requests.RequestException:
                    status, retry_after = None, None
                    session = requests.Session()  # the connection died with its server
                with self._lock:
                    self.answers.append(Answer(c, b, sent, time.monotonic(), status, retry_after))
                    if status == 202:
                        self.acked_ids.update(e["event_id"] for e in events)
                if status == 202:
                    time.sleep(self.interval)
                    break
                if not self.retry or time.monotonic() - self._t0 > self.deadline:
                    with self._lock:
                        self.unacked.append(events)
                    break
                time.sleep(self.pause)

    def acknowledged(self) -> int:
        with self._lock:
            return len(self.acked_ids)

    def wait_for(self, acked: int, timeout: float = 60) -> None:
        """Until at least `acked` events were acknowledged (the load is under way)."""
        deadline = time.monotonic() + timeout
        while self.acknowledged() < acked:
            assert time.monotonic() < deadline, f"only {self.acknowledged()} events acknowledged in {timeout} s"
            assert any(t.is_alive() for t in self._threads), "the clients stopped early"
            time.sleep(0.05)

    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def join(self) -> "Load":
        for thread in self._threads:
            thread.join(self.deadline + 2 * self.timeout + 10)
        assert not self.running(), "a client is still sending after its deadline"
        return self

    def statuses(self) -> set[int | None]:
        return {a.status for a in self.answers}

    @property
    def total(self) -> int:
        return self.clients * self.batches * self.per_batch


def stored_ids(url: str, account_id: str) -> tuple[set[str], int]:
    """The distinct event ids stored for the account, and the number of rows."""
    with psycopg.connect(url) as conn:
        ids = [r[0] for r in conn.execute("select event_id from raw.events where account_id = %s", (account_id,))]
    return set(ids), len(ids)


def assert_acked_equals_stored(url: str, account_id: str, load: Load, *, everything: bool = True) -> None:
    """The promise: what was answered 202 is stored, each event once, and nothing else is
    (`everything`: every batch was acknowledged in the end, so stored == sent)."""
    ids, rows = stored_ids(url, account_id)
    assert rows == len(ids), f"{rows - len(ids)} events stored twice"
    assert load.acked_ids - ids == set(), f"{len(load.acked_ids - ids)} acknowledged events were lost"
    assert ids <= load.sent_ids
    if everything:
        assert load.unacked == [], f"{len(load.unacked)} batches never acknowledged"
        assert ids == load.acked_ids == load.sent_ids and len(ids) == load.total


# -- servers of the test's own -------------------------------------------------------------


@dataclass
class Tenant:
    account_id: str
    key: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.key}"}


def make_tenant(url: str, tier: str = "standard") -> Tenant:
    from mbuzz.accounts import create_account, create_key

    with psycopg.connect(url, autocommit=True) as conn:
        account = create_account(conn, f"Faults {secrets.token_hex(3)}", tier=tier)
        return Tenant(account.id, create_key(conn, account.id, "live").plaintext)


def mbuzz(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """An `mbuzz` command as a user runs it; fails the test with its output when it fails."""
    result = subprocess.run([MBUZZ, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"mbuzz {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def embedded_env(home: Path) -> dict[str, str]:
    """The environment of a user of the embedded database in `home` (no DATABASE_URL)."""
    env = {**os.environ, "MBUZZ_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    return env


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


class RedisServer:
    """A `redis-server` of the test's own (no persistence: a restart starts with no counters)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail("redis-server did not come up")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


def workers_of(master: int) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def busy_worker(master: int, port: int, within: float = 5.0) -> int | None:
    """A worker of `master` serving a request right now: gunicorn's sync workers hold one accepted
    connection on `port` at a time and close it after the answer, so an ESTABLISHED socket on that
    port is a request in flight. None when no worker was seen busy within `within` seconds."""
    import psutil

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for pid in workers_of(master):
            try:
                connections = psutil.Process(pid).net_connections(kind="tcp")
            except psutil.Error:  # the worker just exited
                continue
            if any(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port for c in connections):
                return pid
        time.sleep(0.001)
    return None
