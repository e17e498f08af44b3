"""API keys page: one-time display, masked list, badges, revoke with confirmation, tenancy."""
from __future__ import annotations

import re

import pytest

from dashboard_helpers import csrf_token, post_form
from mbuzz.accounts import create_key, list_keys

KEY = re.compile(rb'value="(sk_(test|live)_[0-9A-Za-z]{32})"')


def test_empty_state_says_what_to_do(signed_in):
    page = signed_in.get("/dashboard/keys")
    assert page.status_code == 200
    assert b"No keys yet" in page.data


def test_create_shows_the_key_once_and_lists_it_masked(signed_in, conn, admin):
    response = post_form(signed_in, "/dashboard/keys", "/dashboard/keys", {"name": "website", "environment": "live"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    plaintext = KEY.search(response.data).group(1).decode()
    assert plaintext.startswith("sk_live_")
    assert b"will not be shown again" in response.data and b"data-copy" in response.data
    (key,) = list_keys(conn, admin.account_id)
    assert key.name == "website" and key.environment == "live" and key.active
    again = signed_in.get("/dashboard/keys")
    assert plaintext.encode() not in again.data  # shown once
    assert f"{plaintext[:12]}****".encode() in again.data
    assert b'badge active' in again.data and b">never<" in again.data.replace(b"\n", b"")
    # the key works against the API
    api = signed_in.get("/api/v1/validate", headers={"Authorization": f"Bearer {plaintext}"})
    assert api.status_code == 200


@pytest.mark.parametrize("data, message", [
    ({"name": "x" * 101, "environment": "test"}, b"at most 100 characters"),
    ({"name": "ok", "environment": "prod"}, b"Not a valid choice"),
])
def test_bad_input_shows_errors(signed_in, conn, admin, data, message):
    response = post_form(signed_in, "/dashboard/keys", "/dashboard/keys", data)
    assert response.status_code == 400
    assert message in response.data
    assert list_keys(conn, admin.account_id) == []


def test_revoke_asks_first_without_javascript_then_revokes(signed_in, conn, admin):
    key = create_key(conn, admin.account_id, "test", "ci").key
    asked = post_form(signed_in, "/dashboard/keys", f"/dashboard/keys/{key.id}/revoke", {})
    assert asked.status_code == 200 and b"Revoke this key?" in asked.data
    assert list_keys(conn, admin.account_id)[0].active
    done = signed_in.post(f"/dashboard/keys/{key.id}/revoke",
                          data={"csrf_token": csrf_token(asked.data), "confirmed": "yes"})
    assert done.status_code == 303
    assert not list_keys(conn, admin.account_id)[0].active
    page = signed_in.get("/dashboard/keys")
    assert b"badge revoked" in page.data and b"is revoked" in page.data


def test_another_accounts_key_is_not_found(signed_in, conn, other_admin):
    theirs = create_key(conn, other_admin.account_id, "live", "theirs").key
    for confirmed in ("", "yes"):
        response = post_form(signed_in, "/dashboard/keys", f"/dashboard/keys/{theirs.id}/revoke",
                             {"confirmed": confirmed})
        assert response.status_code == 404 and response.mimetype == "text/html"
    assert list_keys(conn, other_admin.account_id)[0].active
    assert b"theirs" not in signed_in.get("/dashboard/keys").data
