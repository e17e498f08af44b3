"""Sign-in, sign-out, setup links, CSRF, HTML errors, the users service and CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dashboard_helpers import PASSWORD, SECRET, csrf_token, post_form

PAGES = [
    "/dashboard/",
    "/dashboard/keys",
    "/dashboard/database",
    "/dashboard/reports",
    "/dashboard/reports/campaigns?channel=email",
    "/dashboard/models",
    "/dashboard/models/new",
    "/dashboard/models/presets/linear",
    "/dashboard/models/amod_x",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/dashboard/login?next=")


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/keys",
        "/dashboard/keys/key_x/revoke",
        "/dashboard/database",
        "/dashboard/database/mbuzz_bi_x/revoke",
        "/dashboard/models/new",
        "/dashboard/models/amod_x/activate",
        "/dashboard/models/preview",
        "/dashboard/logout",
        "/dashboard/login",
    ],
)
def test_posts_without_csrf_token_are_refused(signed_in, path):
    response = signed_in.post(path, data={"name": "x", "environment": "test", "source": "model"})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert b"did not come from this site" in response.data


def test_csrf_token_of_another_session_is_refused(app, admin, signed_in):
    other = app.test_client()
    foreign = csrf_token(other.get("/dashboard/login").data)
    response = signed_in.post("/dashboard/keys", data={"csrf_token": foreign, "environment": "test"})
    assert response.status_code == 400


def test_sign_in_redirects_to_the_page_asked_for(client, admin):
    page = client.get("/dashboard/login?next=/dashboard/keys")
    assert b"Please sign in" in page.data
    response = client.post(
        "/dashboard/login?next=/dashboard/keys",
        data={"csrf_token": csrf_token(page.data), "email": admin.email.upper(), "password": PASSWORD},
    )
    assert response.status_code == 302 and response.location == "/dashboard/keys"
    assert client.get("/dashboard/keys").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/api/v1/health", "/\\evil"])
def test_sign_in_never_redirects_elsewhere(client, admin, target):
    page = client.get("/dashboard/login")
    response = client.post(
        "/dashboard/login",
        query_string={"next": target},
        data={"csrf_token": csrf_token(page.data), "email": admin.email, "password": PASSWORD},
    )
    assert response.location == "/dashboard/"


@pytest.mark.parametrize(
    "email, password", [("nobody@example.com", PASSWORD), (None, "wrong password!"), (None, ""), ("not-an-email", "x")]
)
def test_wrong_credentials_show_an_error(client, admin, email, password):
    page = client.get("/dashboard/login")
    response = client.post(
        "/dashboard/login",
        data={"csrf_token": csrf_token(page.data), "email": email or admin.email, "password": password},
    )
    assert response.status_code == 200
    assert client.get("/dashboard/").status_code == 302  # still signed out
    if password:
        assert b"do not match an account admin" in response.data
    else:
        assert b"This field is required" in response.data


def test_sign_in_attempts_are_limited(database_url, admin):
    from ingest_api import create_app

    client = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "DASHBOARD_LOGIN_LIMIT": "2/minute",
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_KEY_PREFIX": "login-limit-test",
        }
    ).test_client()
    token = csrf_token(client.get("/dashboard/login").data)
    for _ in range(2):
        wrong = client.post("/dashboard/login", data={"csrf_token": token, "email": admin.email, "password": "nope"})
        assert wrong.status_code == 200
    blocked = client.post("/dashboard/login", data={"csrf_token": token, "email": admin.email, "password": PASSWORD})
    assert blocked.status_code == 429 and blocked.mimetype == "text/html" and blocked.headers["Retry-After"]
    assert b"Too many sign-in attempts" in blocked.data


def test_sign_out_ends_the_session(signed_in):
    response = post_form(signed_in, "/dashboard/", "/dashboard/logout", {})
    assert response.status_code == 302
    assert signed_in.get("/dashboard/").status_code == 302


def test_a_deleted_user_is_signed_out(signed_in, conn, admin):
    conn.execute("delete from raw.users where id = %s", (admin.user_id,))
    assert signed_in.get("/dashboard/").status_code == 302


def test_html_errors_for_dashboard_json_for_api(signed_in):
    page = signed_in.get("/dashboard/no/such/page")
    assert page.status_code == 404 and page.mimetype == "text/html" and b"Not found" in page.data
    api = signed_in.get("/api/v1/no-such-endpoint")
    assert api.status_code == 404 and api.mimetype == "application/json"
    assert api.json["error"]["code"] == "not_found"


def test_security_headers(signed_in):
    response = signed_in.get("/dashboard/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    cookie = signed_in.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_database_down_gives_an_html_503():
    import socket

    from ingest_api import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = create_app(
        {"DATABASE_URL": f"postgresql://nobody@127.0.0.1:{port}/none", "TESTING": True, "SECRET_KEY": SECRET}
    ).test_client()
    page = client.get("/dashboard/login")
    response = client.post(
        "/dashboard/login",
        data={"csrf_token": csrf_token(page.data), "email": "a@example.com", "password": "whatever it is"},
    )
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert response.headers["Retry-After"] and b"Database unavailable" in response.data


# -- setup links --------------------------------------------------------------------------------------------------


def test_setup_link_works_once(client, conn, admin):
    from mbuzz.users import create_user, setup_token

    user = create_user(conn, admin.account_id, "new-admin-" + admin.email)
    token = setup_token(conn, user.id, SECRET)
    page = client.get(f"/dashboard/setup/{token}")
    assert page.status_code == 200 and user.email.encode() in page.data
    short = client.post(
        f"/dashboard/setup/{token}", data={"csrf_token": csrf_token(page.data), "password": "short", "confirm": "short"}
    )
    assert b"at least 10" in short.data
    mismatch = client.post(
        f"/dashboard/setup/{token}",
        data={"csrf_token": csrf_token(page.data), "password": "long enough 1", "confirm": "long enough 2"},
    )
    assert b"passwords are different" in mismatch.data
    done = client.post(
        f"/dashboard/setup/{token}",
        data={"csrf_token": csrf_token(page.data), "password": "long enough 1", "confirm": "long enough 1"},
    )
    assert done.status_code == 302 and client.get("/dashboard/").status_code == 200
    again = client.get(f"/dashboard/setup/{token}")
    assert again.status_code == 404 and b"already been used" in again.data


def test_tampered_setup_link_is_refused(client, conn, admin):
    from mbuzz.users import setup_token

    token = setup_token(conn, admin.user_id, "another secret")
    response = client.get(f"/dashboard/setup/{token}")
    assert response.status_code == 404 and b"not valid" in response.data


# -- the users service ----------------------------------------------------------------------------------------------


def test_passwords_are_scrypt_hashes(conn, admin):
    from mbuzz import users

    stored = conn.execute("select password_hash from raw.users where id = %s", (admin.user_id,)).fetchone()[0]
    assert stored.startswith("scrypt:") and PASSWORD not in stored
    assert users.verify(conn, admin.email, PASSWORD).id == admin.user_id
    assert users.verify(conn, admin.email, PASSWORD + "x") is None
    assert users.verify(conn, "unknown@example.com", PASSWORD) is None


def test_user_rules(conn, admin):
    from mbuzz import users
    from mbuzz.errors import MbuzzError

    with pytest.raises(MbuzzError, match="already exists"):
        users.create_user(conn, admin.account_id, admin.email, PASSWORD)
    with pytest.raises(MbuzzError, match="not an e-mail"):
        users.create_user(conn, admin.account_id, "nope", PASSWORD)
    with pytest.raises(MbuzzError, match="at least"):
        users.create_user(conn, admin.account_id, "x-" + admin.email, "short")
    with pytest.raises(MbuzzError, match="no account"):
        users.create_user(conn, "acct_missing", "y-" + admin.email, PASSWORD)


def test_demo_user_gets_a_fresh_password_each_run(client, conn, admin):
    from mbuzz.users import ensure_demo_user

    email, first = ensure_demo_user(conn, admin.account_id)
    email2, second = ensure_demo_user(conn, admin.account_id)
    assert email == email2 == "demo@mbuzz.local" and first != second
    page = client.get("/dashboard/login")
    old = client.post("/dashboard/login", data={"csrf_token": csrf_token(page.data), "email": email, "password": first})
    assert old.status_code == 200
    new = client.post(
        "/dashboard/login", data={"csrf_token": csrf_token(page.data), "email": email, "password": second}
    )
    assert new.status_code == 302


def test_cli_creates_users_with_a_prompted_password_or_a_setup_link(conn, admin, monkeypatch, tmp_path):
    from mbuzz.cli import cli
    from mbuzz.users import user_for_token, verify

    monkeypatch.setenv("MBUZZ_SECRET_KEY", SECRET)
    runner = CliRunner()
    email = "cli-" + admin.email
    result = runner.invoke(
        cli,
        ["users", "create", "--account", admin.account_id, "--email", email],
        input="a long password\na long password\n",
    )
    assert result.exit_code == 0, result.output
    assert "a long password" not in result.output.replace("Password", "")
    assert verify(conn, email, "a long password") is not None

    result = runner.invoke(
        cli,
        [
            "users",
            "create",
            "--account",
            admin.account_id,
            "--email",
            "link-" + email,
            "--setup-link",
            "--base-url",
            "http://dash.example:8000",
        ],
    )
    assert result.exit_code == 0, result.output
    url = [line for line in result.output.split() if line.startswith("http://dash.example:8000/dashboard/setup/")]
    assert url, result.output
    assert user_for_token(conn, url[0].rsplit("/", 1)[1], SECRET).email == "link-" + email

    listed = runner.invoke(cli, ["users", "list", "--account", admin.account_id])
    assert email in listed.output and "link-" + email in listed.output
    assert "dashboard users" in runner.invoke(cli, ["--help"]).output


def test_dashboard_reads_run_under_row_level_security(app, admin, other_admin, conn):
    """`scoped()` is the API role with the account set: a query without its filter still sees one account."""
    from flask import g

    from ingest_api.dashboard.base import scoped
    from mbuzz.accounts import create_key

    create_key(conn, other_admin.account_id, "test", "theirs")
    with app.test_request_context():
        g.account_id = admin.account_id
        with scoped() as scoped_conn:
            assert scoped_conn.execute("select current_user").fetchone()[0] == app.config["DB_TENANT_ROLE"]
            assert scoped_conn.execute("select count(*) from raw.api_keys").fetchone()[0] == 0
            emails = [r[0] for r in scoped_conn.execute("select email from raw.users")]
            assert emails == [admin.email]


def test_navigation_marks_the_current_section(signed_in):
    html = signed_in.get("/dashboard/models/new").data.decode()
    assert '<a href="/dashboard/models" aria-current="page">' in html
    assert html.count('aria-current="page"') == 1
