"""Accounts and API keys: the one service the CLI, the API and the dashboard share.

Keys look like `sk_{test|live}_{32 base62}`. Only their SHA-256 digest is
stored; the plaintext is returned once, by `create_key`, and never again.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from mbuzz.errors import MbuzzError, NotFound
from mbuzz.ids import new_id, random_base62

KEY_PREFIX_LEN = 12  # "sk_test_abc1": enough to recognise a key, useless to an attacker
ENVIRONMENTS = ("test", "live")


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

    @property
    def masked(self) -> str:
        return f"{self.key_prefix}****"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    plaintext: str


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_key(environment: str) -> str:
    return f"sk_{environment}_{random_base62(32)}"


def create_account(conn, name: str, tier: str = "standard") -> Account:
    name = name.strip()
    if not name:
        raise MbuzzError("an account needs a name")
    row = conn.execute(
        "insert into raw.accounts (id, name, tier) values (%s, %s, %s) returning id, name, tier, created_at",
        (new_id("acct"), name, tier),
    ).fetchone()
    return Account(*row)


def get_account(conn, account_id: str) -> Account:
    row = conn.execute("select id, name, tier, created_at from raw.accounts where id = %s", (account_id,)).fetchone()
    if row is None:
        raise NotFound(f"no account {account_id!r}: list accounts with `mbuzz accounts list`")
    return Account(*row)


def list_accounts(conn) -> list[Account]:
    rows = conn.execute("select id, name, tier, created_at from raw.accounts order by created_at").fetchall()
    return [Account(*r) for r in rows]


_KEY_COLUMNS = "id, account_id, name, environment, key_prefix, created_at, last_used_at, revoked_at"


def create_key(conn, account_id: str, environment: str, name: str = "") -> NewKey:
    if environment not in ENVIRONMENTS:
        raise MbuzzError(f"environment must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}")
    get_account(conn, account_id)
    plaintext = generate_key(environment)
    row = conn.execute(
        f"insert into raw.api_keys (id, account_id, name, environment, key_digest, key_prefix) "
        f"values (%s, %s, %s, %s, %s, %s) returning {_KEY_COLUMNS}",
        (new_id("key"), account_id, name, environment, digest(plaintext), plaintext[:KEY_PREFIX_LEN]),
    ).fetchone()
    return NewKey(ApiKey(*row), plaintext)


def list_keys(conn, account_id: str) -> list[ApiKey]:
    get_account(conn, account_id)
    rows = conn.execute(
        f"select {_KEY_COLUMNS} from raw.api_keys where account_id = %s order by created_at", (account_id,)
    ).fetchall()
    return [ApiKey(*r) for r in rows]


def revoke_key(conn, key_id: str, account_id: str | None = None) -> ApiKey:
    """Revoke a key (idempotent). With `account_id`, a key of another account is NotFound."""
    row = conn.execute(
        f"update raw.api_keys set revoked_at = coalesce(revoked_at, now()) "
        f"where id = %s and (%s::text is null or account_id = %s) returning {_KEY_COLUMNS}",
        (key_id, account_id, account_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"no API key {key_id!r}")
    return ApiKey(*row)
