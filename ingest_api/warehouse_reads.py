"""Reads of the warehouse (dbt marts, attribution credits) from inside an API request.

The API's tenant role (`mbuzz_api`, migration 0003) sees only raw tables, through row-level
security. The marts and `attribution.*` are rebuilt by dbt and the pipeline and carry no
policies, so the few API queries that read them run under the connection's own login role for
a moment, always filtered by the request's account in the query itself. A savepoint wraps them:
a missing table (the pipeline has not run yet) rolls back to it, not the whole request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import current_app


@contextmanager
def warehouse_reads(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """Inside: the login role, in a savepoint. After (even on error): the tenant role again."""
    conn.execute("select set_config('role', 'none', true)")
    try:
        with conn.transaction():
            yield conn
    finally:
        if not conn.closed:
            conn.execute("select set_config('role', %s, true)", (current_app.config["DB_TENANT_ROLE"],))
