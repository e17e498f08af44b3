"""Database access for analysts and BI tools: one read-only PostgreSQL login per account.

    from mbuzz import bi
    grant = bi.grant(conn, "acct_…")            # a LOGIN role; grant.url carries the password, once
    bi.list_roles(conn)                          # [BiRole(role_name, account_id, created_at, exists, sessions, …)]
    bi.revoke(conn, grant.role_name)             # ends its sessions, drops the role
    bi.can_manage_roles(conn)                    # may this connection's user do the above (CREATEROLE)?

The role may connect to this database and SELECT from the views of schema `bi` only (migration
0012): one security_barrier view per mart and daily aggregate, filtered to the role's account
through `raw.bi_roles`, so a query without `where account_id` still sees one account, and raw
tables, keys, users, marts and attribution tables answer "permission denied". No writes.

The password is random, printed once and never stored: PostgreSQL receives only its SCRAM-SHA-256
verifier (computed here), so the plain text is in no table and no server log. Roles are
cluster-global: the default name is `mbuzz_bi_<account id>`; a name that exists already (another
database's role, a person's login) is refused, never taken over (`RoleTaken`).

Granting and revoking need a superuser or a role with CREATEROLE. A CREATEROLE role that is not
a superuser makes itself a member of the BI role before revoking it, which DROP OWNED and
pg_terminate_backend require (PostgreSQL 15 and later).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from psycopg import sql

from mbuzz.accounts import get_account
from mbuzz.errors import MbuzzError, NotFound
from mbuzz.warehouse import connection_env

ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)


@dataclass(frozen=True)
class Grant:
    role_name: str
    account_id: str
    url: str  # libpq URL with the password: shown once
    views: int

    @property
    def sqlalchemy_url(self) -> str:
        return "postgresql+psycopg://" + self.url[len("postgresql://") :]


@dataclass(frozen=True)
class BiRole:
    role_name: str
    account_id: str
    created_at: datetime
    exists: bool  # the PostgreSQL role is there (false: dropped by hand)
    sessions: int  # its open connections
    # the latest activity of an open session (PostgreSQL keeps no login history: None when none
    # is open, or when this connection's user may not see the sessions' details)
    last_active_at: datetime | None = None


class RoleTaken(MbuzzError):
    """The role name is in use: by a grant of `account_id`, or (account_id None) by a role of the server."""

    def __init__(self, message: str, role_name: str, account_id: str | None) -> None:
        super().__init__(message)
        self.role_name = role_name
        self.account_id = account_id


def default_role_name(account_id: str) -> str:
    return f"mbuzz_bi_{account_id}"


def check_role_name(role_name: str) -> str:
    if not ROLE_NAME.match(role_name) or role_name.lower().startswith("pg_"):
        raise MbuzzError(
            f"invalid role name {role_name!r}: letters, digits and _, at most 63, not starting with a digit or pg_"
        )
    return role_name


def can_manage_roles(conn) -> bool:
    """Whether this connection's user may create and drop roles (superuser, or CREATEROLE)."""
    row = conn.execute("select rolsuper or rolcreaterole from pg_roles where rolname = current_user").fetchone()
    return bool(row and row[0])


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The `SCRAM-SHA-256$…` string PostgreSQL stores for a password (RFC 5802/7677); given to
    CREATE ROLE … PASSWORD, the server keeps it as is and never sees the plain text. The
    passwords made here are ASCII, for which SASLprep changes nothing."""
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def connection_url(server_url: str, role_name: str, password: str, host: str | None = None) -> str:
    """The libpq URL a BI tool connects with: the server and database of `server_url`, as the role."""
    env = connection_env(server_url)
    host = host or env["MBUZZ_DB_HOST"]
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6
    url = f"postgresql://{quote(role_name, safe='')}:{quote(password, safe='')}@{host}:{env['MBUZZ_DB_PORT']}"
    url += f"/{quote(env['MBUZZ_DB_NAME'], safe='')}"
    if env["MBUZZ_DB_SSLMODE"] != "prefer":
        url += f"?sslmode={env['MBUZZ_DB_SSLMODE']}"
    return url


def refresh_views(conn) -> int:
    """(Re)create the views of schema `bi` and their grants; returns how many views there are.
    dbt's on-run-end hook runs the same function after every dbt command."""
    return conn.execute("select raw.refresh_bi_views()").fetchone()[0]


def _role_exists(conn, role_name: str) -> bool:
    return conn.execute("select 1 from pg_roles where rolname = %s", (role_name,)).fetchone() is not None


def grant(
    conn, account_id: str, role_name: str | None = None, host: str | None = None, server_url: str | None = None
) -> Grant:
    """Create a read-only LOGIN role for the account, in one transaction (all or nothing).
    The URL names `server_url`'s server and database (default: the connection's), `host` if given."""
    role_name = check_role_name(role_name or default_role_name(account_id))
    with conn.transaction():
        get_account(conn, account_id)
        taken = conn.execute("select account_id from raw.bi_roles where role_name = %s", (role_name,)).fetchone()
        if taken is not None:
            raise RoleTaken(
                f"{role_name} already has database access (account {taken[0]}): "
                f"`mbuzz bi revoke {role_name}` first, or pass --role for another role",
                role_name,
                taken[0],
            )
        if _role_exists(conn, role_name):
            raise RoleTaken(
                f"a PostgreSQL role {role_name} exists already on this server: pass --role for another", role_name, None
            )
        password = secrets.token_urlsafe(24)
        conn.execute(
            sql.SQL(
                "create role {} login nosuperuser nocreatedb nocreaterole noinherit noreplication nobypassrls "
                "password {}"
            ).format(sql.Identifier(role_name), sql.Literal(scram_verifier(password)))
        )
        database, can_connect = conn.execute(
            "select current_database(), has_database_privilege(%s, current_database(), 'CONNECT')", (role_name,)
        ).fetchone()
        if not can_connect:  # PUBLIC keeps CONNECT by default; a locked-down database grants it here
            conn.execute(
                sql.SQL("grant connect on database {} to {}").format(
                    sql.Identifier(database), sql.Identifier(role_name)
                )
            )
        conn.execute("insert into raw.bi_roles (role_name, account_id) values (%s, %s)", (role_name, account_id))
        views = refresh_views(conn)  # the views, and the role's USAGE on bi and SELECT on bi.*
    server_url = server_url or f"postgresql://{conn.info.host}:{conn.info.port}/{conn.info.dbname}"
    return Grant(role_name, account_id, connection_url(server_url, role_name, password, host), views)


def list_roles(conn, account_id: str | None = None) -> list[BiRole]:
    rows = conn.execute(
        """
        select b.role_name, b.account_id, b.created_at, r.rolname is not null, coalesce(a.sessions, 0), a.last_active
        from raw.bi_roles b left join pg_roles r on r.rolname = b.role_name
        left join (
            select usename, count(*) as sessions, max(coalesce(state_change, backend_start)) as last_active
            from pg_stat_activity group by usename
        ) a on a.usename = b.role_name
        where %(account)s::text is null or b.account_id = %(account)s
        order by b.created_at, b.role_name
        """,
        {"account": account_id},
    ).fetchall()
    return [BiRole(*row) for row in rows]


def revoke(conn, role_name: str, account_id: str | None = None, wait: float = 10.0) -> int:
    """Refuse new connections, end the role's open sessions (pg_terminate_backend), drop the role
    and its mapping. Only roles `grant` made in this database are accepted. Returns how many
    sessions were ended."""
    row = conn.execute("select account_id from raw.bi_roles where role_name = %s", (role_name,)).fetchone()
    exists = _role_exists(conn, role_name)
    conn.commit()
    if row is None or (account_id is not None and row[0] != account_id):
        raise NotFound(f"no BI role {role_name!r} in this database: list them with `mbuzz bi list`")
    role = sql.Identifier(role_name)
    ended: set[int] = set()
    if exists:
        superuser = conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0]
        if not superuser:  # CREATEROLE only: DROP OWNED and pg_terminate_backend need the role's privileges
            conn.execute(sql.SQL("grant {} to current_user").format(role))
        conn.execute(sql.SQL("alter role {} nologin").format(role))
        conn.commit()  # no new connections from here on
        deadline = time.monotonic() + wait
        while True:
            pids = conn.execute(
                "select pid, pg_terminate_backend(pid) from pg_stat_activity where usename = %s", (role_name,)
            ).fetchall()
            conn.commit()
            ended.update(pid for pid, done in pids if done)
            if not pids or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    with conn.transaction():
        if exists:
            conn.execute(sql.SQL("drop owned by {}").format(role))  # its grants in this database
            conn.execute(sql.SQL("drop role {}").format(role))
        conn.execute("delete from raw.bi_roles where role_name = %s", (role_name,))
    return len(ended)
