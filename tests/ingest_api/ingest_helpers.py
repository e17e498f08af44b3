"""Helpers shared by the ingestion API tests (fixtures live in conftest.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from tests import live_server
from tests.live_server import LiveServer, free_port, stop_server  # noqa: F401 -- the ingestion tests import them from here


@dataclass(frozen=True)
class Tenant:
    account_id: str
    name: str
    live_key: str
    test_key: str
    live_key_id: str

    def bearer(self, environment: str = "live") -> dict:
        key = self.live_key if environment == "live" else self.test_key
        return {"Authorization": f"Bearer {key}"}


def make_tenant(conn, tier: str = "standard") -> Tenant:
    from mbuzz.accounts import create_account, create_key

    account = create_account(conn, f"Tenant {secrets.token_hex(3)}", tier=tier)
    live = create_key(conn, account.id, "live")
    test = create_key(conn, account.id, "test")
    return Tenant(account.id, account.name, live.plaintext, test.plaintext, live.key.id)


def event(**overrides) -> dict:
    base = {
        "event_type": "page_view",
        "visitor_id": f"vis_{secrets.token_hex(4)}",
        "event_id": f"e-{secrets.token_hex(8)}",
        "properties": {"url": "https://shop.example.com/?utm_source=google", "utm_source": "google"},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def stored(conn, account_id: str, *, environment: str | None = None) -> list[dict]:
    query = "select * from raw.events where account_id = %s" + (" and environment = %s" if environment else "")
    params = (account_id, environment) if environment else (account_id,)
    cursor = conn.execute(query + " order by occurred_at, event_id", params)
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def check_against_openapi(request, response) -> None:
    """Fail unless `response` is what docs/api/openapi.yml lets `request` get.

    Documented operations are validated by openapi-core (templated paths included);
    the document and its rendered page are checked for status and media type; any
    404/405 or undocumented path must still have the JSON error shape."""
    from jsonschema import Draft202012Validator
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
    from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
    from openapi_core.testing import MockRequest

    from ingest_api.openapi import spec

    document = spec()
    documented = document.document["paths"].get(request.path)
    if documented is not None and response.mimetype != "application/json":  # openapi.yml and /docs
        operation = documented["get" if request.method == "HEAD" else request.method.lower()]
        assert str(response.status_code) in operation["responses"]
        answer = operation["responses"][str(response.status_code)]
        if response.status_code == 204:  # a preflight: no body, and the documented CORS headers
            assert not response.data and "content" not in answer
            assert set(answer.get("headers", {})) <= set(response.headers.keys())
            return
        if "content" not in answer:  # e.g. GET /mbuzz.js's 304
            assert not response.data
            return
        assert response.mimetype in answer["content"]
        return
    operation = MockRequest("http://localhost", request.method.lower(), request.path, args=request.args.to_dict())
    error = next(iter(document.openapi.iter_response_errors(operation, WerkzeugOpenAPIResponse(response))), None)
    if isinstance(error, (PathNotFound, OperationNotFound)) or (
        error is not None and response.status_code in (404, 405)
    ):
        assert response.mimetype == "application/json", response.data[:200]
        schema = {"$ref": "#/components/schemas/Error", "components": document.document["components"]}
        Draft202012Validator(schema).validate(response.get_json())
        return
    assert error is None, (
        request.method,
        request.path,
        response.status_code,
        response.data[:500],
        repr(error),
        repr(getattr(error, "__cause__", None)),
    )


def contract_client_class():
    """A Flask test client that checks every response against the OpenAPI document."""
    from flask.testing import FlaskClient

    class ContractClient(FlaskClient):
        def open(self, *args, **kwargs):
            response = super().open(*args, **kwargs)
            with self.application.test_request_context():
                check_against_openapi(response.request, response)
            return response

    return ContractClient


SESSION_PREFIX = f"mbuzz-test-{secrets.token_hex(4)}"  # rate-limit keys of this test session


def start_server(database_url: str, log: Path, prefix: str, workers: int = 2) -> LiveServer:
    """The API as a real server (tests/live_server.py) with this session's rate-limit keys and tiers."""
    return live_server.start_server(
        database_url,
        log,
        {
            "MBUZZ_RATELIMIT_KEY_PREFIX": prefix,
            "MBUZZ_RATE_LIMIT_TIERS": '{"standard": "1000/second", "default": "1000/second"}',
        },
        workers=workers,
    )
