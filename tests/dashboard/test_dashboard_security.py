"""Dashboard hardening: sign-in throttled per e-mail address, the session cookie's flags, and
re-authentication before creating or revoking keys."""

from __future__ import annotations

import secrets
import socket
import time

import pytest

from dashboard_helpers import PASSWORD, SECRET, csrf_token, post_form, sign_in
from mbuzz.accounts import create_key, list_keys


def _app(database_url, **config):
    from ingest_api import create_app

    return create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_KEY_PREFIX": f"sec-{secrets.token_hex(4)}",
            "DASHBOARD_LOGIN_LIMIT": "1000/minute",
            "DASHBOARD_LOGIN_EMAIL_LIMIT": "2/minute",
            **config,
        }
    )


def _attempt(client, email: str, password: str, address: str = "127.0.0.1"):
    token = csrf_token(client.get("/dashboard/login").data)
    return client.post(
        "/dashboard/login",
        data={"csrf_token": token, "email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- sign-in throttled per e-mail address --------------------------------------------------------------------------


def test_wrong_passwords_for_one_address_block_it_from_every_client_address(database_url, admin, other_admin):
    client = _app(database_url).test_client()
    for address in ("10.0.0.1", "10.0.0.2"):  # two clients: the per-address limit alone would never trip
        assert _attempt(client, admin.email, "wrong password", address).status_code == 200
    blocked = _attempt(client, admin.email.upper(), PASSWORD, "10.0.0.3")  # even the right password, any case
    assert blocked.status_code == 429 and blocked.mimetype == "text/html"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert b"Too many wrong passwords for this e-mail address" in blocked.data
    assert client.get("/dashboard/").status_code == 302  # not signed in
    # another address is not affected, from the same client
    assert _attempt(client, other_admin.email, PASSWORD, "10.0.0.3").status_code == 302


def test_unknown_addresses_are_throttled_alike(database_url):
    client = _app(database_url).test_client()
    email = f"nobody-{secrets.token_hex(3)}@example.com"
    assert [_attempt(client, email, "guess").status_code for _ in range(3)] == [200, 200, 429]


def test_a_successful_sign_in_clears_the_failures(database_url, admin):
    client = _app(database_url).test_client()
    statuses = []
    for password in ("wrong", PASSWORD, "wrong", PASSWORD):
        statuses.append(_attempt(client, admin.email, password).status_code)
    assert statuses == [200, 302, 200, 302]


def test_bad_form_input_is_not_counted_against_the_address(database_url, admin):
    client = _app(database_url).test_client()
    for _ in range(3):
        assert _attempt(client, admin.email, "").status_code == 200  # "This field is required", no password tried
    assert _attempt(client, admin.email, PASSWORD).status_code == 302


def test_throttles_fail_open_when_redis_is_away(database_url, admin):
    client = _app(
        database_url, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{_free_port()}/0", DASHBOARD_LOGIN_LIMIT="1/minute"
    ).test_client()
    for _ in range(3):
        assert _attempt(client, admin.email, "wrong").status_code == 200  # neither limit can count: let through
    assert _attempt(client, admin.email, PASSWORD).status_code == 302


def test_per_address_limit_still_counts_every_attempt(database_url, admin):
    client = _app(
        database_url, DASHBOARD_LOGIN_LIMIT="2/minute", DASHBOARD_LOGIN_EMAIL_LIMIT="100/minute"
    ).test_client()
    assert _attempt(client, admin.email, "wrong").status_code == 200
    assert _attempt(client, admin.email, "wrong").status_code == 200
    blocked = _attempt(client, admin.email, PASSWORD)
    assert blocked.status_code == 429 and b"Too many sign-in attempts from here" in blocked.data
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60


# -- the session cookie ---------------------------------------------------------------------------------------------


def _session_cookie(client, admin, base_url=None):
    page = client.get("/dashboard/login", base_url=base_url)
    response = client.post(
        "/dashboard/login",
        base_url=base_url,
        data={"csrf_token": csrf_token(page.data), "email": admin.email, "password": PASSWORD},
        headers={"Referer": f"{base_url}/dashboard/login"} if base_url else {},
    )  # Flask-WTF checks it over HTTPS
    assert response.status_code == 302
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    return {part.strip().split("=")[0].lower(): part.strip() for part in header.split(";")[1:]}


def test_session_cookie_over_plain_http_is_httponly_and_samesite_but_not_secure(database_url, admin):
    flags = _session_cookie(_app(database_url).test_client(), admin)
    assert "httponly" in flags and flags["samesite"] == "SameSite=Lax" and "secure" not in flags


def test_session_cookie_over_https_is_secure(database_url, admin):
    flags = _session_cookie(_app(database_url).test_client(), admin, base_url="https://localhost")
    assert "secure" in flags and "httponly" in flags and flags["samesite"] == "SameSite=Lax"


def test_session_cookie_secure_when_configured(database_url, admin):
    flags = _session_cookie(_app(database_url, SESSION_COOKIE_SECURE=True).test_client(), admin)
    assert "secure" in flags


def test_cookie_flags_cannot_be_configured_away(database_url, admin):
    app = _app(database_url, SESSION_COOKIE_HTTPONLY=False, SESSION_COOKIE_SAMESITE="None")
    flags = _session_cookie(app.test_client(), admin)
    assert "httponly" in flags and flags["samesite"] == "SameSite=Lax"
    strict = _session_cookie(_app(database_url, SESSION_COOKIE_SAMESITE="Strict").test_client(), admin)
    assert strict["samesite"] == "SameSite=Strict"


def test_api_answers_set_no_cookie(database_url, admin):
    client = _app(database_url).test_client()
    assert "Set-Cookie" not in client.get("/api/v1/health").headers


# -- re-authentication before changing keys -------------------------------------------------------------------------


def _age_sign_in(client, seconds: int = 3600) -> None:
    with client.session_transaction("/dashboard/") as session:
        session["auth_at"] = int(time.time()) - seconds


def test_fresh_sign_in_creates_keys_without_the_password(signed_in, conn, admin):
    page = signed_in.get("/dashboard/keys")
    assert b'name="password"' not in page.data
    response = post_form(signed_in, "/dashboard/keys", "/dashboard/keys", {"name": "fresh", "environment": "test"})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "password, message",
    [
        ("", b"Enter your password: changing keys or database access needs a sign-in from the last 10 minutes."),
        ("not my password", b"That is not your password. Nothing was changed"),
    ],
)
def test_old_sign_in_needs_the_password_to_create_a_key(signed_in, conn, admin, password, message):
    _age_sign_in(signed_in)
    page = signed_in.get("/dashboard/keys")
    assert b'name="password"' in page.data and b"confirm your password" in page.data
    response = post_form(
        signed_in, "/dashboard/keys", "/dashboard/keys", {"name": "stale", "environment": "live", "password": password}
    )
    assert response.status_code == 403 and message in response.data
    assert b"sk_live_" not in response.data
    assert list_keys(conn, admin.account_id) == []


def test_the_right_password_creates_the_key_and_renews_the_sign_in(signed_in, conn, admin):
    _age_sign_in(signed_in)
    response = post_form(
        signed_in,
        "/dashboard/keys",
        "/dashboard/keys",
        {"name": "confirmed", "environment": "test", "password": PASSWORD},
    )
    assert response.status_code == 201 and b"sk_test_" in response.data
    again = post_form(signed_in, "/dashboard/keys", "/dashboard/keys", {"name": "second", "environment": "test"})
    assert again.status_code == 201
    assert sorted(k.name for k in list_keys(conn, admin.account_id)) == ["confirmed", "second"]


def test_a_session_without_a_sign_in_time_counts_as_old(signed_in, conn, admin):
    with signed_in.session_transaction("/dashboard/") as session:
        del session["auth_at"]  # a cookie issued before re-authentication existed
    response = post_form(signed_in, "/dashboard/keys", "/dashboard/keys", {"name": "x", "environment": "test"})
    assert response.status_code == 403 and list_keys(conn, admin.account_id) == []


def test_old_sign_in_needs_the_password_to_revoke(signed_in, conn, admin):
    key = create_key(conn, admin.account_id, "live", "prod").key
    _age_sign_in(signed_in)
    url = f"/dashboard/keys/{key.id}/revoke"
    asked = post_form(signed_in, "/dashboard/keys", url, {"confirmed": "yes"})  # as the JavaScript confirm() sends
    assert asked.status_code == 403 and b'name="password"' in asked.data and b"Enter your password" in asked.data
    wrong = signed_in.post(url, data={"csrf_token": csrf_token(asked.data), "confirmed": "yes", "password": "nope"})
    assert wrong.status_code == 403 and b"not your password" in wrong.data
    assert list_keys(conn, admin.account_id)[0].active
    done = signed_in.post(url, data={"csrf_token": csrf_token(wrong.data), "confirmed": "yes", "password": PASSWORD})
    assert done.status_code == 303 and not list_keys(conn, admin.account_id)[0].active


def test_revoking_another_accounts_key_is_404_before_any_password(signed_in, conn, other_admin):
    theirs = create_key(conn, other_admin.account_id, "live", "theirs").key
    _age_sign_in(signed_in)
    response = post_form(
        signed_in, "/dashboard/keys", f"/dashboard/keys/{theirs.id}/revoke", {"confirmed": "yes", "password": PASSWORD}
    )
    assert response.status_code == 404 and list_keys(conn, other_admin.account_id)[0].active


def test_wrong_confirmation_passwords_count_as_failed_sign_ins(database_url, admin, conn):
    client = _app(database_url).test_client()
    sign_in(client, admin)
    _age_sign_in(client)
    statuses = [
        post_form(
            client, "/dashboard/keys", "/dashboard/keys", {"name": "x", "environment": "test", "password": "guess"}
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [403, 403, 429]
    assert list_keys(conn, admin.account_id) == []
