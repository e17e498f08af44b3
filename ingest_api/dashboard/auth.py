"""Sign in, sign out, the one-time setup link (`mbuzz users create … --setup-link`), and re-authentication.

Throttling, on the API's rate limiter and its storage (Redis when REDIS_URL is
set; fail-open, as every limit of mbuzz):

- every sign-in attempt per client address (DASHBOARD_LOGIN_LIMIT);
- failed passwords per e-mail address (DASHBOARD_LOGIN_EMAIL_LIMIT), known or
  not (so the answer never tells whether an address has a user), keyed by a
  digest of the address. Once spent, that address cannot sign in, even with the
  right password, until the window ends; a success clears the count.

Re-authentication: creating or revoking a key or a database login needs a sign-in (or a password
confirmation) within DASHBOARD_REAUTH_SECONDS; past that, the form asks for the
password again, counted by both throttles like a sign-in.
"""

from __future__ import annotations

import hashlib
import math
import time
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, request, session, url_for
from werkzeug.exceptions import TooManyRequests

from ingest_api import limits
from ingest_api.dashboard import copy
from ingest_api.dashboard.base import bp, render, unscoped
from ingest_api.dashboard.forms import ConfirmForm, LoginForm, SetupForm
from mbuzz import users
from mbuzz.errors import MbuzzError


def _safe_next(target: str | None) -> str:
    """Only a path of this dashboard or of the docs site: never another host (no open redirect)."""
    if target:
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith((bp.url_prefix + "/", "/docs/"))
            and "\\" not in target
        ):
            return target
    return url_for("dashboard.overview")


EMAIL_SCOPE = "dashboard-login-email"


class Throttled(TooManyRequests):
    """429 with the page's own message and the seconds to wait (the Retry-After header)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(description=message, retry_after=max(1, math.ceil(retry_after)))


def _sign_in(user: users.User) -> None:
    session.clear()  # a fresh session (and CSRF token) on every sign-in: no fixation
    session["user_id"] = user.id
    session["account_id"] = user.account_id
    session["auth_at"] = int(time.time())
    session.permanent = True


def _count_sign_in_attempt() -> None:
    """Sign-in attempts per client address (DASHBOARD_LOGIN_LIMIT); over it → 429 page."""
    states = limits.hit(current_app.config["DASHBOARD_LOGIN_LIMIT"], request.remote_addr or "", "dashboard-login")
    if states and any(state.breached for state in states):
        wait = max(state.reset_at for state in states if state.breached) - time.time()
        raise Throttled(copy.ERROR_MESSAGES[429], wait)


def _email_key(email: str) -> str:
    """The throttle's key for an address: a digest, so Redis never holds the address itself."""
    return hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:32]


def check_password(email: str, password: str) -> users.User | None:
    """The user when the password is right; failures counted per e-mail address, 429 once they are spent."""
    limit, key = current_app.config["DASHBOARD_LOGIN_EMAIL_LIMIT"], _email_key(email)
    wait = limits.wait(limit, key, EMAIL_SCOPE)
    if wait > 0:
        raise Throttled(copy.LOGIN_EMAIL_THROTTLED.format(minutes=max(1, math.ceil(wait / 60))), wait)
    with unscoped() as conn:  # before sign-in there is no account to scope to
        user = users.verify(conn, email, password)
    if user is None:
        limits.hit(limit, key, EMAIL_SCOPE)
    else:
        limits.forget(limit, key, EMAIL_SCOPE)
    return user


def recently_authenticated() -> bool:
    """Signed in (or the password confirmed) within DASHBOARD_REAUTH_SECONDS."""
    auth_at = session.get("auth_at")
    return isinstance(auth_at, int) and 0 <= time.time() - auth_at <= current_app.config["DASHBOARD_REAUTH_SECONDS"]


def reauthenticated(form) -> bool:
    """True after a recent sign-in, or when `form.password` is the signed-in user's password (which renews it);
    else False with the reason on `form.password.errors`. Wrong passwords count as failed sign-ins."""
    if recently_authenticated():
        return True
    password = form.password.data or ""
    if not password:
        form.password.errors = [copy.REAUTH_NEEDED.format(minutes=reauth_minutes())]
        return False
    _count_sign_in_attempt()
    user = check_password(g.user.email, password)
    if user is None or user.id != g.user.id:
        current_app.logger.info("dashboard re-authentication failed")
        form.password.errors = [copy.REAUTH_WRONG]
        return False
    session["auth_at"] = int(time.time())
    return True


def reauth_minutes() -> int:
    return max(1, current_app.config["DASHBOARD_REAUTH_SECONDS"] // 60)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "POST":
        _count_sign_in_attempt()
    error = None
    if form.validate_on_submit():
        user = check_password(form.email.data, form.password.data)
        if user is not None:
            _sign_in(user)
            return redirect(_safe_next(request.args.get("next")))
        current_app.logger.info("dashboard sign-in failed")
        error = copy.LOGIN_FAILED
    elif request.method == "GET" and request.args.get("next"):
        flash(copy.LOGIN_NEEDED, "info")
    return render("login.html", form=form, error=error)


@bp.post("/logout")
def logout():
    ConfirmForm()  # the CSRF check runs in the blueprint's before_request
    session.clear()
    flash(copy.SIGNED_OUT, "info")
    return redirect(url_for("dashboard.login"))


@bp.route("/setup/<token>", methods=["GET", "POST"])
def setup(token: str):
    secret = current_app.config["SECRET_KEY"]
    with unscoped() as conn:
        try:
            user = users.user_for_token(conn, token, secret)
        except users.InvalidToken as exc:
            return render(
                "message.html",
                status=404,
                title=copy.SETUP_TITLE,
                message=copy.SETUP_BAD_LINK.format(reason=str(exc).removeprefix("this setup link ")),
            )
        form = SetupForm()
        if form.validate_on_submit():
            try:
                user = users.set_password(conn, user.id, form.password.data)
            except MbuzzError as exc:
                form.password.errors = [str(exc)]
            else:
                _sign_in(user)
                flash(copy.SETUP_DONE, "success")
                return redirect(url_for("dashboard.overview"))
    return render("setup.html", form=form, email=user.email)
