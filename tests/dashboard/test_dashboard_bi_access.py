"""Database access page: read-only BI logins (`mbuzz.bi`) granted and revoked from the dashboard.

Against the real server: the URL shown once connects and sees its account's rows only (the password
is the one PostgreSQL keeps a SCRAM verifier of), revoking ends its session and the URL stops
connecting, another account's login is 404 and untouched, re-authentication and CSRF as for keys,
bad input and double submits change nothing. The application's database user is also a real
non-superuser login: without CREATEROLE the page explains what to do; with CREATEROLE it grants
and revokes.

Roles are cluster-global and the server is shared: every role a test makes is dropped in teardown.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
import time
from contextlib import contextmanager
from html import unescape
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from dashboard_helpers import PASSWORD, SECRET, credit_conversions, csrf_token, make_admin, post_form, sign_in
from mbuzz import bi
from tests.dbt.test_bi import drop_role

PAGE = "/dashboard/database"
URL = re.compile(r'id="new-url" type="text" readonly value="(postgresql://[^"]+)"')


def shown_url(response) -> str:
    match = URL.search(response.data.decode())
    assert match, response.data.decode()[-3000:]
    return unescape(match.group(1))


def password_of(url: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(url)["password"]


def roles_of(conn, account_id: str) -> list[str]:
    return [r[0] for r in conn.execute("select role_name from raw.bi_roles where account_id = %s", (account_id,))]


def role_exists(conn, role: str) -> bool:
    return conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone() is not None


def age_sign_in(client, seconds: int = 3600) -> None:
    with client.session_transaction("/dashboard/") as session:
        session["auth_at"] = int(time.time()) - seconds


@pytest.fixture
def cleanup(database_url, admin, other_admin):
    """Drops every BI role the test's accounts got, and any extra role a test names."""
    extra: list[str] = []
    yield extra
    with psycopg.connect(database_url, autocommit=True) as conn:
        made = [
            r[0]
            for r in conn.execute(
                "select role_name from raw.bi_roles where account_id = any(%s)",
                ([admin.account_id, other_admin.account_id],),
            )
        ]
    for role in made + extra:
        drop_role(database_url, role)


@pytest.fixture
def credited(conn, admin, other_admin, aggregates):
    credit_conversions(conn, admin.account_id)
    credit_conversions(conn, other_admin.account_id, conversions=5)


def test_the_page_is_in_the_nav_and_says_what_to_do_when_empty(signed_in):
    page = signed_in.get(PAGE)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.data.decode()
    assert f'<a href="{PAGE}" aria-current="page">Database access</a>' in html
    assert "No database logins yet" in html and "Create login" in html
    assert 'name="password"' not in html  # a fresh sign-in: no password asked
    assert signed_in.get("/dashboard/keys").data.decode().count(f'href="{PAGE}"') == 1
    guide = re.search(r'href="(/docs/project/docs/analysts.md)#([a-z-]+)"', html)
    assert guide, "no link to the BI guide"
    assert f'id="{guide.group(2)}"' in signed_in.get(guide.group(1)).data.decode()


def test_grant_shows_the_url_once_and_it_sees_only_this_account(
    signed_in, conn, admin, other_admin, credited, cleanup, caplog
):
    caplog.set_level(logging.DEBUG)
    response = post_form(signed_in, PAGE, PAGE, {})
    assert response.status_code == 201, response.data[-2000:]
    assert response.headers["Cache-Control"] == "no-store"
    url = shown_url(response)
    password = password_of(url)
    role = bi.default_role_name(admin.account_id)
    assert role in response.data.decode() and "will not be shown again" in response.data.decode()
    assert f"postgresql+psycopg://{role}:".encode() in response.data  # the SQLAlchemy URL too
    assert roles_of(conn, admin.account_id) == [role]

    # pg_hba may trust 127.0.0.1: check the password itself against the verifier PostgreSQL keeps
    stored = conn.execute("select rolpassword from pg_authid where rolname = %s", (role,)).fetchone()[0]
    iterations, salt = stored.split("$")[1].split(":")
    assert bi.scram_verifier(password, base64.b64decode(salt), int(iterations)) == stored
    assert password not in stored

    with psycopg.connect(url, autocommit=True) as analyst:
        assert analyst.execute("select current_user").fetchone()[0] == role
        seen = analyst.execute("select distinct account_id from bi.channel_attribution_daily").fetchall()
        assert seen == [(admin.account_id,)]
        mine = analyst.execute("select sum(conversions) from bi.channel_attribution_daily").fetchone()[0]
        expected = conn.execute(
            "select sum(conversions) from marts.channel_attribution_daily where account_id = %s", (admin.account_id,)
        ).fetchone()[0]
        assert mine == expected and mine > 0
        hidden = analyst.execute(
            "select count(*) from bi.source_attribution_daily where account_id = %s", (other_admin.account_id,)
        )
        assert hidden.fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            analyst.execute("select * from raw.api_keys")

        again = signed_in.get(PAGE)  # listed, with its open session; the password is gone
        row = again.data.decode().split(f'id="role-{role}"', 1)[1].split("</tr>", 1)[0]
        assert "<td>1</td>" in row and "<time" in row.split("</td>", 3)[3]  # last active: the open session
    assert password.encode() not in again.data and b'id="new-url"' not in again.data
    assert password not in caplog.text


def test_revoke_asks_first_then_ends_the_session_and_the_url_stops_working(signed_in, conn, admin, credited, cleanup):
    url = shown_url(post_form(signed_in, PAGE, PAGE, {}))
    role = bi.default_role_name(admin.account_id)
    session = psycopg.connect(url, autocommit=True)
    try:
        assert session.execute("select count(*) from bi.source_attribution_daily").fetchone()[0] > 0
        action = f"{PAGE}/{role}/revoke"
        asked = post_form(signed_in, PAGE, action, {})
        assert asked.status_code == 200 and b"Revoke this login?" in asked.data
        assert role_exists(conn, role)
        done = signed_in.post(action, data={"csrf_token": csrf_token(asked.data), "confirmed": "yes"})
        assert done.status_code == 303 and done.location.endswith(PAGE)
        assert f"Login {role} is revoked (1 open sessions ended)" in signed_in.get(PAGE).data.decode()
        with pytest.raises(psycopg.OperationalError):
            session.execute("select 1")
    finally:
        session.close()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url).close()
    assert not role_exists(conn, role) and roles_of(conn, admin.account_id) == []

    twice = post_form(signed_in, PAGE, action, {"confirmed": "yes"})  # a double submit
    assert twice.status_code == 404
    assert f"no database login named {role} (revoked already?)" in twice.data.decode()


def test_another_accounts_login_is_not_found_nor_listed_and_stays(signed_in, conn, other_admin, aggregates, cleanup):
    theirs = bi.grant(conn, other_admin.account_id)
    assert signed_in.get(PAGE).data.decode().count(theirs.role_name) == 0
    for confirmed in ("", "yes"):
        response = post_form(signed_in, PAGE, f"{PAGE}/{theirs.role_name}/revoke", {"confirmed": confirmed})
        assert response.status_code == 404 and response.mimetype == "text/html"
    # its name cannot be taken either, and the answer does not tell whose it is
    taken = post_form(signed_in, PAGE, PAGE, {"role_name": theirs.role_name})
    assert taken.status_code == 409
    assert f"A database role named {theirs.role_name} exists already" in taken.data.decode()
    assert other_admin.account_id not in taken.data.decode().replace(theirs.role_name, "")
    assert role_exists(conn, theirs.role_name) and roles_of(conn, other_admin.account_id) == [theirs.role_name]
    with psycopg.connect(theirs.url, autocommit=True) as analyst:
        assert analyst.execute("select current_user").fetchone()[0] == theirs.role_name


@pytest.mark.parametrize(
    "role_name, status, message",
    [
        ("x; drop table raw.accounts", 400, "invalid role name"),
        ("pg_monitor_mine", 400, "not starting with a digit or pg_"),
        ("9lives", 400, "invalid role name"),
        ("x" * 64, 400, "at most 63"),
        ("postgres", 409, "A database role named postgres exists already on this server"),
    ],
)
def test_bad_names_are_refused_and_nothing_is_created(signed_in, conn, admin, cleanup, role_name, status, message):
    before = conn.execute("select count(*) from pg_roles").fetchone()[0]
    response = post_form(signed_in, PAGE, PAGE, {"role_name": role_name})
    assert response.status_code == status and message in unescape(response.data.decode())
    assert b'id="new-url"' not in response.data
    assert roles_of(conn, admin.account_id) == []
    assert conn.execute("select count(*) from pg_roles").fetchone()[0] == before


def test_a_double_submit_grants_once(signed_in, conn, admin, cleanup):
    token = csrf_token(signed_in.get(PAGE).data)
    first = signed_in.post(PAGE, data={"csrf_token": token, "role_name": " acme_metabase_x1 "})
    cleanup.append("acme_metabase_x1")
    second = signed_in.post(PAGE, data={"csrf_token": token, "role_name": "acme_metabase_x1"})
    assert first.status_code == 201 and second.status_code == 409
    assert "This account has a login named acme_metabase_x1 already" in second.data.decode()
    assert password_of(shown_url(first)).encode() not in second.data
    assert roles_of(conn, admin.account_id) == ["acme_metabase_x1"]


def test_csrf_and_sign_in_are_required(client, signed_in, conn, admin, cleanup):
    assert signed_in.post(PAGE, data={}).status_code == 400
    assert roles_of(conn, admin.account_id) == []
    anonymous = client.application.test_client()
    response = anonymous.get(PAGE)
    assert response.status_code == 302 and "/dashboard/login" in response.location


@pytest.mark.parametrize(
    "password, message",
    [
        ("", "Enter your password: changing keys or database access needs a sign-in from the last 10 minutes."),
        ("not my password", "That is not your password. Nothing was changed"),
    ],
)
def test_an_old_sign_in_needs_the_password_to_grant_and_revoke(signed_in, conn, admin, cleanup, password, message):
    age_sign_in(signed_in)
    page = signed_in.get(PAGE).data.decode()
    assert 'name="password"' in page and "confirm your password" in page
    refused = post_form(signed_in, PAGE, PAGE, {"password": password})
    assert refused.status_code == 403 and message in unescape(refused.data.decode())
    assert b'id="new-url"' not in refused.data and roles_of(conn, admin.account_id) == []

    made = bi.grant(conn, admin.account_id)
    action = f"{PAGE}/{made.role_name}/revoke"
    kept = post_form(signed_in, PAGE, action, {"confirmed": "yes", "password": password})
    assert kept.status_code == 403 and message in unescape(kept.data.decode())
    assert role_exists(conn, made.role_name) and roles_of(conn, admin.account_id) == [made.role_name]


def test_the_right_password_grants_and_revokes(signed_in, conn, admin, cleanup):
    age_sign_in(signed_in)
    granted = post_form(signed_in, PAGE, PAGE, {"password": PASSWORD})
    assert granted.status_code == 201
    role = bi.default_role_name(admin.account_id)
    age_sign_in(signed_in)
    done = post_form(signed_in, PAGE, f"{PAGE}/{role}/revoke", {"confirmed": "yes", "password": PASSWORD})
    assert done.status_code == 303 and not role_exists(conn, role)


# -- the application's database user: a real non-superuser login ------------------------------------------------


@contextmanager
def app_as_login(database_url: str, createrole: bool, **config):
    """The dashboard running as a fresh LOGIN role that is no superuser: a member of the owner of the
    database's objects (so it reads and writes what mbuzz's own user does) and of the API role,
    with or without CREATEROLE. Dropped afterwards, with whatever it came to own."""
    from ingest_api import create_app

    login = f"bipage_app_{secrets.token_hex(4)}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        owner = conn.execute("select current_user").fetchone()[0]
        conn.execute(
            sql.SQL("create role {} login nosuperuser {} password {}").format(
                sql.Identifier(login), sql.SQL("createrole" if createrole else "nocreaterole"), secrets.token_hex(8)
            )
        )
        conn.execute(sql.SQL("grant {}, mbuzz_api to {}").format(sql.Identifier(owner), sql.Identifier(login)))
    parts = urlsplit(database_url)
    url = urlunsplit(parts._replace(netloc=f"{login}@{parts.hostname}:{parts.port or 5432}"))
    app = create_app(
        {
            "DATABASE_URL": url,
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_KEY_PREFIX": f"bipage-{secrets.token_hex(4)}",
            **config,
        }
    )
    try:
        yield app, login
    finally:
        app.extensions["mbuzz.db"].dispose()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = %s", (login,))
            conn.execute(sql.SQL("reassign owned by {} to {}").format(sql.Identifier(login), sql.Identifier(owner)))
            conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(login)))
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(login)))


def test_without_createrole_the_page_says_what_to_do_and_changes_nothing(database_url, conn, admin, cleanup):
    existing = bi.grant(conn, admin.account_id)  # granted by the owner, as `mbuzz bi grant` would
    with app_as_login(database_url, createrole=False) as (app, login):
        client = app.test_client()
        sign_in(client, admin)
        page = client.get(PAGE)
        assert page.status_code == 200
        text = unescape(page.data.decode())
        assert f"its PostgreSQL user ({login}) has no CREATEROLE privilege" in text
        assert f"mbuzz bi grant --account {admin.account_id}" in text and f"ALTER ROLE {login} CREATEROLE" in text
        assert existing.role_name in text  # still listed
        assert "Create login" not in text and "/revoke" not in text
        token = csrf_token(page.data)
        refused = client.post(PAGE, data={"csrf_token": token, "role_name": "bipage_never_made"})
        assert refused.status_code == 403 and b"no CREATEROLE privilege" in refused.data
        kept = client.post(f"{PAGE}/{existing.role_name}/revoke", data={"csrf_token": token, "confirmed": "yes"})
        assert kept.status_code == 403 and b"no CREATEROLE privilege" in kept.data
    assert not role_exists(conn, "bipage_never_made")
    assert role_exists(conn, existing.role_name) and roles_of(conn, admin.account_id) == [existing.role_name]
    with psycopg.connect(existing.url, autocommit=True) as analyst:  # and it still works
        assert analyst.execute("select current_user").fetchone()[0] == existing.role_name


def test_with_createrole_only_the_page_grants_and_revokes(database_url, conn, admin, credited, cleanup):
    with app_as_login(database_url, createrole=True, BI_HOST="localhost") as (app, login):
        client = app.test_client()
        sign_in(client, admin)
        granted = post_form(client, PAGE, PAGE, {})
        assert granted.status_code == 201, granted.data[-2000:]
        url = shown_url(granted)
        role = bi.default_role_name(admin.account_id)
        assert f"@localhost:{conn.info.port}/{conn.info.dbname}" in url  # BI_HOST, and never the app's login
        assert login not in url
        session = psycopg.connect(url, autocommit=True)
        try:
            seen = session.execute("select distinct account_id from bi.channel_attribution_daily").fetchall()
            assert seen == [(admin.account_id,)]
            done = post_form(client, PAGE, f"{PAGE}/{role}/revoke", {"confirmed": "yes"})
            assert done.status_code == 303
            with pytest.raises(psycopg.OperationalError):
                session.execute("select 1")
        finally:
            session.close()
    assert not role_exists(conn, role) and roles_of(conn, admin.account_id) == []


def test_a_second_account_admin_sees_only_their_logins(app, conn, cleanup, other_admin, admin):
    mine = bi.grant(conn, admin.account_id, f"bipage_mine_{secrets.token_hex(3)}")
    theirs = bi.grant(conn, other_admin.account_id, f"bipage_theirs_{secrets.token_hex(3)}")
    third = make_admin(conn)  # an account without logins
    for who, visible, invisible in (
        (admin, [mine.role_name], [theirs.role_name]),
        (other_admin, [theirs.role_name], [mine.role_name]),
        (third, [], [mine.role_name, theirs.role_name]),
    ):
        client = app.test_client()
        sign_in(client, who)
        page = client.get(PAGE).data.decode()
        assert all(name in page for name in visible) and not any(name in page for name in invisible)


def test_a_login_dropped_by_hand_is_shown_so_and_can_be_revoked(signed_in, conn, admin, database_url, cleanup):
    made = bi.grant(conn, admin.account_id)
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute(sql.SQL("drop owned by {}").format(sql.Identifier(made.role_name)))
        owner.execute(sql.SQL("drop role {}").format(sql.Identifier(made.role_name)))
    page = signed_in.get(PAGE).data.decode()
    assert "dropped on the server" in page.split(f'id="role-{made.role_name}"', 1)[1].split("</tr>", 1)[0]
    done = post_form(signed_in, PAGE, f"{PAGE}/{made.role_name}/revoke", {"confirmed": "yes"})
    assert done.status_code == 303 and roles_of(conn, admin.account_id) == []
