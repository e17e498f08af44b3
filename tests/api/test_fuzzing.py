"""A bounded schemathesis run over the conversions, attribution models and report operations:
no 500s, every response as the document says."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

SERVED = r"^/api/v1/(conversions|conversions/\{conversion_id\}|attribution_models|attribution_models/\{model_id\}|attribution)$"


def test_fuzzing_our_operations_never_gives_a_500(api_app, tenant):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.yml", api_app).include(path_regex=SERVED)
    operations = [
        op for op in (result.ok() for result in schema.get_all_operations()) if op.method.upper() != "OPTIONS"
    ]
    assert len(operations) == 8
    auth = tenant.bearer("test")["Authorization"]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case):
            case.headers = {**(case.headers or {}), "Authorization": auth}
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

        fuzz()
