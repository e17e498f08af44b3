"""Accounts and API keys: the one service the CLI, the API and the dashboard share.

Two kinds of key, both looked up by their SHA-256 digest:

- **secret** `sk_{test|live}_{32 base62}`: full access, for servers. Only the
  digest is stored; the plaintext is returned once, by `create_key`, and never again.
- **publishable** `pk_{test|live}_{32 base62}`: may only *send* (events, the
  Segment-compatible paths, conversions), and only from its allowed origins
  (exact `https://shop.example`, or `https://*.example.com` for any subdomain).
  It is public by design — it sits in a web page's source — so its plaintext is
  kept too (`public_key`) and may be shown again.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime

from mbuzz.errors import MbuzzError, NotFound
from mbuzz.fx import currency_code, timezone_name
from mbuzz.ids import new_id, random_base62

KEY_PREFIX_LEN = 12  # "sk_test_abc1": enough to recognise a key, useless to an attacker
ENVIRONMENTS = ("test", "live")
KEY_KIND_PREFIX = {"secret": "sk", "publishable": "pk"}
KEY_PATTERN = re.compile(r"(sk|pk)_(test|live)_[0-9A-Za-z]{32}\Z")
MAX_ORIGINS = 50
# scheme://host[:port], host a DNS name (optionally `*.` + a domain of 2+ labels), IPv4 or [IPv6]
_ORIGIN = re.compile(
    r"(?P<scheme>https?)://(?P<host>(?P<wild>\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
    r"|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{1,5}))?\Z"
)


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    tier: str
    created_at: datetime


@dataclass(frozen=True)
class ApiKey:
    id: str
    account_id: str
    name: str
    environment: str
    key_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    kind: str = "secret"
    allowed_origins: tuple[str, ...] = ()
    public_key: str | None = None

    @property
    def masked(self) -> str:
        return f"{self.key_prefix}****"

    @property
    def publishable(self) -> bool:
        return self.kind == "publishable"

    @property
    def display(self) -> str:
        """What may be shown of the key: all of a publishable key, the masked prefix of a secret one."""
        return self.public_key if self.publishable and self.public_key else self.masked

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    plaintext: str


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_key(environment: str, kind: str = "secret") -> str:
    return f"{KEY_KIND_PREFIX[kind]}_{environment}_{random_base62(32)}"


def normalise_origin(text: str) -> str:
    """`https://Shop.Example/` → `https://shop.example`; `https://*.example.com` stays a wildcard.

    An origin is a scheme (http or https), a host and an optional port, nothing else (no path,
    query or user). A wildcard covers the subdomains of a domain of at least two labels, not the
    domain itself. Raises MbuzzError saying what is wrong.
    """
    value = (text or "").strip().lower()
    if value.endswith("/"):
        value = value[:-1]
    match = _ORIGIN.match(value)
    hint = "an origin is scheme://host[:port], e.g. https://shop.example or https://*.shop.example"
    if not match:
        raise MbuzzError(f"{text!r} is not an origin: {hint}")
    if match["wild"] and match["host"].count(".") < 2:
        raise MbuzzError(f"{text!r}: a wildcard must cover the subdomains of a domain, e.g. https://*.example.com")
    port = match["port"]
    if port is not None:
        if not 0 < int(port) < 65536:
            raise MbuzzError(f"{text!r}: the port must be 1-65535")
        if (match["scheme"], int(port)) in (("http", 80), ("https", 443)):
            value = value[: -len(port) - 1]  # the default port is not part of a browser's Origin
    return value


def origin_allowed(origin: str, allowed_origins: tuple[str, ...] | list[str]) -> bool:
    """Whether a request's `Origin` header is one of a publishable key's allowed origins."""
    try:
        origin = normalise_origin(origin)
    except MbuzzError:
        return False
    if "*" in origin:
        return False  # a wildcard is a pattern, never a real origin
    for allowed in allowed_origins:
        if "://*." not in allowed:
            if origin == allowed:
                return True
            continue
        scheme, _, pattern = allowed.partition("://*.")
        domain, _, port = pattern.partition(":")
        o_scheme, _, o_rest = origin.partition("://")
        o_host, _, o_port = o_rest.partition(":")
        if o_scheme == scheme and o_port == port and o_host.endswith("." + domain):
            return True
    return False


def create_account(
    conn, name: str, tier: str = "standard", currency: str | None = None, timezone: str | None = None
) -> Account:
    """A new account. `currency` (ISO 4217) is its reporting currency and the default of conversions
    sent with revenue but no currency; `timezone` (IANA, default UTC) makes its days (docs/money.md)."""
    name = name.strip()
    if not name:
        raise MbuzzError("an account needs a name")
    settings = {}
    if currency:
        settings["currency"] = currency_code(currency)
    if timezone:
        settings["timezone"] = timezone_name(timezone)
    row = conn.execute(
        "insert into raw.accounts (id, name, tier, settings) values (%s, %s, %s, %s::jsonb) "
        "returning id, name, tier, created_at",
        (new_id("acct"), name, tier, json.dumps(settings)),
    ).fetchone()
    return Account(*row)


def _set_setting(conn, account_id: str, key: str, value: str) -> None:
    get_account(conn, account_id)
    conn.execute(
        "update raw.accounts set settings = settings || jsonb_build_object(%s::text, %s::text) where id = %s",
        (key, value, account_id),
    )


def set_default_currency(conn, account_id: str, currency: str) -> str:
    code = currency_code(currency)
    _set_setting(conn, account_id, "currency", code)
    return code


def set_timezone(conn, account_id: str, timezone: str) -> str:
    name = timezone_name(timezone)
    _set_setting(conn, account_id, "timezone", name)
    return name


def money_settings(conn, account_id: str) -> tuple[str | None, str]:
    """(reporting currency or None, IANA time zone) of an account."""
    row = conn.execute(
        "select settings ->> 'currency', coalesce(settings ->> 'timezone', 'UTC') from raw.accounts where id = %s",
        (account_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no account {account_id!r}: list accounts with `mbuzz accounts list`")
    return row[0], row[1]


def get_account(conn, account_id: str) -> Account:
    row = conn.execute("select id, name, tier, created_at from raw.accounts where id = %s", (account_id,)).fetchone()
    if row is None:
        raise NotFound(f"no account {account_id!r}: list accounts with `mbuzz accounts list`")
    return Account(*row)


def list_accounts(conn) -> list[Account]:
    rows = conn.execute("select id, name, tier, created_at from raw.accounts order by created_at").fetchall()
    return [Account(*r) for r in rows]


_KEY_COLUMNS = (
    "id, account_id, name, environment, key_prefix, created_at, last_used_at, revoked_at, "
    "kind, allowed_origins, public_key"
)


def _key(row) -> ApiKey:
    return ApiKey(*row[:9], tuple(row[9] or ()), row[10])


def _checked_origins(origins, hint_when_none: str) -> list[str]:
    """A publishable key's origins: normalised, each once, at least one and at most MAX_ORIGINS."""
    allowed: list[str] = []
    for origin in origins:
        normal = normalise_origin(origin)
        if normal not in allowed:
            allowed.append(normal)
    if not allowed:
        raise MbuzzError(f"a publishable key needs at least one allowed origin; {hint_when_none}")
    if len(allowed) > MAX_ORIGINS:
        raise MbuzzError(f"at most {MAX_ORIGINS} origins per key; use a wildcard such as https://*.example.com")
    return allowed


def create_key(
    conn,
    account_id: str,
    environment: str,
    name: str = "",
    *,
    publishable: bool = False,
    origins: tuple[str, ...] | list[str] = (),
) -> NewKey:
    """A new key; a publishable one needs at least one allowed origin (exact or `https://*.domain`)."""
    if environment not in ENVIRONMENTS:
        raise MbuzzError(f"environment must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}")
    kind = "publishable" if publishable else "secret"
    allowed: list[str] = []
    if publishable:
        allowed = _checked_origins(
            origins, "e.g. --origin https://shop.example (the sites whose pages may send with it)"
        )
    elif origins:
        raise MbuzzError("allowed origins are for publishable keys; a secret key must never be used from a browser")
    get_account(conn, account_id)
    plaintext = generate_key(environment, kind)
    row = conn.execute(
        f"insert into raw.api_keys (id, account_id, name, environment, key_digest, key_prefix, kind, "
        f"allowed_origins, public_key) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning {_KEY_COLUMNS}",
        (
            new_id("key"),
            account_id,
            name,
            environment,
            digest(plaintext),
            plaintext[:KEY_PREFIX_LEN],
            kind,
            allowed,
            plaintext if publishable else None,
        ),
    ).fetchone()
    return NewKey(_key(row), plaintext)


def list_keys(conn, account_id: str) -> list[ApiKey]:
    get_account(conn, account_id)
    rows = conn.execute(
        f"select {_KEY_COLUMNS} from raw.api_keys where account_id = %s order by created_at", (account_id,)
    ).fetchall()
    return [_key(r) for r in rows]


def revoke_key(conn, key_id: str, account_id: str | None = None) -> ApiKey:
    """Revoke a key (idempotent). With `account_id`, a key of another account is NotFound."""
    row = conn.execute(
        f"update raw.api_keys set revoked_at = coalesce(revoked_at, now()) "
        f"where id = %s and (%s::text is null or account_id = %s) returning {_KEY_COLUMNS}",
        (key_id, account_id, account_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"no API key {key_id!r}")
    return _key(row)


def set_origins(
    conn,
    key_id: str,
    account_id: str | None = None,
    *,
    add: tuple[str, ...] | list[str] = (),
    remove: tuple[str, ...] | list[str] = (),
) -> ApiKey:
    """Add and remove allowed origins of a publishable key (at least one must remain)."""
    row = conn.execute(
        f"select {_KEY_COLUMNS} from raw.api_keys where id = %s and (%s::text is null or account_id = %s) for update",
        (key_id, account_id, account_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"no API key {key_id!r}")
    key = _key(row)
    if not key.publishable:
        raise MbuzzError(f"{key_id} is a secret key: only publishable keys have allowed origins")
    dropped = {normalise_origin(o) for o in remove}
    origins = _checked_origins([o for o in key.allowed_origins if o not in dropped] + list(add), "revoke it instead")
    row = conn.execute(
        f"update raw.api_keys set allowed_origins = %s where id = %s returning {_KEY_COLUMNS}", (origins, key_id)
    ).fetchone()
    return _key(row)
