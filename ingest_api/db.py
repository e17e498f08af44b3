"""Database access for requests: a per-process pool, one transaction per request, tenant scoping.

`transaction()` lends a psycopg connection inside a transaction that is
committed when the block ends normally and rolled back otherwise, so a
request that fails half-way leaves nothing behind. `scope_to_account()`
switches that transaction to the non-superuser role and sets the account
whose rows row-level security lets through (migration 0003): a query that
forgets its `where account_id = …` still sees only this account.

A connection that fails with a connection-level error is discarded, and the
failure surfaces as `DatabaseUnavailable` (503 + Retry-After).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import Flask, current_app
from sqlalchemy.pool import QueuePool

from mbuzz.errors import DatabaseUnavailable


class Database:
    """A small pool of psycopg connections to one URL, recreated after a fork."""

    def __init__(self, url: str, size: int) -> None:
        self.url = url
        self.size = size
        self._pool: QueuePool | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, connect_timeout=3, autocommit=False)
        except psycopg.OperationalError:
            raise DatabaseUnavailable("the database is unreachable") from None

    def pool(self) -> QueuePool:
        if self._pool is None or self._pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pid != os.getpid():
                    self._pool = QueuePool(self._connect, pool_size=self.size, max_overflow=self.size,
                                           timeout=10, reset_on_return="rollback", pre_ping=False)
                    self._pid = os.getpid()
        return self._pool

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        fairy = self.pool().connect()
        conn: psycopg.Connection = fairy.driver_connection
        try:
            yield conn
            conn.commit()
        except (psycopg.OperationalError, psycopg.InterfaceError, DatabaseUnavailable):
            fairy.invalidate()
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


def init_app(app: Flask, url: str) -> None:
    app.extensions["mbuzz.db"] = Database(url, app.config["DB_POOL_SIZE"])


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
