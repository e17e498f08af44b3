"""The dashboard blueprint and what every view shares: sign-in, the account's database scope, rendering.

Sessions hold only the user id and the account id (signed cookie). Each request
re-reads the user; a deleted user is signed out. Database access:

- `scoped()` — a transaction switched to the API role with the signed-in
  account set, so row-level security (migration 0003) fences every `raw` read
  in, on top of each query's own `account_id` filter;
- `unscoped()` — a transaction as the application's own user, for what the API
  role may not touch (the dbt `marts`, the `attribution` schema, key creation and
  revocation); the shared services called there filter by the session's
  account id themselves (`mbuzz.reports`, `mbuzz.accounts.revoke_key(…, account_id)`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from functools import wraps
from typing import Callable

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for

from ingest_api import db
from ingest_api.dashboard import copy

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

MAX_RANGE_DAYS = 366 * 3


@contextmanager
def scoped() -> Iterator:
    with db.transaction() as conn:
        db.scope_to_account(conn, g.account_id)
        yield conn


@contextmanager
def unscoped() -> Iterator:
    with db.transaction() as conn:
        yield conn


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.get("user") is None:
            return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def load_user() -> None:
    """Before each dashboard request: who is signed in (None when nobody or the user is gone)."""
    from mbuzz import users
    from mbuzz.accounts import get_account
    from mbuzz.errors import NotFound

    g.user = g.account = g.account_id = None
    user_id = session.get("user_id")
    if not user_id:
        return
    with unscoped() as conn:
        try:
            user = users.get_user(conn, user_id)
            account = get_account(conn, user.account_id)
        except NotFound:
            session.clear()
            return
    if user.account_id != session.get("account_id") or not user.has_password:
        session.clear()
        return
    g.user, g.account, g.account_id = user, account, account.id


def render(template: str, status: int = 200, **context):
    return render_template(f"dashboard/{template}", **context), status


def not_found():
    """Another account's id answers exactly like a missing one."""
    abort(404)


def date_range(default_days: int = 30) -> tuple[date, date, list[str]]:
    """`from`/`to` query parameters (YYYY-MM-DD), defaulting to the last `default_days` days; errors to show."""
    today = date.today()
    errors: list[str] = []

    def parse(name: str, fallback: date) -> date:
        raw = (request.args.get(name) or "").strip()
        if not raw:
            return fallback
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors.append(copy.BAD_DATE.format(value=raw))
            return fallback

    end = parse("to", today)
    start = parse("from", end - timedelta(days=default_days - 1))
    if start > end:
        errors.append(copy.DATES_REVERSED)
        start, end = end, start
    if (end - start).days > MAX_RANGE_DAYS:
        errors.append(copy.RANGE_TOO_LONG.format(days=MAX_RANGE_DAYS))
        start = end - timedelta(days=MAX_RANGE_DAYS)
    return start, end, errors


def int_arg(name: str, default: int, low: int = 1, high: int = 10_000) -> int:
    try:
        return min(max(int(request.args.get(name, default)), low), high)
    except ValueError:
        return default
