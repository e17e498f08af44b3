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
    assert b"badge active" in again.data and b">never<" in again.data.replace(b"\n", b"")
    # the key works against the API
    api = signed_in.get("/api/v1/validate", headers={"Authorization": f"Bearer {plaintext}"})
    assert api.status_code == 200


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "x" * 101, "environment": "test"}, b"at most 100 characters"),
        ({"name": "ok", "environment": "prod"}, b"Not a valid choice"),
    ],
)
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
    done = signed_in.post(
        f"/dashboard/keys/{key.id}/revoke", data={"csrf_token": csrf_token(asked.data), "confirmed": "yes"}
    )
    assert done.status_code == 303
    assert not list_keys(conn, admin.account_id)[0].active
    page = signed_in.get("/dashboard/keys")
    assert b"badge revoked" in page.data and b"is revoked" in page.data


def test_another_accounts_key_is_not_found(signed_in, conn, other_admin):
    theirs = create_key(conn, other_admin.account_id, "live", "theirs").key
    for confirmed in ("", "yes"):
        response = post_form(
            signed_in, "/dashboard/keys", f"/dashboard/keys/{theirs.id}/revoke", {"confirmed": confirmed}
        )
        assert response.status_code == 404 and response.mimetype == "text/html"
    assert list_keys(conn, other_admin.account_id)[0].active
    assert b"theirs" not in signed_in.get("/dashboard/keys").data


# -- publishable keys ------------------------------------------------------------------------------------------------

PUBLISHABLE = re.compile(rb'value="(pk_(test|live)_[0-9A-Za-z]{32})"')


def test_create_a_publishable_key_with_its_origins(signed_in, conn, admin):
    response = post_form(
        signed_in,
        "/dashboard/keys",
        "/dashboard/keys",
        {
            "name": "shop",
            "environment": "live",
            "kind": "publishable",
            "origins": "https://Shop.Example/\nhttps://*.shop.example, https://shop.example",
        },
    )
    assert response.status_code == 201, response.data[-2000:]
    plaintext = PUBLISHABLE.search(response.data).group(1).decode()
    assert plaintext.startswith("pk_live_") and b"public by design" in response.data
    assert b"Install it on your site" in response.data
    (key,) = list_keys(conn, admin.account_id)
    assert key.publishable and key.allowed_origins == ("https://shop.example", "https://*.shop.example")
    again = signed_in.get("/dashboard/keys").data
    assert plaintext.encode() in again  # a publishable key may be shown again, with a copy button
    assert f'data-copy="#key-value-{key.id}"'.encode() in again
    assert b"badge publishable" in again and b"<code>https://*.shop.example</code>" in again


def test_a_secret_key_is_listed_with_its_kind_and_no_origins(signed_in, conn, admin):
    secret = create_key(conn, admin.account_id, "test", "backend")
    page = signed_in.get("/dashboard/keys").data
    assert secret.plaintext.encode() not in page and b"badge secret" in page
    row = page.split(f'id="key-{secret.key.id}"'.encode(), 1)[1].split(b"</tr>", 1)[0]
    assert secret.key.masked.encode() in row and b"\xe2\x80\x94" in row  # "—": no origins


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "publishable", "origins": ""}, b"needs at least one allowed origin"),
        ({"kind": "publishable", "origins": "https://shop.example/cart"}, b"is not an origin"),
        (
            {"kind": "publishable", "origins": "https://shop.example\nftp://files.example"},
            b"&#39;ftp://files.example&#39; is not an origin",
        ),
        ({"kind": "publishable", "origins": "https://*.com"}, b"a wildcard must cover the subdomains"),
        ({"kind": "publishable", "origins": "https://shop.example:99999"}, b"the port must be 1-65535"),
        (
            {"kind": "publishable", "origins": " ".join(f"https://s{i}.example" for i in range(51))},
            b"At most 50 origins",
        ),
        ({"kind": "secret", "origins": "https://shop.example"}, b"a secret key must never be used in a browser"),
        ({"kind": "public", "origins": "https://shop.example"}, b"Not a valid choice"),
        ({"kind": "publishable", "origins": "x" * 8001}, b"over 8000 characters"),
    ],
)
def test_bad_origins_are_refused_and_nothing_is_created(signed_in, conn, admin, data, message):
    response = post_form(
        signed_in, "/dashboard/keys", "/dashboard/keys", {"name": "shop", "environment": "live", **data}
    )
    assert response.status_code == 400
    assert message in response.data, response.data[-3000:]
    assert b"pk_live_" not in response.data
    assert list_keys(conn, admin.account_id) == []


def test_the_install_page_link_preselects_publishable(signed_in):
    page = signed_in.get("/dashboard/keys?kind=publishable").data.decode()
    assert re.search(r'<input checked id="kind-1" name="kind" type="radio" value="publishable">', page)
    assert 'value="secret"' in signed_in.get("/dashboard/keys?kind=bogus").data.decode()


def test_revoking_a_publishable_key(signed_in, conn, admin):
    key = create_key(conn, admin.account_id, "live", "shop", publishable=True, origins=["https://shop.example"]).key
    done = post_form(signed_in, "/dashboard/keys", f"/dashboard/keys/{key.id}/revoke", {"confirmed": "yes"})
    assert done.status_code == 303 and not list_keys(conn, admin.account_id)[0].active


def test_another_accounts_publishable_key_is_not_found_nor_listed(signed_in, conn, other_admin):
    theirs = create_key(
        conn, other_admin.account_id, "live", "theirs", publishable=True, origins=["https://theirs.example"]
    )
    response = post_form(signed_in, "/dashboard/keys", f"/dashboard/keys/{theirs.key.id}/revoke", {"confirmed": "yes"})
    assert response.status_code == 404
    page = signed_in.get("/dashboard/keys").data
    assert theirs.plaintext.encode() not in page and b"theirs.example" not in page
    assert list_keys(conn, other_admin.account_id)[0].active
