"""Database access: the account's read-only PostgreSQL logins for BI tools — `mbuzz.bi`, as `mbuzz bi`.

Lists this account's logins (never another's), grants one (its connection URL, password included,
rendered once in the response, `Cache-Control: no-store`, as a new secret key is) and revokes one
(its open sessions ended). Both need a recent sign-in or the password again (auth.reauthenticated)
and CSRF, as keys do. Another account's login, or one that is gone, answers 404 and nothing changes.

Logins are made by the application's own database user (`unscoped()`): without CREATEROLE it
cannot, and the page says so with what to do instead of trying. The URL names the database the
app uses (its host, port, name and sslmode, never its user or password), with the host
`BI_HOST` (MBUZZ_BI_HOST) when BI tools reach the database under another name.
"""

from __future__ import annotations

import psycopg
from flask import current_app, flash, g, redirect, url_for

from ingest_api import db
from ingest_api.dashboard import copy
from ingest_api.dashboard.auth import reauth_minutes, reauthenticated, recently_authenticated
from ingest_api.dashboard.base import bp, login_required, render, unscoped
from ingest_api.dashboard.forms import BiGrantForm, ConfirmForm, RevokeForm
from mbuzz import bi
from mbuzz.errors import NotFound

NO_STORE = {"Cache-Control": "no-store"}


def _state(conn) -> tuple[list[bi.BiRole], bool, str]:
    """The account's logins (raw.bi_roles is not the API role's: read as the app's user, filtered
    by the session's account), whether this app may manage logins, and its database user."""
    roles = bi.list_roles(conn, g.account_id)
    return roles, bi.can_manage_roles(conn), conn.info.user


def _server_url() -> str | None:
    """The app's database URL, for the server, database and sslmode of the BI URL (`bi.connection_url`
    takes nothing else from it); a keyword DSN leaves that to the connection's own host and port."""
    url = db.database().url
    return url if url.startswith(("postgresql://", "postgres://")) else None


def _page(form: BiGrantForm, created: bi.Grant | None = None, status: int = 200, error: str | None = None):
    with unscoped() as conn:
        roles, can_manage, user = _state(conn)
    body, code = render(
        "bi_access.html",
        status,
        form=form,
        roles=roles,
        created=created,
        error=error,
        no_privilege=None if can_manage else copy.BI_NO_PRIVILEGE.format(user=user, account=g.account_id),
        default_role=bi.default_role_name(g.account_id),
        revoke_form=ConfirmForm(),
        reauth=not recently_authenticated(),
        reauth_minutes=reauth_minutes(),
    )
    return body, code, NO_STORE


def _cannot_manage(conn) -> bool:
    return not bi.can_manage_roles(conn)


@bp.get("/database")
@login_required
def database():
    return _page(BiGrantForm())


@bp.post("/database")
@login_required
def grant_database_access():
    form = BiGrantForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    with unscoped() as conn:
        if _cannot_manage(conn):
            return _page(form, status=403)  # the page carries the explanation
    if not reauthenticated(form):
        return _page(form, status=403)
    role_name = form.role_name.data or None
    try:
        with unscoped() as conn:  # one transaction: the role, its mapping and grants, or nothing
            made = bi.grant(conn, g.account_id, role_name, host=current_app.config["BI_HOST"], server_url=_server_url())
    except bi.RoleTaken as exc:  # another account's name is not told: only that it is taken
        message = copy.BI_TAKEN_HERE if exc.account_id == g.account_id else copy.BI_TAKEN
        form.role_name.errors = [message.format(role=exc.role_name)]
        return _page(form, status=409)
    except psycopg.errors.UniqueViolation:  # the same name granted by a request at the same moment
        name = role_name or bi.default_role_name(g.account_id)
        form.role_name.errors = [copy.BI_TAKEN_HERE.format(role=name)]
        return _page(form, status=409)
    except psycopg.errors.InsufficientPrivilege:  # privileges changed since the check: rolled back
        current_app.logger.warning("bi grant refused: the database user may not create roles")
        return _page(form, status=403)
    current_app.logger.info("bi login created for the signed-in account")  # never the URL: it holds the password
    # Rendered, not redirected: the password never goes into the session cookie or a URL.
    return _page(BiGrantForm(formdata=None), created=made, status=201)


def _own_role(role_name: str) -> bi.BiRole | None:
    with unscoped() as conn:
        for role in bi.list_roles(conn, g.account_id):
            if role.role_name == role_name:
                return role
    return None


def _unknown(role_name: str):
    """Unknown, revoked already (a double submit) or another account's: the same 404, nothing changed."""
    return _page(BiGrantForm(formdata=None), status=404, error=copy.BI_UNKNOWN.format(role=role_name))


def _confirm_page(role: bi.BiRole, form: RevokeForm, status: int = 200):
    form.confirmed.data = "yes"
    return render(
        "confirm_bi_revoke.html",
        status,
        role=role,
        form=form,
        reauth=not recently_authenticated(),
        reauth_minutes=reauth_minutes(),
    )


@bp.post("/database/<role_name>/revoke")
@login_required
def revoke_database_access(role_name: str):
    form = RevokeForm()
    role = _own_role(role_name)
    if role is None:
        return _unknown(role_name)
    if form.confirmed.data != "yes":  # without JavaScript's confirm(): a page that asks first
        return _confirm_page(role, RevokeForm(formdata=None, confirmed="yes"))
    with unscoped() as conn:
        if _cannot_manage(conn):
            return _page(BiGrantForm(formdata=None), status=403)
    if not reauthenticated(form):
        return _confirm_page(role, form, status=403)
    try:
        with unscoped() as conn:
            ended = bi.revoke(conn, role_name, g.account_id)
    except NotFound:  # revoked by another request meanwhile
        return _unknown(role_name)
    except psycopg.errors.InsufficientPrivilege:
        current_app.logger.warning("bi revoke refused: the database user may not drop roles")
        return _page(BiGrantForm(formdata=None), status=403)
    flash(copy.BI_REVOKED_FLASH.format(role=role_name, sessions=ended), "success")
    return redirect(url_for("dashboard.database"), code=303)
