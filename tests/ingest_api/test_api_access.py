"""Health, validate, authentication, rate limits, tenant isolation (API and RLS), JSON errors, log hygiene."""

from __future__ import annotations

import base64
import logging
import secrets

import psycopg
import pytest

from ingest_helpers import event, make_tenant, stored
from mbuzz.accounts import revoke_key

# -- health ------------------------------------------------------------------------


def test_health_is_ok_without_auth(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json["status"] == "ok" and response.json["database"] == "ok" and response.json["version"]
    assert "X-RateLimit-Limit" not in response.headers


def unreachable_app(client_class):
    from ingest_api import create_app
    from ingest_helpers import free_port

    app = create_app({"DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/none", "TESTING": True})
    app.test_client_class = client_class  # the contract-checking client of this folder's conftest
    return app


def test_database_down_gives_503_with_retry_after_everywhere(tenant, app):
    client = unreachable_app(app.test_client_class).test_client()
    response = client.get("/api/v1/health")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json["database"] == "unreachable"
    for method, path, body in (("get", "/api/v1/validate", None), ("post", "/api/v1/events", {"events": [event()]})):
        response = getattr(client, method)(path, json=body, headers=tenant.bearer())
        assert response.status_code == 503, response.json
        assert response.json["error"]["code"] == "service_unavailable" and response.headers["Retry-After"]


def test_database_dying_mid_request_writes_nothing(app, client, conn, tenant, monkeypatch):
    """The landing statement fails as if the server went away: 503, and the key/fact rows are rolled back."""
    from ingest_api import landing

    real_land = landing.land

    def land_then_die(db_conn, *args, **kwargs):
        real_land(db_conn, *args, **kwargs)
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(landing, "land", land_then_die)
    response = client.post("/api/v1/events", json={"events": [event()]}, headers=tenant.bearer())
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert stored(conn, tenant.account_id) == []


# -- validate and authentication -------------------------------------------------------


@pytest.mark.parametrize("environment", ["live", "test"])
def test_validate_names_the_account_and_environment(client, tenant, environment):
    response = client.get("/api/v1/validate", headers=tenant.bearer(environment))
    assert response.status_code == 200
    assert response.json == {
        "valid": True,
        "account": {"id": tenant.account_id, "name": tenant.name},
        "environment": environment,
    }


BAD_CREDENTIALS = [
    ("no header", None),
    ("empty bearer", "Bearer "),
    ("not a key", "Bearer hello"),
    ("wrong prefix", "Bearer pk_live_" + "a" * 32),
    ("wrong environment", "Bearer sk_prod_" + "a" * 32),
    ("too short", "Bearer sk_live_" + "a" * 31),
    ("bad characters", "Bearer sk_live_" + "-" * 32),
    ("unknown key", "Bearer sk_live_" + "a" * 32),
    ("unsupported scheme", "Digest username=x"),
]


@pytest.mark.parametrize("header", [c[1] for c in BAD_CREDENTIALS], ids=[c[0] for c in BAD_CREDENTIALS])
@pytest.mark.parametrize(
    "method, path", [("get", "/api/v1/validate"), ("post", "/api/v1/events"), ("post", "/v1/batch")]
)
def test_bad_credentials_are_401_json(client, header, method, path):
    headers = {"Authorization": header} if header else {}
    response = getattr(client, method)(path, json={"events": [], "batch": []}, headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert "WWW-Authenticate" in response.headers


def test_revoked_key_is_refused_at_once(client, conn, tenant):
    assert client.get("/api/v1/validate", headers=tenant.bearer()).status_code == 200
    revoke_key(conn, tenant.live_key_id)
    response = client.post("/api/v1/events", json={"events": [event()]}, headers=tenant.bearer())
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    assert client.get("/api/v1/validate", headers=tenant.bearer("test")).status_code == 200  # the other key still works
    assert stored(conn, tenant.account_id) == []


def test_last_used_at_is_written_once_a_minute_not_per_request(client, conn, tenant):
    def last_used():
        return conn.execute("select last_used_at from raw.api_keys where id = %s", (tenant.live_key_id,)).fetchone()[0]

    assert last_used() is None
    client.get("/api/v1/validate", headers=tenant.bearer())
    first = last_used()
    assert first is not None
    for _ in range(3):
        client.get("/api/v1/validate", headers=tenant.bearer())
    assert last_used() == first
    conn.execute(
        "update raw.api_keys set last_used_at = now() - interval '2 minutes' where id = %s", (tenant.live_key_id,)
    )
    client.get("/api/v1/validate", headers=tenant.bearer())
    assert last_used() > first


# -- rate limits -------------------------------------------------------------------------


def test_authenticated_responses_carry_rate_limit_headers(client, tenant):
    for response in (
        client.get("/api/v1/validate", headers=tenant.bearer()),
        client.post("/api/v1/events", json={"events": [event()]}, headers=tenant.bearer()),
        client.post("/api/v1/events", json={"events": [{}]}, headers=tenant.bearer()),
        client.post("/api/v1/events", json={}, headers=tenant.bearer()),
    ):
        assert int(response.headers["X-RateLimit-Limit"]) == 1000
        assert int(response.headers["X-RateLimit-Remaining"]) >= 0
        assert int(response.headers["X-RateLimit-Reset"]) > 0


def test_over_the_tier_limit_is_429_with_retry_after_per_account(client, conn):
    tiny = make_tenant(conn, tier="tiny")  # 3/minute in the test config
    bystander = make_tenant(conn, tier="tiny")
    remaining = [
        int(client.get("/api/v1/validate", headers=tiny.bearer()).headers["X-RateLimit-Remaining"]) for _ in range(3)
    ]
    assert remaining == [2, 1, 0]
    response = client.post("/api/v1/events", json={"events": [event()]}, headers=tiny.bearer("test"))  # same account
    assert response.status_code == 429
    assert response.json["error"]["code"] == "rate_limited"
    assert 0 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert stored(conn, tiny.account_id) == []
    assert client.get("/api/v1/validate", headers=bystander.bearer()).status_code == 200  # per account


def test_limits_come_from_the_tier_mapping(app, conn):
    from ingest_api import create_app

    configured = create_app(
        {
            "DATABASE_URL": app.config["DATABASE_URL"],
            "RATE_LIMIT_TIERS": {"default": "7/hour"},
            "RATELIMIT_KEY_PREFIX": f"tiers-{secrets.token_hex(4)}",
        }
    )
    tenant = make_tenant(conn, tier="unlisted")
    response = configured.test_client().get("/api/v1/validate", headers=tenant.bearer())
    assert response.headers["X-RateLimit-Limit"] == "7"


def limited_app(app, tiers: dict, storage: str | None = None):
    from ingest_api import create_app

    config = {
        "DATABASE_URL": app.config["DATABASE_URL"],
        "RATE_LIMIT_TIERS": tiers,
        "RATELIMIT_KEY_PREFIX": f"windows-{secrets.token_hex(4)}",
    }
    if storage:
        config["RATELIMIT_STORAGE_URI"] = storage
    configured = create_app(config)
    configured.test_client_class = app.test_client_class
    return configured


def test_every_window_of_a_tier_counts_and_the_headers_show_the_tightest(app, conn):
    client = limited_app(app, {"default": "5/hour;2/minute"}).test_client()
    tenant = make_tenant(conn, tier="windows")
    first, second = (client.get("/api/v1/validate", headers=tenant.bearer()) for _ in range(2))
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("2", "1")
    assert (second.headers["X-RateLimit-Limit"], second.headers["X-RateLimit-Remaining"]) == ("2", "0")
    blocked = client.post("/api/v1/events", json={"events": [event()]}, headers=tenant.bearer())
    assert blocked.status_code == 429 and blocked.json["error"]["code"] == "rate_limited"
    assert blocked.headers["X-RateLimit-Limit"] == "2" and blocked.headers["X-RateLimit-Remaining"] == "0"
    assert 0 <= int(blocked.headers["Retry-After"]) <= 60
    assert stored(conn, tenant.account_id) == []

    # the hour window counted all three: with a roomier minute, the hour is the tightest
    roomy = limited_app(app, {"default": "5/hour;100/minute"}).test_client()
    other = make_tenant(conn, tier="windows")
    remaining = [
        (r.headers["X-RateLimit-Limit"], r.headers["X-RateLimit-Remaining"])
        for r in (roomy.get("/api/v1/validate", headers=other.bearer()) for _ in range(3))
    ]
    assert remaining == [("5", "4"), ("5", "3"), ("5", "2")]


def test_an_unreachable_limit_store_lets_requests_through(app, tenant):
    from ingest_helpers import free_port

    client = limited_app(app, {"default": "1/hour"}, storage=f"redis://127.0.0.1:{free_port()}/0").test_client()
    for _ in range(2):
        response = client.post("/api/v1/events", json={"events": [event()]}, headers=tenant.bearer())
        assert response.status_code == 202 and response.json["accepted"] == 1
        assert "X-RateLimit-Limit" not in response.headers


def test_redis_counters_expire_with_their_window(app, conn):
    import os

    import redis

    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set")
    configured = limited_app(app, {"default": "10/minute;50/hour"}, storage=url)
    tenant = make_tenant(conn, tier="windows")
    configured.test_client().get("/api/v1/validate", headers=tenant.bearer())
    server = redis.Redis.from_url(url)
    keys = [k.decode() for k in server.scan_iter(match=f"*{configured.config['RATELIMIT_KEY_PREFIX']}*")]
    assert len(keys) == 2 and all(tenant.account_id in k for k in keys)
    ttls = sorted(server.ttl(k) for k in keys)
    assert 0 < ttls[0] <= 60 and 60 < ttls[1] <= 3600
    assert sorted(int(server.get(k)) for k in keys) == [1, 1]


def test_redis_backs_the_limits_when_redis_url_is_set(app):
    import os

    from ingest_api.limits import storage_uri

    expected = os.environ.get("REDIS_URL") or "memory://"
    assert storage_uri(app) == expected


# -- tenancy ---------------------------------------------------------------------------------


def test_another_accounts_key_sees_nothing_of_this_account(client, conn, tenant, other_tenant):
    shared_id = f"shared-{secrets.token_hex(4)}"
    assert (
        client.post("/api/v1/events", json={"events": [event(event_id=shared_id)]}, headers=tenant.bearer()).json[
            "accepted"
        ]
        == 1
    )
    # the same event_id in another account is another event, not a duplicate
    response = client.post(
        "/api/v1/events", json={"events": [event(event_id=shared_id)]}, headers=other_tenant.bearer()
    )
    assert response.json == {"accepted": 1, "duplicates": 0, "rejected": []}
    validate = client.get("/api/v1/validate", headers=other_tenant.bearer()).json
    assert validate["account"]["id"] == other_tenant.account_id
    assert len(stored(conn, tenant.account_id)) == 1 and len(stored(conn, other_tenant.account_id)) == 1


def _as_api_role(database_url, account_id):
    connection = psycopg.connect(database_url)
    if account_id is not None:
        connection.execute(
            "select set_config('role', 'mbuzz_api', true), set_config('mbuzz.account_id', %s, true)", (account_id,)
        )
    else:
        connection.execute("set local role mbuzz_api")
    return connection


def test_row_level_security_fences_a_query_that_forgets_its_scope(client, database_url, tenant, other_tenant):
    for who in (tenant, other_tenant):
        client.post("/api/v1/events", json={"events": [event(), event()]}, headers=who.bearer())
    with _as_api_role(database_url, tenant.account_id) as scoped:
        # no `where account_id = …` anywhere below
        accounts = {r[0] for r in scoped.execute("select account_id from raw.events")}
        assert accounts == {tenant.account_id}
        assert {r[0] for r in scoped.execute("select id from raw.accounts")} == {tenant.account_id}
        assert {r[0] for r in scoped.execute("select account_id from raw.api_keys")} == {tenant.account_id}
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor can it write into another account
            scoped.execute(
                "insert into raw.events (account_id, event_id, environment, event_type, visitor_id, "
                "occurred_at) values (%s, 'x', 'live', 'page_view', 'v', now())",
                (other_tenant.account_id,),
            )
    with _as_api_role(database_url, None) as unscoped:
        assert unscoped.execute("select count(*) from raw.events").fetchone()[0] == 0
        assert unscoped.execute("select count(*) from raw.accounts").fetchone()[0] == 0


# -- errors are JSON everywhere ----------------------------------------------------------------


def test_unknown_paths_and_methods_are_json(client, tenant):
    response = client.get("/api/v1/nope", headers=tenant.bearer())
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    response = client.get("/api/v1/events", headers=tenant.bearer())
    assert response.status_code == 405 and response.json["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]
    response = client.delete("/v1/batch")
    assert response.status_code == 405 and response.mimetype == "application/json"


def test_unexpected_errors_are_json_500_and_logged_without_keys(app, client, tenant, monkeypatch, caplog):
    from ingest_api import landing

    def explode(*args, **kwargs):
        raise RuntimeError(f"boom while handling {tenant.live_key}")

    monkeypatch.setattr(landing, "land", explode)
    with caplog.at_level(logging.INFO):
        response = client.post("/api/v1/events", json={"events": [event()]}, headers=tenant.bearer())
    assert response.status_code == 500
    assert response.json["error"] == {
        "code": "internal_error",
        "message": "internal error; it has been logged",
        "details": None,
    }
    assert "boom while handling sk_live_****" in caplog.text
    assert tenant.live_key not in caplog.text


def test_logs_never_hold_keys_or_authorization_headers(app, client, tenant, caplog):
    basic = base64.b64encode(f"{tenant.live_key}:".encode()).decode()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("werkzeug").info("GET /api/v1/validate?key=%s HTTP/1.1", tenant.live_key)
        app.logger.warning("Authorization: Bearer %s", tenant.test_key)
        app.logger.warning("Authorization: Basic %s", basic)
        logging.getLogger("gunicorn.access").info('127.0.0.1 "POST /v1/batch" user=%s', tenant.live_key)
        client.get("/api/v1/validate", headers={"Authorization": f"Bearer {tenant.live_key}"})
    for secret in (tenant.live_key, tenant.test_key, basic, tenant.live_key[12:]):
        assert secret not in caplog.text
    assert "sk_live_****" in caplog.text and "Basic ****" in caplog.text


def test_redaction_patterns():
    from ingest_api.redaction import redact

    key = "sk_test_" + "A1b2" * 8
    assert redact(f"key={key}&x=1") == "key=sk_test_****&x=1"
    assert redact("Authorization: Bearer abcdefghij") == "Authorization: Bearer ****"
    assert redact("authorization: basic c2tfdGVzdF9hYmM6") == "authorization: basic ****"
    assert redact("nothing secret here") == "nothing secret here"


# -- the contract is served ----------------------------------------------------------------------


def test_openapi_document_and_docs_page_are_served(client):
    from pathlib import Path

    import yaml

    response = client.get("/api/v1/openapi.yml")
    assert response.status_code == 200
    assert response.data == (Path(__file__).resolve().parents[2] / "docs/api/openapi.yml").read_bytes()
    assert yaml.safe_load(response.data)["openapi"].startswith("3.1")
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"/api/v1/events" in page.data and b"/v1/batch" in page.data


def test_request_transactions_run_as_the_api_role_scoped_to_the_account(
    client, conn, tenant, other_tenant, monkeypatch
):
    """Inside a request, the connection views get (`g.db`) is already fenced in by row-level security."""
    from ingest_api import landing

    client.post("/api/v1/events", json={"events": [event()]}, headers=other_tenant.bearer())
    seen = {}
    real_land = landing.land

    def spy(db_conn, *args, **kwargs):
        seen["user"] = db_conn.execute("select current_user").fetchone()[0]
        seen["accounts"] = {r[0] for r in db_conn.execute("select account_id from raw.events")}  # no scope on purpose
        return real_land(db_conn, *args, **kwargs)

    monkeypatch.setattr(landing, "land", spy)
    client.post("/api/v1/events", json={"events": [event()]}, headers=tenant.bearer())
    assert seen["user"] == "mbuzz_api"
    assert seen["accounts"] <= {tenant.account_id}
