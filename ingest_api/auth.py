"""API-key authentication and the `authenticated` decorator every account-scoped view uses.

Keys are `sk_{test|live}_{32 base62}` (secret) or `pk_{test|live}_{32 base62}`
(publishable), sent as `Authorization: Bearer <key>` (or, for the Segment
endpoints, as the Basic-auth user name, or as `writeKey` in the JSON body the
way analytics.js sends it, when there is no header). The lookup is by SHA-256
digest, then the digests are compared in constant time. Unknown, malformed and
revoked keys all get 401. `last_used_at` is written at most once a minute per
key (the lookup's own conditional update), not on every request.

Who may call what (403 otherwise, nothing stored):
- a publishable key only views decorated `@authenticated(publishable=True)`
  (sending events and conversions): `key_not_allowed` elsewhere; and only with
  no `Origin` (a server) or one of its allowed origins: `origin_not_allowed`;
- a secret key never from a web page of another site (an `Origin` that is not
  the API's own): `secret_key_in_browser`, since a page's source is public.

`@authenticated()` runs, in order: open the request's transaction → authenticate
the key and scope the transaction to its account (role + row-level security,
in the same statement) → count the request against the account's rate limit →
validate the request against the OpenAPI document → the view (`g.principal`,
`g.db` = the scoped connection) → commit, before the response leaves. Any
error rolls everything back.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import wraps
from typing import Callable

import psycopg
from flask import current_app, g, request

from ingest_api import db, limits, openapi
from ingest_api.errors import ApiError
from mbuzz.accounts import KEY_PATTERN, digest, origin_allowed

TOUCH_EVERY_SECONDS = 60
KEY_SHAPE = "sk_… or pk_… (then test_ or live_) followed by 32 letters and digits"

_LOOKUP = """
with key as (
    select k.id, k.account_id, k.environment, k.key_digest, k.last_used_at, a.name, a.tier, k.kind,
           k.allowed_origins
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
select id, account_id, environment, key_digest, name, tier, kind, allowed_origins, (select count(*) from touched){scope}
from key
"""
LOOKUP = _LOOKUP.format(scope="")

# The same lookup that also scopes the rest of the transaction to the key's account (one round trip
# fewer per request). Privileges and row security of *this* statement were settled when it was
# planned and started, as the connecting user; the role and setting apply from the next statement.
LOOKUP_AND_SCOPE = _LOOKUP.format(
    scope=", set_config('mbuzz.account_id', account_id, true), set_config('role', %(role)s, true)"
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key, its account and environment (test keys write environment='test')."""

    key_id: str
    account_id: str
    account_name: str
    tier: str
    environment: str
    kind: str = "secret"
    allowed_origins: tuple[str, ...] = ()

    @property
    def publishable(self) -> bool:
        return self.kind == "publishable"


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
                raise _unauthorized(f"malformed writeKey: expected {KEY_SHAPE}", scheme)
            return write_key
    if auth is None:
        hint = (
            "HTTP Basic auth with the API key as user name (or writeKey in the body)"
            if scheme == "basic"
            else "Authorization: Bearer sk_live_… (or pk_live_… where a publishable key may send)"
        )
        raise _unauthorized(f"missing API key: send {hint}", scheme)
    if auth.type == "bearer":
        key = auth.token or ""
    elif auth.type == "basic":
        key = auth.username or ""
    else:
        raise _unauthorized(f"unsupported authorization scheme {auth.type!r}", scheme)
    if not KEY_PATTERN.match(key):
        raise _unauthorized(f"malformed API key: expected {KEY_SHAPE}", scheme)
    return key


def authenticate(
    conn: psycopg.Connection, key: str, scheme: str = "bearer", scope_role: str | None = None
) -> Principal:
    """The key's principal, or 401. With `scope_role`, the transaction is also scoped to its account
    (as `db.scope_to_account` does) in the same round trip."""
    wanted = digest(key)
    query = LOOKUP_AND_SCOPE if scope_role else LOOKUP
    row = conn.execute(query, {"digest": wanted, "every": TOUCH_EVERY_SECONDS, "role": scope_role}).fetchone()
    if row is None or not hmac.compare_digest(row[3], wanted):
        raise _unauthorized("this API key is not valid (unknown or revoked)", scheme)
    key_id, account_id, environment, _digest, name, tier, kind, origins = row[:8]
    return Principal(
        key_id=key_id,
        account_id=account_id,
        account_name=name,
        tier=tier,
        environment=environment,
        kind=kind,
        allowed_origins=tuple(origins or ()),
    )


def own_origin() -> str:
    """The API's own origin as the browser sees it (scheme://host[:port] of this request)."""
    return f"{request.scheme}://{request.host}".lower()


def check_origin(principal: Principal, origin: str | None) -> None:
    """403 `origin_not_allowed` when a publishable key comes from an origin it does not allow."""
    if origin is not None and not origin_allowed(origin, principal.allowed_origins):
        raise ApiError(
            f"origin {origin[:200]!r} is not allowed for this publishable key; add it with "
            f"`mbuzz keys origins {principal.key_id} --add {origin[:200]}` or on the dashboard's "
            f"keys page",
            status=403,
            code="origin_not_allowed",
            details={"origin": origin[:200]},
        )


def check_use(principal: Principal, publishable_allowed: bool) -> None:
    """403 when this kind of key may not call this endpoint, or not from this request's Origin."""
    origin = request.headers.get("Origin")
    if principal.publishable:
        if not publishable_allowed:
            raise ApiError(
                f"a publishable key may only send events and conversions; {request.method} "
                f"{request.path} needs a secret key (sk_…), used from a server",
                status=403,
                code="key_not_allowed",
            )
        check_origin(principal, origin)
    elif origin is not None and origin.lower() != own_origin():
        raise ApiError(
            "a secret key (sk_…) was sent from a web page: anyone can read a page's source, so this "
            "key may be compromised — revoke it, and send from pages with a publishable key (pk_…)",
            status=403,
            code="secret_key_in_browser",
        )


def authenticated(scheme: str = "bearer", publishable: bool = False) -> Callable:
    """Decorate a view that acts for one account (see the module docstring for what runs).

    `publishable=True`: publishable keys may call it too (from their allowed origins)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            key = presented_key(scheme)
            with db.transaction() as conn:
                g.principal = authenticate(conn, key, scheme, scope_role=current_app.config["DB_TENANT_ROLE"])
                check_use(g.principal, publishable)
                limits.check_account_limit()
                openapi.validate_request()
                g.db = conn
                try:
                    return view(*args, **kwargs)
                finally:
                    g.db = None

        wrapper.publishable = publishable  # read by ingest_api/cors.py: these views take part in CORS
        return wrapper

    return decorator
