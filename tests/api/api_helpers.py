"""Helpers of the API tests (a module of its own: `conftest` names clash across test folders)."""
from __future__ import annotations

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.testing import MockRequest

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
