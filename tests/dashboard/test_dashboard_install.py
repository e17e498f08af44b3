"""The Install page: mbuzz.js, analytics.js and Python snippets filled in with this host and a publishable key."""

from __future__ import annotations

import html
import re

from mbuzz.accounts import create_key, revoke_key

TEXTAREA = re.compile(r'<textarea id="(snippet-[a-z-]+)"[^>]*>(.*?)</textarea>', re.S)


def _snippets(page) -> dict[str, str]:
    return {name: html.unescape(text) for name, text in TEXTAREA.findall(page.data.decode())}


def _publishable(conn, account_id, environment="live", name="shop"):
    return create_key(conn, account_id, environment, name, publishable=True, origins=["https://shop.example"])


def test_install_needs_sign_in(client):
    response = client.get("/dashboard/install")
    assert response.status_code == 302 and response.location.startswith("/dashboard/login?next=")


def test_snippets_carry_this_host_and_the_publishable_key(signed_in, conn, admin):
    key = _publishable(conn, admin.account_id)
    page = signed_in.get("/dashboard/install", base_url="https://localhost:8443")
    assert page.status_code == 200
    snippets = _snippets(page)
    assert snippets["snippet-mbuzz-js"] == (
        f'<script src="https://localhost:8443/mbuzz.js" data-key="{key.plaintext}" async></script>'
    )
    assert (
        f"AnalyticsBrowser.load({{\n  writeKey: '{key.plaintext}',\n  cdnURL: 'https://localhost:8443',"
        in snippets["snippet-analytics-js"]
    )
    assert "import { AnalyticsBrowser } from '@segment/analytics-next'" in snippets["snippet-analytics-js"]
    assert 'Client(api_key="sk_live_…", host="https://localhost:8443")' in snippets["snippet-python"]
    text = page.data.decode()
    assert "https://shop.example" in text  # where the key is accepted from
    assert 'data-copy="#snippet-mbuzz-js"' in text
    assert '<a href="/dashboard/install" aria-current="page">' in text  # in the navigation


def test_secret_keys_never_appear(signed_in, conn, admin):
    secret = create_key(conn, admin.account_id, "live", "backend")
    _publishable(conn, admin.account_id)
    page = signed_in.get("/dashboard/install").data.decode()
    assert secret.plaintext not in page and secret.key.key_prefix not in page


def test_without_a_publishable_key_the_page_says_how_to_make_one(signed_in, conn, admin):
    create_key(conn, admin.account_id, "live", "backend")  # a secret key is not one
    revoked = _publishable(conn, admin.account_id)
    revoke_key(conn, revoked.key.id, admin.account_id)
    page = signed_in.get("/dashboard/install")
    text = page.data.decode()
    assert page.status_code == 200 and 'id="no-publishable"' in text
    assert 'href="/dashboard/keys?kind=publishable#create-h"' in text
    assert 'data-key="pk_live_…"' in _snippets(page)["snippet-mbuzz-js"]
    assert revoked.plaintext not in text


def test_live_keys_first_and_another_can_be_picked(signed_in, conn, admin):
    test_key = _publishable(conn, admin.account_id, "test", "staging")
    live_key = _publishable(conn, admin.account_id, "live", "prod")
    assert live_key.plaintext in _snippets(signed_in.get("/dashboard/install"))["snippet-mbuzz-js"]
    picked = signed_in.get(f"/dashboard/install?key={test_key.key.id}")
    assert test_key.plaintext in _snippets(picked)["snippet-mbuzz-js"]


def test_another_accounts_key_cannot_be_picked(signed_in, conn, admin, other_admin):
    theirs = _publishable(conn, other_admin.account_id)
    mine = _publishable(conn, admin.account_id)
    page = signed_in.get(f"/dashboard/install?key={theirs.key.id}")
    assert page.status_code == 200
    assert theirs.plaintext not in page.data.decode()
    assert mine.plaintext in _snippets(page)["snippet-mbuzz-js"]


def test_a_strange_host_header_gives_a_placeholder_host(signed_in, conn, admin):
    _publishable(conn, admin.account_id)
    page = signed_in.get("/dashboard/install", headers={"Host": 'evil"><script>x'})
    snippets = _snippets(page)
    assert "<script>x" not in page.data.decode()
    assert snippets["snippet-mbuzz-js"].startswith('<script src="https://mbuzz.example.com/mbuzz.js"')
