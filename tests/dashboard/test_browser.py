"""The dashboard end to end in headless Chromium (Debian's `chromium`, driven by Playwright's Python client).

A real server (`mbuzz serve`, gunicorn) on 127.0.0.1 over the session's database;
the browser signs in, creates a key and reads it once, revokes it, sends events
through the API with a new key and finds them listed, opens the attribution
report and switches models, writes a DSL model with an error, sees the message
with its line, fixes it and sees the preview. Screenshots of the main pages go to
test-artifacts/screenshots/.

Chromium comes from tests/chromium.py (Debian's package, installed by the tier when
missing and running as root; skipped with the reason elsewhere).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
import requests

from dashboard_helpers import SECRET, credit_conversions, make_admin
from tests.chromium import CHROMIUM, CHROMIUM_FLAGS, install_chromium
from tests.live_server import start_server, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
BROKEN = 'model "browser_model"\n  credit first_touch with 0.5\n  credit frist_touch with 0.5\nend\n'
FIXED = 'model "browser_model"\n  credit first_touch with 0.5\n  credit last_touch with 0.5\nend\n'
TIMEOUT_MS = 20_000  # how long to wait for an element (never asserted on)


@pytest.fixture(scope="session")
def chromium() -> str:
    reason = install_chromium()
    if reason:
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory) -> str:
    """`mbuzz serve` (gunicorn) on a free port of 127.0.0.1, over this session's database."""
    log = tmp_path_factory.mktemp("dashboard-server") / "server.log"
    live = start_server(
        database_url,
        log,
        {"MBUZZ_SECRET_KEY": SECRET, "MBUZZ_RATELIMIT_KEY_PREFIX": f"dash-browser-{secrets.token_hex(4)}"},
        workers=1,
        threads=4,
    )
    yield live.url
    stop_server(live)


@pytest.fixture(scope="module")
def browser_admin(database_url):
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        return make_admin(conn)


@pytest.fixture(scope="module")
def context(chromium, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # an empty --user-data-dir
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        yield context
        context.close()


@pytest.fixture(scope="module")
def page(context, server, browser_admin):
    """A tab signed in as the module's admin (signing in is the first thing tested)."""
    page = context.new_page()
    page.goto(f"{server}/dashboard/keys")
    assert "/dashboard/login" in page.url  # not signed in: sent to the sign-in page
    page.screenshot(path=str(SCREENSHOTS / "login.png"), full_page=True)
    page.get_by_label("E-mail").fill(browser_admin.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="do not match").wait_for()
    page.get_by_label("Password").fill(browser_admin.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/dashboard/keys$"))
    yield page
    page.close()


def _create_key(page, server: str, name: str, environment: str) -> str:
    page.goto(f"{server}/dashboard/keys")
    page.get_by_label("Name").fill(name)
    page.get_by_label(environment.capitalize(), exact=True).check()
    page.get_by_role("button", name="Create key").click()
    field = page.locator("#new-key")
    field.wait_for()
    return field.input_value()


def test_create_a_key_and_read_it_once(page, server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    plaintext = _create_key(page, server, "browser key", "test")
    assert re.fullmatch(r"sk_test_[0-9A-Za-z]{32}", plaintext)
    page.get_by_role("button", name="Copy").click()
    page.locator(".copy-status").filter(has_text=re.compile("Copied|copy it by hand")).wait_for()
    page.screenshot(path=str(SCREENSHOTS / "key-created.png"), full_page=True)
    page.goto(f"{server}/dashboard/keys")
    assert plaintext not in page.content()
    row = page.locator("#keys tr", has_text="browser key")
    assert f"{plaintext[:12]}****" in row.inner_text() and "active" in row.inner_text()


def test_revoke_a_key_after_confirming(page, server):
    plaintext = _create_key(page, server, "to revoke", "live")
    page.goto(f"{server}/dashboard/keys")
    row = page.locator("#keys tr", has_text="to revoke")
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    row.get_by_role("button", name=re.compile("Revoke")).click()
    page.wait_for_load_state()
    assert dialogs and "cannot be undone" in dialogs[0]
    assert "active" in page.locator("#keys tr", has_text="to revoke").inner_text()  # dismissed: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#keys tr", has_text="to revoke").get_by_role("button", name=re.compile("Revoke")).click()
    page.locator(".flash", has_text="is revoked").wait_for()
    assert "revoked" in page.locator("#keys tr", has_text="to revoke").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "keys.png"), full_page=True)
    refused = requests.get(f"{server}/api/v1/validate", headers={"Authorization": f"Bearer {plaintext}"}, timeout=10)
    assert refused.status_code == 401


def test_events_sent_through_the_api_are_listed(page, server):
    key = _create_key(page, server, "ingest", "test")
    events = [
        {
            "event_type": "page_view",
            "visitor_id": f"vis_browser_{i}",
            "event_id": f"browser-{secrets.token_hex(6)}",
            "properties": {
                "url": f"https://shop.example.com/p/{i}?utm_source=newsletter",
                "utm_source": "newsletter",
                "utm_medium": "email",
                "utm_campaign": "browser-test",
            },
        }
        for i in range(3)
    ] + [{"event_type": "signup", "visitor_id": "vis_browser_0"}]
    response = requests.post(
        f"{server}/api/v1/events", json={"events": events}, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert response.status_code == 202 and response.json()["accepted"] == 4
    page.goto(f"{server}/dashboard/")
    table = page.locator("#events")
    assert table.locator("tbody tr").count() == 4
    assert "vis_browser_2" in table.inner_text() and "newsletter" in page.locator("#utm-h").locator("..").inner_text()
    page.get_by_label("Event type").select_option("signup")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"type=signup"))
    assert page.locator("#events tbody tr").count() == 1
    page.goto(f"{server}/dashboard/")
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / "overview-narrow.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_attribution_report_and_switching_models(page, server, aggregates, database_url, browser_admin):
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        credit_conversions(conn, browser_admin.account_id)
    page.goto(f"{server}/dashboard/reports")
    page.get_by_role("heading", name="Channels under linear").wait_for()
    assert "paid_search" in page.locator("#channels").inner_text()
    assert page.locator("#compare").count() == 1  # models side by side
    page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)
    page.locator("select#model").select_option("markov")  # switches on change (a little JavaScript)
    page.get_by_role("heading", name="Channels under markov").wait_for()
    assert "60.0%" in page.locator("#removal").inner_text()
    page.get_by_role("link", name="email", exact=True).click()
    page.get_by_role("heading", name="Campaigns in email under markov").wait_for()
    assert "weekly-digest" in page.locator("#campaigns").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "report-campaigns.png"), full_page=True)


def test_trend_chart_and_where_the_models_disagree(page, server, aggregates, database_url, browser_admin):
    """The report's trend line chart switches between days and weeks; the comparison page shows each
    model's share, the spread and a note saying why."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        credit_conversions(conn, browser_admin.account_id, models=("first_touch",))
    page.goto(f"{server}/dashboard/reports?model=markov")
    page.get_by_role("heading", name="Trend under markov").wait_for()
    trend = page.locator("#trend-conversions svg.line-chart")
    assert trend.is_visible() and trend.locator("polyline").count() == 3  # one line per channel
    assert page.locator("#trend-revenue svg.line-chart").is_visible()
    page.locator("select#bucket").select_option("day")  # switches on change
    page.get_by_text("Credited conversions per channel per day, from the daily aggregates.").wait_for()
    assert page.locator("#trend-conversions circle").count() == 3 * 90  # every day of the range, zeros included
    page.locator("#trend").screenshot(path=str(SCREENSHOTS / "report-trend.png"))
    page.locator("#compare-link").click()
    page.get_by_role("heading", name="Where the models disagree").wait_for()
    notes = page.locator("#notes").inner_text()
    assert "last_touch gives `paid_social`" in notes and "close journeys that other channels opened" in notes
    table = page.locator("#disagreement").inner_text()
    assert "paid_social" in table and "last_touch" in table and "pts" in table
    page.screenshot(path=str(SCREENSHOTS / "report-compare.png"), full_page=True)


def test_dsl_error_then_fix_then_preview_and_save(page, server):
    page.goto(f"{server}/dashboard/models/new")
    editor = page.get_by_label("DSL source")
    editor.fill(BROKEN)  # the live check runs as you type
    error = page.locator("#panel .diagnostic.error")
    error.filter(has_text="Line 3, column 10").wait_for()
    assert "unknown selector `frist_touch`" in error.first.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "editor-error.png"), full_page=True)
    editor.fill(FIXED)
    page.locator("#panel", has_text="No errors.").wait_for()
    sample = page.locator("#preview-sample")
    sample.wait_for()
    assert sample.locator("tbody tr").first.inner_text().split("\t")[-2].strip() == "0.500"
    page.screenshot(path=str(SCREENSHOTS / "editor-preview.png"), full_page=True)
    page.get_by_role("button", name="Save").click()
    page.locator(".flash", has_text="is saved").wait_for()
    page.goto(f"{server}/dashboard/models")
    assert "browser_model" in page.locator("#custom-models").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "models.png"), full_page=True)


def test_install_page_snippets_carry_the_host_and_publishable_key(page, server):
    page.goto(f"{server}/dashboard/install")
    page.locator("#no-publishable").wait_for()  # none yet: the page says how to make one
    page.get_by_role("link", name="Create a publishable key").click()
    page.wait_for_url(re.compile(r"/dashboard/keys\?kind=publishable"))
    assert page.get_by_label("Publishable (website)").is_checked()
    page.get_by_label("Name").fill("website")
    page.get_by_label("Live", exact=True).check()
    page.get_by_label("Allowed origins").fill("https://shop.example\nhttps://*.shop.example")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").input_value()
    assert re.fullmatch(r"pk_live_[0-9A-Za-z]{32}", key)
    page.get_by_role("link", name="Install it on your site").click()
    page.get_by_role("heading", name="Install").wait_for()
    snippet = page.locator("#snippet-mbuzz-js")
    assert snippet.input_value() == f'<script src="{server}/mbuzz.js" data-key="{key}" async></script>'
    analytics_js = page.locator("#snippet-analytics-js").input_value()
    assert f"writeKey: '{key}'," in analytics_js and f"cdnURL: '{server}'," in analytics_js
    assert f'Client(api_key="sk_live_…", host="{server}")' in page.locator("#snippet-python").input_value()
    page.get_by_role("button", name="Copy the mbuzz.js snippet").click()
    section = page.locator("section", has=page.locator("#snippet-mbuzz-js"))
    section.locator(".copy-status").filter(has_text=re.compile("Copied|copy it by hand")).wait_for()
    if "Copied" in section.locator(".copy-status").inner_text():
        assert page.evaluate("navigator.clipboard.readText()") == snippet.input_value()
    page.screenshot(path=str(SCREENSHOTS / "install.png"), full_page=True)


def test_docs_navigation_and_the_readers_own_values(page, server, database_url, browser_admin):
    import psycopg

    from mbuzz.accounts import list_keys

    with psycopg.connect(database_url, autocommit=True) as conn:
        keys = [k for k in list_keys(conn, browser_admin.account_id) if k.active]
    secret = max((k for k in keys if not k.publishable), key=lambda k: (k.environment == "test", k.created_at))
    publishable = next(k for k in keys if k.publishable)
    page.goto(f"{server}/dashboard/")
    page.get_by_role("link", name="Docs").click()
    page.get_by_role("heading", name="mbuzz API guides").wait_for()
    page.locator(".sidebar").get_by_role("link", name=re.compile("^Getting started")).click()
    page.wait_for_url(re.compile(r"/docs/getting_started$"))
    article = page.locator("article.doc")
    assert f"mbuzz keys revoke {secret.id}" in article.inner_text()
    assert f'data-key="{publishable.public_key}"' in article.inner_text()
    assert f"{server}/api/v1/validate" in article.inner_text() and "127.0.0.1:8000" not in article.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "docs-getting-started.png"), full_page=True)
    article.get_by_role("link", name="events.md").click()  # a relative link written for GitHub
    page.wait_for_url(re.compile(r"/docs/events$"))
    page.get_by_role("heading", name="Events", exact=True).wait_for()
    assert page.locator('.sidebar a[aria-current="page"]').inner_text() == "Events"
    page.go_back()
    page.wait_for_url(re.compile(r"/docs/getting_started$"))


def test_signed_out_readers_see_placeholders(page, server):
    page.goto(f"{server}/dashboard/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/dashboard/login"))
    page.goto(f"{server}/docs/getting_started")
    text = page.locator("article.doc").inner_text()
    assert "http://127.0.0.1:8000/api/v1/validate" in text and "mbuzz keys revoke key_…" in text
    assert 'data-key="pk_live_…"' in text
    page.get_by_role("link", name="Sign in to see your own host and keys in the examples.").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "docs-signed-out.png"), full_page=True)
