"""API-key authentication and the `authenticated` decorator every account-scoped view uses.

Keys are `sk_{test|live}_{32 base62}`, sent as `Authorization: Bearer <key>`
(or, for the Segment endpoints, as the Basic-auth user name, or as `writeKey`
in the JSON body the way analytics.js sends it, when there is no header). Only their
SHA-256 digest is stored: the lookup is by digest, then the digests are
compared in constant time. Unknown, malformed and revoked keys all get 401.
`last_used_at` is written at most once a minute per key (the lookup's own
conditional update), not on every request.

`@authenticated()` runs, in order: open the request's transaction → authenticate
the key and scope the transaction to its account (role + row-level security,
in the same statement) → count the request against the account's rate limit →
validate the request against the OpenAPI document → the view (`g.principal`,
`g.db` = the scoped connection) → commit, before the response leaves. Any
error rolls everything back.
"""
from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from functools import wraps
from typing import Callable

import psycopg
from flask import current_app, g, request

from ingest_api import db, limits, openapi
from ingest_api.errors import ApiError
from mbuzz.accounts import digest

KEY_PATTERN = re.compile(r"sk_(test|live)_[0-9A-Za-z]{32}\Z")
TOUCH_EVERY_SECONDS = 60

LOOKUP = """
with key as (
    select k.id, k.account_id, k.environment, k.key_digest, k.last_used_at, a.name, a.tier
    from raw.api_keys k
    join raw.accounts a on a.id = k.account_id
    where k.key_digest = %(digest)s and k.revoked_at is null
), touched as (
    update raw.api_keys set last_used_at = now()
    where id in (
        select id from key
        where last_used_at is null or last_used_at < now() - make_interval(secs => %(every)s)
    )
    returning id
)
select id, account_id, environment, key_digest, name, tier, (select count(*) from touched) from key
"""

# The same lookup that also scopes the rest of the transaction to the key's account (one round trip
# fewer per request). Privileges and row security of *this* statement were settled when it was
# planned and started, as the connecting user; the role and setting apply from the next statement.
LOOKUP_AND_SCOPE = LOOKUP.replace(
    "(select count(*) from touched) from key",
    "(select count(*) from touched), set_config('mbuzz.account_id', account_id, true), "
    "set_config('role', %(role)s, true) from key",
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key, its account and environment (test keys write environment='test')."""

    key_id: str
    account_id: str
    account_name: str
    tier: str
    environment: str


def _unauthorized(message: str, scheme: str) -> ApiError:
    challenge = 'Basic realm="mbuzz"' if scheme == "basic" else 'Bearer realm="mbuzz"'
    return ApiError(message, status=401, headers={"WWW-Authenticate": challenge})


def presented_key(scheme: str) -> str:
    """The key from the Authorization header (Bearer token, or Basic user name for Segment)."""
    auth = request.authorization
    if auth is None and scheme == "basic" and request.headers.get("Authorization") is None:
        body = openapi.parse_json_body()
        write_key = body.get("writeKey") if isinstance(body, dict) else None
        if isinstance(write_key, str):
            if not KEY_PATTERN.match(write_key):
                raise _unauthorized("malformed writeKey: expected sk_test_… or sk_live_… followed by 32 letters "
                                    "and digits", scheme)
            return write_key
    if auth is None:
        hint = ("HTTP Basic auth with the API key as user name (or writeKey in the body)" if scheme == "basic"
                else "Authorization: Bearer sk_live_…")
        raise _unauthorized(f"missing API key: send {hint}", scheme)
    if auth.type == "bearer":
        key = auth.token or ""
    elif auth.type == "basic":
        key = auth.username or ""
    else:
        raise _unauthorized(f"unsupported authorization scheme {auth.type!r}", scheme)
    if not KEY_PATTERN.match(key):
        raise _unauthorized("malformed API key: expected sk_test_… or sk_live_… followed by 32 letters and digits", scheme)
    return key


def authenticate(conn: psycopg.Connection, key: str, scheme: str = "bearer", scope_role: str | None = None) -> Principal:
    """The key's principal, or 401. With `scope_role`, the transaction is also scoped to its account
    (as `db.scope_to_account` does) in the same round trip."""
    wanted = digest(key)
    query = LOOKUP_AND_SCOPE if scope_role else LOOKUP
    row = conn.execute(query, {"digest": wanted, "every": TOUCH_EVERY_SECONDS, "role": scope_role}).fetchone()
    if row is None or not hmac.compare_digest(row[3], wanted):
        raise _unauthorized("this API key is not valid (unknown or revoked)", scheme)
    key_id, account_id, environment, _digest, name, tier = row[:6]
    return Principal(key_id=key_id, account_id=account_id, account_name=name, tier=tier, environment=environment)


def authenticated(scheme: str = "bearer") -> Callable:
    """Decorate a view that acts for one account (see the module docstring for what runs)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            key = presented_key(scheme)
            with db.transaction() as conn:
                g.principal = authenticate(conn, key, scheme, scope_role=current_app.config["DB_TENANT_ROLE"])
                limits.check_account_limit()
                openapi.validate_request()
                g.db = conn
                try:
                    return view(*args, **kwargs)
                finally:
                    g.db = None

        return wrapper

    return decorator
