"""Dashboard users: account admins who sign in to the web dashboard.

The one service the CLI (`mbuzz users create`), the dashboard and the demo
share. Passwords are hashed with Werkzeug's scrypt (`generate_password_hash`);
only the hash is stored in `raw.users.password_hash`.

A one-time setup link carries a signed token (itsdangerous, keyed by the
dashboard secret) that names the user and a fingerprint of the password hash
it was issued against. Setting the password changes the hash, so the link
works once; it also expires after `SETUP_TOKEN_MAX_AGE`. Nothing extra is
stored in the database.

The dashboard secret (Flask's SECRET_KEY, which also signs session cookies)
is MBUZZ_SECRET_KEY when set, else a random key kept in `$MBUZZ_HOME/secret_key`
(created on first use, mode 0600) so every worker and the CLI agree on it.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash

from mbuzz.errors import MbuzzError, NotFound
from mbuzz.ids import new_id

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # hashing cost is bounded; a megabyte "password" is refused early
SETUP_TOKEN_MAX_AGE = 72 * 3600  # seconds
SETUP_SALT = "mbuzz.users.setup"
DEMO_EMAIL = "demo@mbuzz.local"
HASH_METHOD = "scrypt"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\Z")
# A hash to check against when the e-mail is unknown, so both answers take as long.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16), method=HASH_METHOD)


@dataclass(frozen=True)
class User:
    id: str
    account_id: str
    email: str
    has_password: bool
    created_at: datetime


class InvalidToken(MbuzzError):
    pass


_COLUMNS = "id, account_id, email, password_hash is not null, created_at"


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL.match(email):
        raise MbuzzError(f"{email!r} is not an e-mail address")
    return email


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise MbuzzError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise MbuzzError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")


def create_user(conn, account_id: str, email: str, password: str | None = None) -> User:
    """A user of `account_id`; without a password they can only sign in after a setup link."""
    from mbuzz.accounts import get_account

    get_account(conn, account_id)
    email = normalise_email(email)
    if password is not None:
        check_password_strength(password)
    if conn.execute("select 1 from raw.users where email = %s", (email,)).fetchone():
        raise MbuzzError(f"a user with e-mail {email} already exists")
    hashed = generate_password_hash(password, method=HASH_METHOD) if password is not None else None
    row = conn.execute(
        f"insert into raw.users (id, account_id, email, password_hash) values (%s, %s, %s, %s) returning {_COLUMNS}",
        (new_id("user"), account_id, email, hashed),
    ).fetchone()
    return User(*row)


def get_user(conn, user_id: str) -> User:
    row = conn.execute(f"select {_COLUMNS} from raw.users where id = %s", (user_id,)).fetchone()
    if row is None:
        raise NotFound(f"no user {user_id!r}")
    return User(*row)


def list_users(conn, account_id: str) -> list[User]:
    rows = conn.execute(
        f"select {_COLUMNS} from raw.users where account_id = %s order by created_at", (account_id,)
    ).fetchall()
    return [User(*r) for r in rows]


def set_password(conn, user_id: str, password: str) -> User:
    check_password_strength(password)
    row = conn.execute(
        f"update raw.users set password_hash = %s where id = %s returning {_COLUMNS}",
        (generate_password_hash(password, method=HASH_METHOD), user_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"no user {user_id!r}")
    return User(*row)


def verify(conn, email: str, password: str) -> User | None:
    """The user when e-mail and password match, else None (same work either way)."""
    try:
        email = normalise_email(email)
    except MbuzzError:
        email = ""
    row = conn.execute(f"select {_COLUMNS}, password_hash from raw.users where email = %s", (email,)).fetchone()
    hashed = row[-1] if row is not None and row[-1] else _DUMMY_HASH
    ok = len(password or "") <= MAX_PASSWORD_LENGTH and check_password_hash(hashed, password or "")
    if row is None or row[-1] is None or not ok:
        return None
    return User(*row[:-1])


# --- one-time setup links ---------------------------------------------------------------------------------------


def secret_key(home: Path | None = None) -> str:
    """The dashboard secret: MBUZZ_SECRET_KEY, else `$MBUZZ_HOME/secret_key` (created once)."""
    from mbuzz.settings import get_settings

    settings = get_settings()
    if settings.secret_key:
        return settings.secret_key
    if home is None:
        home = settings.home
    path = Path(home) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: when several workers start at once, one writes and all read the same key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)  # another process is writing it
    raise MbuzzError(f"{path} is empty: delete it or set MBUZZ_SECRET_KEY")


def _fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "unset").encode()).hexdigest()[:16]


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SETUP_SALT)


def setup_token(conn, user_id: str, secret: str | None = None) -> str:
    """A signed token that lets `user_id` set a password once (and within SETUP_TOKEN_MAX_AGE)."""
    row = conn.execute("select password_hash from raw.users where id = %s", (user_id,)).fetchone()
    if row is None:
        raise NotFound(f"no user {user_id!r}")
    return _serializer(secret or secret_key()).dumps({"u": user_id, "f": _fingerprint(row[0])})


def user_for_token(conn, token: str, secret: str | None = None, max_age: int = SETUP_TOKEN_MAX_AGE) -> User:
    """The user a setup token names, if it is genuine, unexpired and not used yet."""
    try:
        data = _serializer(secret or secret_key()).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InvalidToken("this setup link has expired; ask for a new one") from None
    except BadSignature:
        raise InvalidToken("this setup link is not valid") from None
    row = conn.execute(f"select {_COLUMNS}, password_hash from raw.users where id = %s", (data.get("u"),)).fetchone()
    if row is None or _fingerprint(row[-1]) != data.get("f"):
        raise InvalidToken("this setup link has already been used or is no longer valid")
    return User(*row[:-1])


def setup_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/dashboard/setup/{token}"


# --- the demo account ---------------------------------------------------------------------------------------------


def ensure_demo_user(conn, account_id: str, email: str = DEMO_EMAIL) -> tuple[str, str]:
    """Make `email` a user of the demo account with a fresh random password; returns (email, password).

    Each demo run resets the password (it is printed once, never stored in plaintext).
    """
    password = secrets.token_urlsafe(12)
    hashed = generate_password_hash(password, method=HASH_METHOD)
    conn.execute(
        "insert into raw.users (id, account_id, email, password_hash) values (%s, %s, %s, %s) "
        "on conflict (email) do update set account_id = excluded.account_id, password_hash = excluded.password_hash",
        (new_id("user"), account_id, email, hashed),
    )
    return email, password
