"""Database access for requests: a per-process pool, one transaction per request, tenant scoping.

`transaction()` lends a psycopg connection inside a transaction that is
committed when the block ends normally and rolled back otherwise, so a
request that fails half-way leaves nothing behind. `scope_to_account()`
switches that transaction to the non-superuser role and sets the account
whose rows row-level security lets through (migration 0003): a query that
forgets its `where account_id = …` still sees only this account.

Failures surface as `DatabaseUnavailable` (503 + Retry-After):
- a connection-level error: the connection is discarded, and every other one
  opened before it is replaced at its next checkout (the server went away).
  An idle connection the server has closed is noticed at checkout without a
  round trip (its socket is readable) and replaced, so after a database restart
  only the requests in flight at that moment fail;
- a statement over `DB_STATEMENT_TIMEOUT_MS` or a lock wait over
  `DB_LOCK_TIMEOUT_MS` (set on every connection of the pool): the transaction is
  rolled back and the connection kept. A hung or locked database therefore
  answers 503 in bounded time instead of holding every worker thread.

When the URL is the embedded server's (no DATABASE_URL), `resolve` re-reads its
current address (`.mbuzz/server.json`) whenever a connection cannot be opened:
a server restarted on another port (`mbuzz db up` found its port taken) is
followed without restarting the API.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import QueuePool

from mbuzz.errors import DatabaseUnavailable

# statement_timeout (57014) and lock_timeout (55P03): the server is there, only slow or locked
TIMEOUTS = (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable)


class Database:
    """A small pool of psycopg connections to one URL, recreated after a fork."""

    def __init__(
        self,
        url: str,
        size: int,
        *,
        resolve: Callable[[], str] | None = None,
        statement_timeout_ms: int = 0,
        lock_timeout_ms: int = 0,
    ) -> None:
        self.url = url
        self.size = size
        self.resolve = resolve
        self.statement_timeout_ms = statement_timeout_ms
        self.lock_timeout_ms = lock_timeout_ms
        self._pool: QueuePool | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _open(self, url: str) -> psycopg.Connection:
        conn = psycopg.connect(url, connect_timeout=3, autocommit=False)
        try:
            conn.execute(
                "select set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false)",
                (f"{self.statement_timeout_ms}ms", f"{self.lock_timeout_ms}ms"),
            )
            conn.commit()
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect(self) -> psycopg.Connection:
        tried = self.url
        try:
            return self._open(tried)
        except psycopg.OperationalError:
            pass
        if self.resolve is not None:  # the embedded server may have moved: follow server.json
            try:
                url = self.resolve()
            except Exception:  # noqa: BLE001 -- no state to follow: the database is just unreachable
                url = tried
            if url != tried:
                self.url = url
                try:
                    return self._open(url)
                except psycopg.OperationalError:
                    pass
        raise DatabaseUnavailable("the database is unreachable")

    def pool(self) -> QueuePool:
        if self._pool is None or self._pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pid != os.getpid():
                    self._pool = QueuePool(
                        self._connect,
                        pool_size=self.size,
                        max_overflow=self.size,
                        timeout=10,
                        reset_on_return="rollback",
                        pre_ping=False,
                    )
                    event.listen(self._pool, "checkout", _said_goodbye)
                    self._pid = os.getpid()
        return self._pool

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        try:
            fairy = self.pool().connect()
        except PoolTimeout:  # every connection busy for 10 s: as good as unreachable
            raise DatabaseUnavailable("no database connection became free in time") from None
        conn: psycopg.Connection = fairy.driver_connection
        try:
            yield conn
            conn.commit()
        except TIMEOUTS:
            try:
                conn.rollback()
            except psycopg.Error:
                fairy.invalidate()
            raise DatabaseUnavailable("the database did not answer in time") from None
        except (psycopg.OperationalError, psycopg.InterfaceError, DatabaseUnavailable):
            # the server went away (a restart, perhaps on another port): this connection and every
            # other one opened before now are dead, so they are replaced on their next checkout
            # instead of failing the next requests too (what SQLAlchemy's engine does on a disconnect)
            self.pool()._invalidate(fairy)
            raise DatabaseUnavailable("the database is unreachable") from None
        except BaseException:
            if not conn.closed:
                try:
                    conn.rollback()
                except psycopg.Error:
                    fairy.invalidate()
            raise
        finally:
            fairy.close()  # back to the pool (rolled back there if still in a transaction)

    def dispose(self) -> None:
        if self._pool is not None:
            self._pool.dispose()
            self._pool = None


def _said_goodbye(dbapi_connection: psycopg.Connection, record, proxy) -> None:
    """At checkout, without a round trip: an idle connection has nothing to read unless the server
    closed it (a restart sends "terminating connection" and hangs up). Such a connection is
    replaced by a new one (SQLAlchemy's pessimistic disconnect handling) instead of failing the
    request that would have used it."""
    if dbapi_connection.closed or select.select([dbapi_connection.fileno()], [], [], 0)[0]:
        raise DisconnectionError("the server closed this connection")


def init_app(app: Flask, url: str, resolve: Callable[[], str] | None = None) -> None:
    app.extensions["mbuzz.db"] = Database(
        url,
        app.config["DB_POOL_SIZE"],
        resolve=resolve,
        statement_timeout_ms=app.config["DB_STATEMENT_TIMEOUT_MS"],
        lock_timeout_ms=app.config["DB_LOCK_TIMEOUT_MS"],
    )


def database() -> Database:
    return current_app.extensions["mbuzz.db"]


@contextmanager
def transaction() -> Iterator[psycopg.Connection]:
    """The current app's pooled connection in a transaction (commit on success, rollback on error)."""
    with database().transaction() as conn:
        yield conn


def scope_to_account(conn: psycopg.Connection, account_id: str, role: str | None = None) -> None:
    """For the rest of this transaction, act as the API role and see only `account_id`'s rows."""
    role = role or current_app.config["DB_TENANT_ROLE"]
    conn.execute("select set_config('role', %s, true), set_config('mbuzz.account_id', %s, true)", (role, account_id))
