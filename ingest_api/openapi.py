"""docs/api/openapi.yml at run time: request validation and the per-item schemas.

The document is the single source of truth. Each request is checked against
its operation: security and parameters by openapi-core, the JSON body by the
operation's `requestBody` schema compiled once from the same document (the
batch envelope), and the item schemas the envelopes point to (`Event`,
`SegmentMessage`) are compiled into validators that check each item of a
batch on its own, so one bad event is reported, not fatal. The body is
parsed once per request (`parse_json_body()`).
"""

from __future__ import annotations

import json
import math
import re
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import orjson
import yaml
from flask import Flask, current_app, g, request
from jsonschema import Draft202012Validator
from openapi_core import OpenAPI
from openapi_core.contrib.flask import FlaskOpenAPIRequest
from openapi_core.validation.request.exceptions import SecurityValidationError
from openapi_core.validation.request.validators import V31RequestParametersValidator, V31RequestSecurityValidator

from ingest_api import storable
from ingest_api.errors import ApiError
from mbuzz.paths import OPENAPI_PATH

_NOT_PARSED = object()
PER_ITEM_SCHEMAS = ("/SegmentMessage",)
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


# orjson would turn integers beyond 64 bits into floats: bodies with a run of 19+ digits take the
# standard parser. Found by mapping every digit to "0" and searching for 19 of them (C speed; a
# regular expression scanning for the run cost five times the parse itself on a 32 KB batch).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_DIGIT_RUN = b"0" * 19


def _has_long_digit_run(body: bytes) -> bool:
    return _DIGIT_RUN in body.translate(_DIGITS_AS_ZERO)


def loads(body: bytes) -> Any:
    """Strict JSON: no NaN/Infinity, no numbers that overflow a double (PostgreSQL's jsonb refuses them).

    orjson (~5x faster) parses the common body; anything it refuses, and bodies with integers
    it would round, go through the standard library, which keeps big integers exact, names the
    problem, and lets lone UTF-16 surrogates through to be rejected per event, not per batch.
    """
    if not _has_long_digit_run(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)


@dataclass
class ApiSpec:
    path: Path

    @cached_property
    def text(self) -> bytes:
        return self.path.read_bytes()

    @cached_property
    def document(self) -> dict:
        return yaml.safe_load(self.text)

    @cached_property
    def openapi(self) -> OpenAPI:
        return OpenAPI.from_dict(self.document)

    def item_validator(self, schema_name: str) -> "ItemValidator":
        return ItemValidator(self.document, {"$ref": f"#/components/schemas/{schema_name}"})

    @cached_property
    def envelope_validators(self) -> tuple:
        """openapi-core's checks of an operation's security and parameters (the body is compiled apart)."""
        return (V31RequestSecurityValidator(self.openapi.spec), V31RequestParametersValidator(self.openapi.spec))

    def envelope_error(self, flask_request) -> Exception | None:
        """openapi-core's first security/parameter error for this request, or None.

        The answer depends only on the operation, the Authorization scheme and
        the values of the operation's declared parameters, so it is memoised on
        exactly those (openapi-core re-resolves the document on every call).
        """
        rule = flask_request.url_rule.rule if flask_request.url_rule else flask_request.path
        method = flask_request.method
        auth = flask_request.authorization
        key = (
            rule,
            method,
            auth.type if auth else None,
            tuple(_parameter_value(flask_request, where, name) for where, name in self._parameters(rule, method)),
        )
        try:
            return self._envelope_errors[key]
        except KeyError:
            pass
        openapi_request = FlaskOpenAPIRequest(flask_request)
        error = next((e for v in self.envelope_validators for e in v.iter_errors(openapi_request)), None)
        if len(self._envelope_errors) > 4096:
            self._envelope_errors.clear()
        self._envelope_errors[key] = error
        return error

    @cached_property
    def _envelope_errors(self) -> dict:
        return {}

    def _parameters(self, flask_rule: str, method: str) -> tuple[tuple[str, str], ...]:
        path = _openapi_path(flask_rule)
        item = self.document["paths"].get(path) or {}
        declared = list(item.get("parameters") or []) + list((item.get(method.lower()) or {}).get("parameters") or [])
        return tuple((p["in"], p["name"]) for p in (self._deref(p) for p in declared))

    def _deref(self, node: dict) -> dict:
        while "$ref" in node:
            target = self.document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    @cached_property
    def _body_validators(self) -> dict[tuple[str, str], "ItemValidator"]:
        validators = {}
        for path, item in self.document["paths"].items():
            for method, operation in item.items():
                if method not in HTTP_METHODS:
                    continue
                schema = (
                    ((operation.get("requestBody") or {}).get("content") or {})
                    .get("application/json", {})
                    .get("schema")
                )
                if schema is not None:
                    validators[(path, method.upper())] = ItemValidator(self.document, schema)
        return validators

    @cached_property
    def _text_json_operations(self) -> frozenset[tuple[str, str]]:
        """Operations whose document also takes their JSON body as `text/plain` (analytics.js's beacon)."""
        return frozenset(
            (path, method.upper())
            for path, item in self.document["paths"].items()
            for method, operation in item.items()
            if method in HTTP_METHODS and "text/plain" in ((operation.get("requestBody") or {}).get("content") or {})
        )

    def takes_json_as_text(self, flask_rule: str, method: str) -> bool:
        return (_openapi_path(flask_rule), method.upper()) in self._text_json_operations

    def body_validator(self, flask_rule: str, method: str) -> "ItemValidator | None":
        """The compiled JSON body schema of the operation a Flask rule serves, if it takes one."""
        return self._body_validators.get((_openapi_path(flask_rule), method.upper()))


def _openapi_path(flask_rule: str) -> str:
    """`/things/<int:thing_id>` → `/things/{thing_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", flask_rule)


def _parameter_value(flask_request, where: str, name: str):
    if where == "path":
        return (flask_request.view_args or {}).get(name)
    if where == "query":
        return tuple(flask_request.args.getlist(name))
    if where == "header":
        return flask_request.headers.get(name)
    return flask_request.cookies.get(name)


class ItemValidator:
    """One component schema of the document, compiled for checking batch items one by one."""

    def __init__(self, document: dict, schema: dict) -> None:
        root = {**schema, "components": document["components"]}
        # top-level arrays of a batch envelope: "more than N items" there means 413
        target = schema
        if "$ref" in target:
            target = document["components"]["schemas"][target["$ref"].rsplit("/", 1)[-1]]
        self.batch_fields = tuple(
            name for name, prop in (target.get("properties") or {}).items() if prop.get("type") == "array"
        )
        # bodies whose items the view checks one by one (a batch envelope, or one Segment message
        # handled as a batch of one), reporting unstorable text per item instead of refusing the body
        self.checked_per_item = bool(self.batch_fields) or schema.get("$ref", "").endswith(PER_ITEM_SCHEMAS)
        self._validator = Draft202012Validator(root)
        self._is_valid: Callable[[Any], bool] = self._validator.is_valid
        self._all_valid: Callable[[Any], bool] | None = None
        try:  # the Rust validator, where installed, makes the common (valid) case ~20x cheaper
            import jsonschema_rs

            self._is_valid = jsonschema_rs.validator_for(root).is_valid
            self._all_valid = jsonschema_rs.validator_for(
                {"type": "array", "items": schema, "components": document["components"]}
            ).is_valid
        except Exception:
            pass

    def errors(self, item: Any) -> list[str]:
        if self._is_valid(item):
            return []
        return sorted({describe(error) for error in self._validator.iter_errors(item)})

    def errors_each(self, items: list) -> list[list[str]]:
        """Each item's errors ([] when valid): one call into the Rust validator for a batch whose
        items are all valid (the common case), item by item otherwise."""
        if self._all_valid is not None and self._all_valid(items):
            return [[] for _ in items]
        return [self.errors(item) for item in items]


def _field(path) -> str:
    return ".".join(str(p) for p in path)


def describe(error) -> str:
    """`field: problem`, short, without echoing (possibly huge) values back."""
    path = _field(error.absolute_path)
    prefix = f"{path}." if path else ""
    kind = error.validator
    if kind == "required":
        match = re.match(r"^'(.+)' is a required property$", error.message)
        return f"{prefix}{match.group(1) if match else '?'}: is required"
    if kind == "anyOf" and not path:
        options = [s.get("required", []) for s in error.validator_value]
        names = " or ".join(name for req in options for name in req)
        return f"{names}: one of them is required" if names else f"{error.message[:200]}"
    field = path or "event"
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{prefix}{extra[0] if extra else '?'}: unknown field"
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{field}: must be of type {expected}"
    if kind == "pattern":
        return f"{field}: must match {error.validator_value}"
    if kind == "maxLength":
        return f"{field}: longer than {error.validator_value} characters"
    if kind == "minLength":
        return f"{field}: shorter than {error.validator_value} characters"
    if kind == "maxItems":
        return f"{field}: more than {error.validator_value} items"
    if kind == "enum":
        return f"{field}: must be one of {', '.join(map(str, error.validator_value))}"
    return f"{field}: {error.message[:200]}"


def init_app(app: Flask) -> None:
    path = Path(app.config.get("OPENAPI_PATH") or OPENAPI_PATH)
    spec = ApiSpec(path)
    spec.openapi  # load and check at start-up, not on the first request
    app.extensions["mbuzz.openapi"] = spec


def spec() -> ApiSpec:
    return current_app.extensions["mbuzz.openapi"]


def _decoded_body() -> bytes:
    limit = current_app.config["MAX_BODY_BYTES"]
    raw = request.get_data(cache=True)  # Werkzeug enforces MAX_CONTENT_LENGTH (413)
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding in ("identity", ""):
        return raw
    if encoding not in ("gzip", "deflate"):
        raise ApiError(f"Content-Encoding {encoding!r} is not supported (use gzip or none)", status=415)
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    decompressor = zlib.decompressobj(wbits)
    try:
        body = decompressor.decompress(raw, limit + 1)
    except zlib.error:
        raise ApiError(f"the body is not valid {encoding}", code="bad_request") from None
    if len(body) > limit:
        raise ApiError(f"request body is over the {limit // 1024} KB limit once decompressed", status=413)
    return body


def parse_json_body() -> Any:
    """The request's JSON body, parsed once per request (400 malformed, 413 too big, 415 not JSON)."""
    parsed = g.get("json_body", _NOT_PARSED)
    if parsed is not _NOT_PARSED:
        return parsed
    mimetype = request.mimetype
    if (
        mimetype != "application/json"
        and not mimetype.endswith("+json")
        and not (
            mimetype == "text/plain"
            and request.url_rule is not None
            and spec().takes_json_as_text(request.url_rule.rule, request.method)
        )
    ):
        raise ApiError("send the body as JSON with Content-Type: application/json", status=415)
    body = _decoded_body()
    g.body_size = len(body)
    g.body = body
    if not body.strip():
        raise ApiError("a JSON body is required", status=422)
    try:
        parsed = loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ApiError(f"the body is not valid JSON: {str(exc)[:200]}", code="invalid_json") from None
    g.json_body = parsed
    return parsed


def validate_request() -> None:
    """Check the current request against its operation in the OpenAPI document.

    openapi-core checks the operation's security and parameters; the JSON body
    is checked against the operation's `requestBody` schema from the same
    document, compiled once (openapi-core re-resolves the whole document on
    every request, which costs more than landing a batch of 100 events).
    """
    document = spec()
    error = document.envelope_error(request)
    if error is not None:
        if isinstance(error, SecurityValidationError):
            raise ApiError("missing or malformed credentials", status=401)
        raise ApiError(f"invalid request: {error}", status=422, details={"errors": [str(error)[:500]]})
    body_schema = document.body_validator(request.url_rule.rule if request.url_rule else request.path, request.method)
    if body_schema is None:
        return
    body = parse_json_body()
    errors = body_schema.errors(body)
    if not errors:
        if (
            not body_schema.checked_per_item
            and storable.body_may_hold_unstorable_text(g.body)
            and (problem := storable.unstorable_text(body))
        ):
            raise ApiError(f"the request body {problem}", status=422, details={"errors": [problem]})
        return
    if any(e.startswith(body_schema.batch_fields) and ": more than " in e for e in errors):
        # a batch over the documented item limit is too large, not malformed
        raise ApiError(f"too many items in one batch: {errors[0]}; split it", status=413)
    raise ApiError(
        "the request body does not have the documented shape: " + "; ".join(errors[:5]),
        status=422,
        details={"errors": errors},
    )
