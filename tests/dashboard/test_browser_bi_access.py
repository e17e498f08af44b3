"""Database access end to end in headless Chromium, on `mbuzz serve` (gunicorn) over the session's database.

The browser signs in, grants a BI login, copies its URL (shown once), which then connects with
psycopg; a reload no longer shows it; revoking asks first (JavaScript confirm: dismissed changes
nothing), then drops the login. The server's log never holds the password. Screenshots go to
test-artifacts/screenshots/ (the login is revoked before the test ends)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import psycopg
import pytest

from dashboard_helpers import SECRET, credit_conversions, make_admin
from mbuzz import bi
from tests.chromium import CHROMIUM, CHROMIUM_FLAGS, install_chromium
from tests.dbt.test_bi import drop_role
from tests.live_server import start_server, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def live(database_url, tmp_path_factory):
    log = tmp_path_factory.mktemp("bi-access-server") / "server.log"
    server = start_server(
        database_url,
        log,
        {"MBUZZ_SECRET_KEY": SECRET, "MBUZZ_RATELIMIT_KEY_PREFIX": f"bi-browser-{secrets.token_hex(4)}"},
        workers=1,
        threads=4,
    )
    yield server
    stop_server(server)


def test_grant_copy_connect_and_revoke_in_a_browser(live, database_url, conn, aggregates):
    reason = install_chromium()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    admin = make_admin(conn)
    credit_conversions(conn, admin.account_id)
    role = bi.default_role_name(admin.account_id)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.set_default_timeout(20_000)
                context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
                page = context.new_page()
                page.goto(f"{live.url}/dashboard/login")
                page.get_by_label("E-mail").fill(admin.email)
                page.get_by_label("Password").fill(admin.password)
                page.get_by_role("button", name="Sign in").click()
                page.get_by_role("link", name="Database access").click()
                page.wait_for_url(re.compile(r"/dashboard/database$"))
                page.get_by_role("button", name="Create login").click()
                field = page.locator("#new-url")
                field.wait_for()
                url = field.input_value()
                assert url.startswith(f"postgresql://{role}:")
                page.locator("button[data-copy='#new-url']").click()
                page.locator(".copy-status").first.filter(has_text=re.compile("Copied|copy it by hand")).wait_for()
                with psycopg.connect(url, autocommit=True) as analyst:
                    seen = analyst.execute("select distinct account_id from bi.channel_attribution_daily").fetchall()
                    assert seen == [(admin.account_id,)]
                page.goto(f"{live.url}/dashboard/database")
                password = psycopg.conninfo.conninfo_to_dict(url)["password"]
                assert password not in page.content() and role in page.content()
                page.screenshot(path=str(SCREENSHOTS / "database-access.png"), full_page=True)

                row = page.locator("#bi-roles tr", has_text=role)
                dialogs: list[str] = []
                page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
                row.get_by_role("button", name=re.compile("Revoke")).click()
                page.wait_for_load_state()
                assert dialogs and "cannot be undone" in dialogs[0]
                assert conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
                page.once("dialog", lambda dialog: dialog.accept())
                row.get_by_role("button", name=re.compile("Revoke")).click()
                page.locator(".flash", has_text="is revoked").wait_for()
                assert page.locator("#bi-roles").count() == 0  # the account has no login left
            finally:
                browser.close()
        assert conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone() is None
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url).close()
        assert password not in live.log.read_text()
    finally:
        drop_role(database_url, role)
