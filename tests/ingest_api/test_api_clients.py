"""Real clients: publishable keys and their origins, CORS, analytics.js's wire protocol (short paths,
text/plain with writeKey, alias, group, the settings document) and the seed's request shapes."""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from ingest_helpers import event, stored
from mbuzz import accounts
from mbuzz.errors import MbuzzError

SHOP = "https://shop.example"


@pytest.fixture
def pk(conn, tenant) -> accounts.NewKey:
    return accounts.create_key(
        conn, tenant.account_id, "live", "site", publishable=True, origins=[SHOP, "https://*.brand.example"]
    )


def page_message(**overrides) -> dict:
    base = {
        "type": "page",
        "messageId": f"m-{secrets.token_hex(8)}",
        "anonymousId": f"anon-{secrets.token_hex(4)}",
        "context": {
            "page": {"url": f"{SHOP}/?utm_source=news&utm_medium=email", "referrer": ""},
            "campaign": {"source": "news", "medium": "email"},
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
            "locale": "de-DE",
        },
    }
    base.update(overrides)
    return base


# -- origins and keys (the service) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text, normal",
    [
        ("https://shop.example", "https://shop.example"),
        ("HTTPS://Shop.Example/", "https://shop.example"),
        ("https://shop.example:443", "https://shop.example"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://*.brand.example", "https://*.brand.example"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_origins_are_normalised(text, normal):
    assert accounts.normalise_origin(text) == normal


@pytest.mark.parametrize(
    "text",
    [
        "shop.example",
        "https://shop.example/path",
        "ftp://shop.example",
        "https://*.com",
        "https://a.*.example.com",
        "https://user@shop.example",
        "https://shop.example:0",
        "https://shop.example:99999",
        "",
        "*",
    ],
)
def test_malformed_origins_are_refused_with_the_shape_to_use(text):
    with pytest.raises(MbuzzError, match="origin|wildcard|port"):
        accounts.normalise_origin(text)


@pytest.mark.parametrize(
    "origin, allowed",
    [
        (SHOP, True),
        ("https://shop.example:443", True),
        ("http://shop.example", False),
        ("https://shop.example.evil", False),
        ("https://www.brand.example", True),
        ("https://a.b.brand.example", True),
        ("https://brand.example", False),
        ("https://evilbrand.example", False),
        ("http://www.brand.example", False),
        ("https://www.brand.example:8443", False),
        ("null", False),
        ("https://*.brand.example", False),
    ],
)
def test_origin_matching(origin, allowed):
    assert accounts.origin_allowed(origin, (SHOP, "https://*.brand.example")) is allowed


def test_a_publishable_key_needs_origins_and_a_secret_key_takes_none(conn, tenant):
    with pytest.raises(MbuzzError, match="at least one allowed origin"):
        accounts.create_key(conn, tenant.account_id, "live", publishable=True)
    with pytest.raises(MbuzzError, match="publishable keys"):
        accounts.create_key(conn, tenant.account_id, "live", origins=[SHOP])


def test_publishable_keys_are_stored_hashed_and_shown_again(conn, tenant, pk):
    assert pk.plaintext.startswith("pk_live_") and len(pk.plaintext) == 40
    (listed,) = [k for k in accounts.list_keys(conn, tenant.account_id) if k.id == pk.key.id]
    assert listed.publishable and listed.display == pk.plaintext
    assert listed.allowed_origins == (SHOP, "https://*.brand.example")
    digest, public = conn.execute(
        "select key_digest, public_key from raw.api_keys where id = %s", (pk.key.id,)
    ).fetchone()
    assert digest == accounts.digest(pk.plaintext) and public == pk.plaintext
    secret = [k for k in accounts.list_keys(conn, tenant.account_id) if not k.publishable][0]
    assert secret.display.endswith("****") and secret.public_key is None


def test_origins_can_be_added_and_removed_but_never_all(conn, tenant, pk, other_tenant):
    key = accounts.set_origins(conn, pk.key.id, tenant.account_id, add=["https://new.example"], remove=[SHOP])
    assert key.allowed_origins == ("https://*.brand.example", "https://new.example")
    with pytest.raises(MbuzzError, match="at least one"):
        accounts.set_origins(conn, pk.key.id, remove=list(key.allowed_origins))
    with pytest.raises(accounts.NotFound):
        accounts.set_origins(conn, pk.key.id, other_tenant.account_id, add=["https://x.example"])
    with pytest.raises(MbuzzError, match="secret key"):
        accounts.set_origins(conn, other_tenant.live_key_id, add=["https://x.example"])


# -- what a publishable key may do -----------------------------------------------------------------


def sending_operations(document) -> set[tuple[str, str]]:
    return {("POST", "/api/v1/events"), ("POST", "/api/v1/conversions")} | {
        ("POST", path) for path in document["paths"] if path.startswith("/v1/") and "projects" not in path
    }


def test_a_publishable_key_is_refused_on_every_other_endpoint(client, pk):
    """Every documented operation that needs a key, other than the sending ones, answers 403 key_not_allowed."""
    from ingest_api.openapi import ApiSpec
    from mbuzz.paths import OPENAPI_PATH

    document = ApiSpec(OPENAPI_PATH).document
    sending = sending_operations(document)
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "patch", "delete") or operation.get("security") == []:
                continue
            if (method.upper(), path) in sending:
                continue
            url = path.replace("{conversion_id}", "conv_x").replace("{model_id}", "amod_x")
            response = client.open(
                url,
                method=method.upper(),
                headers={"Authorization": f"Bearer {pk.plaintext}"},
                json={} if method in ("post", "patch") else None,
            )
            assert response.status_code == 403, (method, path, response.json)
            assert response.json["error"]["code"] == "key_not_allowed", (method, path)
            assert "secret key" in response.json["error"]["message"]
            assert "Access-Control-Allow-Origin" not in response.headers
            checked += 1
    assert checked >= 10  # validate, conversion reads, the models, the report, spend


def test_a_publishable_key_sends_events_from_its_origins(client, conn, tenant, pk):
    for origin in (SHOP, "https://www.brand.example", None):  # None: a server, no Origin at all
        headers = {"Authorization": f"Bearer {pk.plaintext}", **({"Origin": origin} if origin else {})}
        response = client.post("/api/v1/events", json={"events": [event()]}, headers=headers)
        assert response.status_code == 202 and response.json["accepted"] == 1
        assert response.headers.get("Access-Control-Allow-Origin") == origin
        if origin:
            assert (
                "Origin" in response.headers["Vary"]
                and "Retry-After" in response.headers["Access-Control-Expose-Headers"]
            )
    assert len(stored(conn, tenant.account_id)) == 3


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/v1/events", {"events": [event()]}),
        ("/v1/p", page_message()),
        (
            "/api/v1/conversions",
            {"visitor_id": "v1", "timestamp": "2026-11-20T10:00:00Z", "conversion_type": "purchase"},
        ),
    ],
)
def test_a_disallowed_origin_is_refused_by_name_and_nothing_is_stored(client, conn, tenant, pk, path, body):
    response = client.post(
        path, json=body, headers={"Authorization": f"Bearer {pk.plaintext}", "Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    error = response.json["error"]
    assert error["code"] == "origin_not_allowed" and "https://evil.example" in error["message"]
    assert error["details"] == {"origin": "https://evil.example"}
    assert stored(conn, tenant.account_id) == []
    assert (
        conn.execute("select count(*) from raw.conversions where account_id = %s", (tenant.account_id,)).fetchone()[0]
        == 0
    )


def test_a_secret_key_from_a_web_page_is_refused_and_never_gets_cors(client, conn, tenant):
    response = client.post("/api/v1/events", json={"events": [event()]}, headers={**tenant.bearer(), "Origin": SHOP})
    assert response.status_code == 403 and response.json["error"]["code"] == "secret_key_in_browser"
    assert "publishable key" in response.json["error"]["message"]
    assert "Access-Control-Allow-Origin" not in response.headers
    assert stored(conn, tenant.account_id) == []
    # the API's own origin (a page served by mbuzz itself) is not another site
    same = client.post(
        "/api/v1/events", json={"events": [event()]}, headers={**tenant.bearer(), "Origin": "http://localhost"}
    )
    assert same.status_code == 202 and "Access-Control-Allow-Origin" not in same.headers
    # and the same key without Origin, from a server, as ever
    assert client.post("/api/v1/events", json={"events": [event()]}, headers=tenant.bearer()).status_code == 202


def test_a_publishable_key_records_conversions_but_never_reads_credits(client, conn, tenant, pk):
    headers = {"Authorization": f"Bearer {pk.plaintext}", "Origin": SHOP}
    body = {"visitor_id": "vis_1", "timestamp": "2026-11-20T10:00:00Z", "conversion_type": "signup"}
    first = client.post("/api/v1/conversions", json=body, headers=headers)
    assert first.status_code == 201 and set(first.json) == {"conversion_id"}
    again = client.post("/api/v1/conversions", json=body, headers=headers)
    assert again.status_code == 200 and again.json == first.json
    read = client.get(f"/api/v1/conversions/{first.json['conversion_id']}", headers=headers)
    assert read.status_code == 403 and read.json["error"]["code"] == "key_not_allowed"
    # the secret key of the same account reads it, with credits
    full = client.get(f"/api/v1/conversions/{first.json['conversion_id']}", headers=tenant.bearer())
    assert full.status_code == 200 and "attribution_credits" in full.json


def test_revoked_and_other_accounts_publishable_keys(client, conn, tenant, pk, other_tenant):
    accounts.revoke_key(conn, pk.key.id)
    response = client.post(
        "/api/v1/events",
        json={"events": [event()]},
        headers={"Authorization": f"Bearer {pk.plaintext}", "Origin": SHOP},
    )
    assert response.status_code == 401
    # errors before any key is known stay readable by the page (it can show why)
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    theirs = accounts.create_key(conn, other_tenant.account_id, "live", publishable=True, origins=[SHOP])
    ok = client.post(
        "/api/v1/events",
        json={"events": [event()]},
        headers={"Authorization": f"Bearer {theirs.plaintext}", "Origin": SHOP},
    )
    assert ok.status_code == 202
    assert len(stored(conn, other_tenant.account_id)) == 1 and stored(conn, tenant.account_id) == []


# -- CORS preflights ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/conversions", "/v1/p", "/v1/b", "/v1/batch", "/v1/alias"])
def test_preflights_are_answered_without_a_key(client, path):
    response = client.options(
        path,
        headers={
            "Origin": "https://anything.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://anything.example"
    assert response.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-retry-count"} <= allowed
    assert int(response.headers["Access-Control-Max-Age"]) >= 3600


@pytest.mark.parametrize("path", ["/api/v1/attribution", "/api/v1/validate", "/api/v1/attribution_models"])
def test_read_endpoints_have_no_cors(app, path):
    from flask.testing import FlaskClient

    client = FlaskClient(app)  # a plain client: Flask's automatic OPTIONS answer is not in the document
    response = client.options(path, headers={"Origin": SHOP, "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in response.headers


# -- analytics.js's wire protocol ---------------------------------------------------------------------


def test_every_short_path_stores_its_call_from_a_text_plain_body_with_writekey(client, conn, tenant, pk):
    anon = f"anon-{secrets.token_hex(4)}"
    calls = {
        "/v1/p": page_message(anonymousId=anon),
        "/v1/t": {"event": "Added To Cart", "anonymousId": anon, "properties": {"sku": "a1"}},
        "/v1/i": {"anonymousId": anon, "userId": "u_42", "traits": {"plan": "pro"}},
        "/v1/s": {"anonymousId": anon, "name": "Home"},
        "/v1/a": {"previousId": anon, "userId": "u_42"},
        "/v1/g": {"anonymousId": anon, "userId": "u_42", "groupId": "acme", "traits": {"employees": 50}},
    }
    for path, body in calls.items():
        response = client.post(
            path,
            data=json.dumps({**body, "writeKey": pk.plaintext}),
            headers={"Content-Type": "text/plain", "Origin": SHOP},
        )
        assert response.status_code == 200, (path, response.json)
        assert response.json["accepted"] == 1 and response.json["success"] is True
        assert response.headers["Access-Control-Allow-Origin"] == SHOP
    rows = {row["event_type"]: row for row in stored(conn, tenant.account_id)}
    assert set(rows) == {"page_view", "added_to_cart", "identify", "screen_view", "alias", "group"}
    page = rows["page_view"]
    assert page["properties"]["utm_source"] == "news" and page["properties"]["url"].startswith(SHOP)
    assert page["context"]["userAgent"].startswith("Mozilla") and page["context"]["locale"] == "de-DE"
    assert (rows["alias"]["visitor_id"], rows["alias"]["user_id"]) == (anon, "u_42")
    assert rows["alias"]["properties"]["previous_id"] == anon
    assert rows["group"]["properties"]["group_id"] == "acme"
    assert rows["group"]["properties"]["traits"] == {"employees": 50}


def test_analytics_js_batch_path_takes_writekey_or_basic_auth(client, conn, tenant, pk):
    batch = {
        "batch": [page_message(), {**page_message(), "type": "track", "event": "Signed Up"}],
        "sentAt": "2026-11-20T10:00:00Z",
        "writeKey": pk.plaintext,
    }
    response = client.post("/v1/b", data=json.dumps(batch), headers={"Content-Type": "text/plain", "Origin": SHOP})
    assert response.status_code == 200 and response.json["accepted"] == 2
    basic = base64.b64encode(f"{pk.plaintext}:".encode()).decode()
    again = client.post("/v1/b", json={"batch": [page_message()]}, headers={"Authorization": f"Basic {basic}"})
    assert again.status_code == 200 and again.json["accepted"] == 1
    assert len(stored(conn, tenant.account_id)) == 3


def test_malformed_alias_and_group_are_rejected_alone(client, conn, tenant, pk):
    batch = {
        "writeKey": pk.plaintext,
        "batch": [
            page_message(),
            {"type": "alias", "userId": "u_1"},
            {"type": "alias", "previousId": "anon-1"},
            {"type": "group", "anonymousId": "anon-1"},
            {"type": "group", "anonymousId": "anon-1", "groupId": "acme", "traits": "big"},
        ],
    }
    response = client.post("/v1/b", data=json.dumps(batch), headers={"Content-Type": "text/plain"})
    assert response.status_code == 200 and response.json["accepted"] == 1
    reasons = {r["index"]: r["errors"][0] for r in response.json["rejected"]}
    assert reasons[1].startswith("previousId: is required for alias")
    assert reasons[2].startswith("userId: is required for alias")
    assert reasons[3].startswith("groupId: is required for group")
    assert reasons[4].startswith("traits: must be of type object")
    assert [r["event_type"] for r in stored(conn, tenant.account_id)] == ["page_view"]


def test_own_api_speaks_alias_and_group(client, conn, tenant):
    body = {
        "events": [
            event(event_type="alias", visitor_id="anon-7", user_id="u_7", properties=...),
            event(event_type="group", visitor_id="anon-7", properties={"group_id": "acme", "traits": {"tier": "gold"}}),
            event(event_type="alias", visitor_id="anon-8", properties=...),
            event(event_type="group", visitor_id="anon-8", properties={"traits": {}}),
        ]
    }
    response = client.post("/api/v1/events", json=body, headers=tenant.bearer())
    assert response.status_code == 202 and response.json["accepted"] == 2
    assert {r["index"]: r["errors"] for r in response.json["rejected"]} == {
        2: ["user_id: is required for alias (the user the visitor becomes)"],
        3: ["properties.group_id: is required for group (the company or account id, 1-255 characters)"],
    }


def test_the_settings_document_points_analytics_js_back_at_mbuzz(client, conn, tenant, pk):
    response = client.get(f"/v1/projects/{pk.plaintext}/settings", headers={"Origin": SHOP})
    assert response.status_code == 200
    segment = response.json["integrations"]["Segment.io"]
    assert segment == {**segment, "apiKey": pk.plaintext, "apiHost": "localhost/v1", "protocol": "http"}
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert (
        client.get(f"/v1/projects/{pk.plaintext}/settings", headers={"Origin": "https://evil.example"}).json["error"][
            "code"
        ]
        == "origin_not_allowed"
    )
    secret = client.get(f"/v1/projects/{tenant.live_key}/settings")
    assert secret.status_code == 403 and secret.json["error"]["code"] == "secret_key_in_browser"
    unknown = client.get(f"/v1/projects/pk_live_{'x' * 32}/settings")
    assert unknown.status_code == 401
    assert client.get("/v1/projects/nonsense/settings").status_code == 404


# -- the seed's request shapes ------------------------------------------------------------------------


def test_the_seeds_conversion_envelope(client, conn, tenant):
    sent = client.post("/api/v1/events", json={"events": [event(event_id="evt_abc123")]}, headers=tenant.bearer())
    assert sent.status_code == 202
    body = {"conversion": {"event_id": "evt_abc123", "conversion_type": "signup", "revenue": 99.99}}
    refused = client.post("/api/v1/conversions", json=body, headers=tenant.bearer())
    assert refused.status_code == 422 and "--currency" in refused.json["error"]["message"]
    accounts.set_default_currency(conn, tenant.account_id, "eur")
    created = client.post("/api/v1/conversions", json=body, headers=tenant.bearer())
    assert created.status_code == 201, created.json
    assert created.json["conversion"]["currency"] == "EUR" and created.json["conversion"]["revenue"] == 99.99
    bad = client.post("/api/v1/conversions", json={"conversion": {"event_id": "evt_abc123"}}, headers=tenant.bearer())
    assert bad.status_code == 422 and "conversion.conversion_type: is required" in bad.json["error"]["message"]


def test_the_seeds_attribution_model_envelope(client, tenant):
    program = 'model "Custom"\n  credit first_touch with 50%\n  credit last_touch with 50%\nend\n'
    created = client.post(
        "/api/v1/attribution_models",
        headers=tenant.bearer(),
        json={"attribution_model": {"name": "My Custom Model", "dsl_code": program}},
    )
    assert created.status_code == 201, created.json
    assert created.json["name"] == "My Custom Model"
    bare = client.post(
        "/api/v1/attribution_models",
        headers=tenant.bearer(),
        json={"attribution_model": {"name": "Bare Body", "dsl_code": "credit first_touch with 100%"}},
    )
    assert bare.status_code == 201 and bare.json["name"] == "Bare Body"
    renamed = client.patch(
        f"/api/v1/attribution_models/{bare.json['id']}",
        headers=tenant.bearer(),
        json={"attribution_model": {"name": "Renamed", "dsl_code": "credit last_touch with 100%"}},
    )
    assert renamed.status_code == 200 and renamed.json["name"] == "Renamed"
    for seed, message in (
        ({"name": 'Say "hi"', "dsl_code": program}, "without double quotes"),
        ({"dsl_code": "credit first_touch with 100%"}, "name: is required"),
        ({"name": "Only a name"}, "dsl_code: is required"),
    ):
        response = client.post("/api/v1/attribution_models", headers=tenant.bearer(), json={"attribution_model": seed})
        assert response.status_code == 422 and message in response.json["error"]["message"], response.json
