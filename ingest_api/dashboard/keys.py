"""API keys: create (plaintext shown once), list masked, revoke with confirmation — `mbuzz.accounts`, as the CLI.

Secret keys are listed masked; publishable keys (public by design, for page source) in full with their
allowed origins, which the form checks with `accounts.normalise_origin` (forms.KeyForm).

Creating and revoking need a recent sign-in or the password again (auth.reauthenticated): 403 with the
form asking for it otherwise, and nothing changed."""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for

from ingest_api.dashboard import copy
from ingest_api.dashboard.auth import reauth_minutes, reauthenticated, recently_authenticated
from ingest_api.dashboard.base import bp, login_required, not_found, render, scoped, unscoped
from ingest_api.dashboard.forms import ConfirmForm, KeyForm, RevokeForm
from mbuzz import accounts
from mbuzz.errors import MbuzzError, NotFound

NO_STORE = {"Cache-Control": "no-store"}


def _page(form: KeyForm, created: accounts.NewKey | None = None, status: int = 200):
    with scoped() as conn:
        keys = accounts.list_keys(conn, g.account_id)
    keys.sort(key=lambda k: (not k.active, -k.created_at.timestamp()))
    body, code = render(
        "keys.html",
        status,
        form=form,
        keys=keys,
        created=created,
        revoke_form=ConfirmForm(),
        reauth=not recently_authenticated(),
        reauth_minutes=reauth_minutes(),
    )
    return body, code, NO_STORE


@bp.get("/keys")
@login_required
def keys():
    kind = request.args.get("kind")  # the Install page links here with ?kind=publishable
    return _page(KeyForm(kind=kind) if kind in ("secret", "publishable") else KeyForm())


@bp.post("/keys")
@login_required
def create_key():
    form = KeyForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    if not reauthenticated(form):
        return _page(form, status=403)
    # The API role may only read keys: creation runs as the app's user, for the session's account only.
    try:
        with unscoped() as conn:
            created = accounts.create_key(
                conn,
                g.account_id,
                form.environment.data,
                (form.name.data or "").strip(),
                publishable=form.kind.data == "publishable",
                origins=form.allowed_origins,
            )
    except MbuzzError as exc:  # the service's own rules (the form checked the same ones first)
        form.origins.errors = [str(exc)]
        return _page(form, status=400)
    # Rendered, not redirected: the plaintext never goes into the session cookie or a URL.
    return _page(KeyForm(formdata=None), created=created, status=201)


def _own_key(key_id: str) -> accounts.ApiKey:
    with scoped() as conn:  # row-level security: another account's key is simply not there
        for key in accounts.list_keys(conn, g.account_id):
            if key.id == key_id:
                return key
    not_found()


def _confirm_page(key: accounts.ApiKey, form: RevokeForm, status: int = 200):
    form.confirmed.data = "yes"
    return render(
        "confirm_revoke.html",
        status,
        key=key,
        form=form,
        reauth=not recently_authenticated(),
        reauth_minutes=reauth_minutes(),
    )


@bp.post("/keys/<key_id>/revoke")
@login_required
def revoke_key(key_id: str):
    form = RevokeForm()
    key = _own_key(key_id)
    if form.confirmed.data != "yes":  # without JavaScript's confirm(): a page that asks first
        return _confirm_page(key, RevokeForm(formdata=None, confirmed="yes"))
    if not reauthenticated(form):
        return _confirm_page(key, form, status=403)
    with unscoped() as conn:
        try:
            key = accounts.revoke_key(conn, key_id, g.account_id)
        except NotFound:
            not_found()
    flash(copy.KEYS_REVOKED_FLASH.format(key=key.masked), "success")
    return redirect(url_for("dashboard.keys"), code=303)
