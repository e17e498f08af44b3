"""The account admin dashboard: server-rendered HTML under /dashboard on the API's Flask app.

    dashboard.init_app(app)

Pages: sign-in/out and one-time setup links (auth.py), overview (overview.py:
recent events, UTM top 10, usage), API keys (keys.py), the snippets to install
(install.py), attribution reports
(reports.py), models and the DSL editor (models.py), identity match rates (identity.py), read-only
database logins for BI tools (bi_access.py). Shared pieces are in
base.py (the blueprint, sign-in, database scoping), every user-facing string
in copy.py, forms in forms.py.

Security: a signed session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS
or when configured) holding only the user and account ids and the time of
sign-in; sign-in throttled per client address and per e-mail address;
re-authentication before creating or revoking keys and database logins (auth.py); Flask-WTF CSRF tokens on every form, checked for every
unsafe request to the blueprint (the JSON API keeps bearer-key auth and no
CSRF); every query scoped to the signed-in account, with row-level security
as a second wall; another account's ids answer 404. Errors of dashboard pages
are HTML pages; /api/... keeps its JSON errors (errors.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
from flask import Flask, current_app, has_request_context, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, NotFound

from ingest_api import errors as api_errors
from ingest_api.dashboard import (  # noqa: F401  (routes)
    auth,
    bi_access,
    copy,
    identity,
    install,
    keys,
    models,
    overview,
    reports,
)
from ingest_api.dashboard.base import bp, load_user, render
from mbuzz.errors import DatabaseUnavailable

csrf = CSRFProtect()
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'",
}


@bp.before_request
def _before() -> None:
    if request.endpoint == "dashboard.static":
        return
    if request.method in UNSAFE:
        csrf.protect()  # raises CSRFError (400) without a valid token
    load_user()


@bp.after_request
def _headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "dashboard.static":
        response.headers.setdefault("Cache-Control", "private, no-cache")
    return response


@bp.app_context_processor
def _context() -> dict:
    """`copy` (every string) and `section`: the view module of this page, for the navigation's aria-current."""
    view = current_app.view_functions.get(request.endpoint or "")
    section = view.__module__.rsplit(".", 1)[-1] if view is not None else ""
    return {"copy": copy, "section": section}


@bp.app_template_filter("utc")
def _utc(value: datetime) -> datetime:
    """Timestamps are shown in UTC whatever the database session's time zone."""
    return value.astimezone(timezone.utc) if value.tzinfo is not None else value


def _error_page(status: int, message: str | None = None):
    return render(
        "error.html",
        status,
        code=status,
        title=copy.ERROR_TITLES.get(status, copy.ERROR_TITLES[500]),
        message=message or copy.ERROR_MESSAGES.get(status, copy.ERROR_MESSAGES[500]),
    )


def _http_error(exc: HTTPException):
    if isinstance(exc, CSRFError):
        return _error_page(400, copy.CSRF_ERROR)
    if exc.code == 429:
        throttled = isinstance(exc, auth.Throttled)
        body, status = _error_page(429, exc.description if throttled else None)
        return body, status, {"Retry-After": str(exc.retry_after if throttled else 60)}
    return _error_page(exc.code or 500)


def _unavailable(exc: Exception):
    current_app.logger.warning("database unavailable: %s", type(exc).__name__)
    body, status = _error_page(503)
    return body, status, {"Retry-After": str(current_app.config["RETRY_AFTER_UNAVAILABLE"])}


def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    current_app.logger.exception("unhandled dashboard error")
    return _error_page(500)


def _not_found(exc: NotFound):
    """Unmatched URLs under /dashboard get the HTML page; everything else the API's JSON error."""
    if request.path == bp.url_prefix or request.path.startswith(bp.url_prefix + "/"):
        return _error_page(404)
    return api_errors._http_error(exc)


# Blueprint set-up happens once, at import (a blueprint cannot be changed after its first registration).
bp.register_error_handler(HTTPException, _http_error)
bp.register_error_handler(DatabaseUnavailable, _unavailable)
bp.register_error_handler(psycopg.OperationalError, _unavailable)
bp.register_error_handler(psycopg.InterfaceError, _unavailable)
bp.register_error_handler(Exception, _unexpected)


READ_ONLY_PREFIX = "/docs"  # the docs site (guides.py) shows a signed-in reader their own host and keys


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class DashboardSessions(SecureCookieSessionInterface):
    """Session cookies only under /dashboard (and read, never written, under /docs): API calls
    authenticate with keys, never read or set a cookie, and do not pay for verifying one on every
    batch of events.

    The cookie is always HttpOnly and SameSite (Lax, or Strict when configured), and Secure when
    SESSION_COOKIE_SECURE is set (MBUZZ_SESSION_COOKIE_SECURE=true) or this request came over HTTPS
    (`request.is_secure`: the WSGI scheme; mbuzz applies no proxy fix, so behind a TLS-terminating
    proxy set the option)."""

    def open_session(self, app: Flask, request):
        if _under(request.path, bp.url_prefix) or _under(request.path, READ_ONLY_PREFIX):
            return super().open_session(app, request)
        return None  # Flask's null session: reading works, writing raises

    def save_session(self, app: Flask, session, response) -> None:
        if not _under(request.path, READ_ONLY_PREFIX):  # the docs site reads who is signed in, never writes
            super().save_session(app, session, response)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)

    def get_cookie_httponly(self, app: Flask) -> bool:
        return True

    def get_cookie_samesite(self, app: Flask) -> str:
        return "Strict" if str(app.config.get("SESSION_COOKIE_SAMESITE") or "").lower() == "strict" else "Lax"


def _secret_key(app: Flask) -> str:
    if app.config.get("SECRET_KEY"):
        return app.config["SECRET_KEY"]
    from mbuzz.users import secret_key

    return secret_key()


def init_app(app: Flask) -> None:
    app.config["SECRET_KEY"] = _secret_key(app)
    if app.config["PERMANENT_SESSION_LIFETIME"] == Flask.default_config["PERMANENT_SESSION_LIFETIME"]:
        app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=12)  # Flask's 31 days is long for an admin UI
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 12 * 3600)
    # Sign-in attempts per client address (flask-limiter notation; the API's limiter and storage).
    app.config.setdefault("DASHBOARD_LOGIN_LIMIT", "10/minute;100/hour")
    # Failed passwords per e-mail address, whatever the client address (auth.py).
    app.config.setdefault("DASHBOARD_LOGIN_EMAIL_LIMIT", "5/minute;20/hour")
    # Creating or revoking a key needs a sign-in (or the password again) this recent.
    app.config.setdefault("DASHBOARD_REAUTH_SECONDS", 600)
    # The JSON API authenticates with bearer keys, not cookies: CSRF is checked only in this blueprint.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.session_interface = DashboardSessions()
    csrf.init_app(app)
    app.register_error_handler(NotFound, _not_found)
    app.register_blueprint(bp)
    app.add_url_rule("/", "root", lambda: redirect(url_for("dashboard.overview")))
    app.extensions["mbuzz.dashboard"] = True
