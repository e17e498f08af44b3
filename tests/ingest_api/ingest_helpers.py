"""Helpers shared by the ingestion API tests (fixtures live in conftest.py)."""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests


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
    base = {"event_type": "page_view", "visitor_id": f"vis_{secrets.token_hex(4)}",
            "event_id": f"e-{secrets.token_hex(8)}",
            "properties": {"url": "https://shop.example.com/?utm_source=google", "utm_source": "google"}}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def stored(conn, account_id: str, *, environment: str | None = None) -> list[dict]:
    query = "select * from raw.events where account_id = %s" + (" and environment = %s" if environment else "")
    params = (account_id, environment) if environment else (account_id,)
    cursor = conn.execute(query + " order by occurred_at, event_id", params)
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        operation = documented[request.method.lower()]
        assert str(response.status_code) in operation["responses"]
        assert response.mimetype in operation["responses"][str(response.status_code)]["content"]
        return
    operation = MockRequest("http://localhost", request.method.lower(), request.path, args=request.args.to_dict())
    error = next(iter(document.openapi.iter_response_errors(operation, WerkzeugOpenAPIResponse(response))), None)
    if isinstance(error, (PathNotFound, OperationNotFound)) or (error is not None and response.status_code in (404, 405)):
        assert response.mimetype == "application/json", response.data[:200]
        schema = {"$ref": "#/components/schemas/Error", "components": document.document["components"]}
        Draft202012Validator(schema).validate(response.get_json())
        return
    assert error is None, (request.method, request.path, response.status_code, response.data[:500], repr(error),
                           repr(getattr(error, "__cause__", None)))


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


REPO = Path(__file__).resolve().parents[2]
MBUZZ = str(Path(sys.executable).parent / "mbuzz")
SESSION_PREFIX = f"mbuzz-test-{secrets.token_hex(4)}"  # rate-limit keys of this test session


# -- a live server: `mbuzz serve` under gunicorn on a free port ---------------------

@dataclass
class LiveServer:
    url: str
    log: Path
    process: subprocess.Popen


def start_server(database_url: str, log: Path, prefix: str, workers: int = 2) -> LiveServer:
    """`mbuzz serve` (gunicorn) on a free port, up and answering /health, or the test fails."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url,
           "MBUZZ_RATELIMIT_KEY_PREFIX": prefix,
           "MBUZZ_RATE_LIMIT_TIERS": '{"standard": "1000/second", "default": "1000/second"}'}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [MBUZZ, "serve", "--port", str(port), "--workers", str(workers), "--no-migrate"],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return LiveServer(url, log, process)
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"mbuzz serve did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
