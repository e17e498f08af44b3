"""Sign in, sign out, and the one-time setup link (`mbuzz users create … --setup-link`)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, session, url_for
from werkzeug.exceptions import TooManyRequests

from ingest_api import limits
from ingest_api.dashboard import copy
from ingest_api.dashboard.base import bp, render, unscoped
from ingest_api.dashboard.forms import ConfirmForm, LoginForm, SetupForm
from mbuzz import users
from mbuzz.errors import MbuzzError


def _safe_next(target: str | None) -> str:
    """Only a path of this dashboard: never another host (no open redirect)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith(bp.url_prefix + "/") and "\\" not in target:
            return target
    return url_for("dashboard.overview")


def _sign_in(user: users.User) -> None:
    session.clear()  # a fresh session (and CSRF token) on every sign-in: no fixation
    session["user_id"] = user.id
    session["account_id"] = user.account_id
    session.permanent = True


def _count_sign_in_attempt() -> None:
    """Sign-in attempts per client address (DASHBOARD_LOGIN_LIMIT); over it → 429 page."""
    states = limits.hit(current_app.config["DASHBOARD_LOGIN_LIMIT"], request.remote_addr or "", "dashboard-login")
    if states and any(state.breached for state in states):
        raise TooManyRequests()


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "POST":
        _count_sign_in_attempt()
    error = None
    if form.validate_on_submit():
        with unscoped() as conn:  # before sign-in there is no account to scope to
            user = users.verify(conn, form.email.data, form.password.data)
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
            return render("message.html", status=404, title=copy.SETUP_TITLE,
                          message=copy.SETUP_BAD_LINK.format(reason=str(exc).removeprefix("this setup link ")))
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
