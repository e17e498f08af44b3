"""Fixtures of the conversions / attribution models / report API tests.

The app runs on the session's real PostgreSQL (tests/conftest.py); tenants and keys come from
the ingestion tests' helpers (tests/ingest_api/ingest_helpers.py). Every response the `client`
gets is validated against docs/api/openapi.yml by openapi-core, templated paths
(`/conversions/{conversion_id}`) included: the status must be documented for the operation and
the body must match its schema; unknown paths must still answer the JSON error shape.
"""
from __future__ import annotations

import secrets
import sys
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from openapi_core.testing import MockRequest
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "ingest_api"))
from ingest_helpers import Tenant, event, make_tenant  # noqa: E402

__all__ = ["Tenant", "event", "make_tenant"]
TIERS = {"standard": "1000/second", "tiny": "3/minute", "default": "1000/second"}


def check_against_openapi(request, response) -> None:
    """Fail unless `response` is what docs/api/openapi.yml lets `request` get."""
    from ingest_api.openapi import spec

    document = spec()
    operation = MockRequest("http://localhost", request.method.lower(), request.path, args=request.args.to_dict())
    error = next(iter(document.openapi.iter_response_errors(operation, WerkzeugOpenAPIResponse(response))), None)
    if isinstance(error, (PathNotFound, OperationNotFound)):  # unknown path or method: the JSON error shape
        assert response.mimetype == "application/json", response.data[:200]
        schema = {"$ref": "#/components/schemas/Error", "components": document.document["components"]}
        Draft202012Validator(schema).validate(response.get_json())
        return
    assert error is None, (request.method, request.path, response.status_code, response.data[:500], repr(error),
                           repr(getattr(error, "__cause__", None)))


class ContractClient(FlaskClient):
    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        with self.application.test_request_context():
            check_against_openapi(response.request, response)
        return response


@pytest.fixture(scope="session")
def api_app(database_url):
    from ingest_api import create_app

    application = create_app({
        "DATABASE_URL": database_url,
        "RATE_LIMIT_TIERS": TIERS,
        "RATELIMIT_KEY_PREFIX": f"mbuzz-api-test-{secrets.token_hex(4)}",
        "TESTING": True,
    })
    application.test_client_class = ContractClient
    yield application
    application.extensions["mbuzz.db"].dispose()


@pytest.fixture
def client(api_app):
    return api_app.test_client()


@pytest.fixture
def tenant(conn) -> Tenant:
    return make_tenant(conn)


@pytest.fixture
def other_tenant(conn) -> Tenant:
    return make_tenant(conn)
