"""The documentation holds: examples run against a live server, guides cover the contract, and a fuzz run never 500s."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from ingest_helpers import stored

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api"
EXAMPLES = DOCS / "examples"


def run_example(command: list[str], live_server, key: str) -> str:
    env = {**os.environ, "MBUZZ_API_URL": live_server.url, "MBUZZ_API_KEY": key}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=EXAMPLES)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_curl_example(live_server, conn, tenant):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    out = run_example(["sh", "send_events.sh"], live_server, tenant.test_key)
    validate, result = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert validate["account"]["id"] == tenant.account_id and validate["environment"] == "test"
    assert result == {"accepted": 2, "duplicates": 0, "rejected": []}
    rows = stored(conn, tenant.account_id, environment="test")
    assert {r["event_id"] for r in rows} == {"curl-example-1", "curl-example-2"}


def test_offline_conversions_example(live_server, conn, tenant):
    if shutil.which("curl") is None or shutil.which("sha256sum") is None:
        pytest.skip("curl or sha256sum is not installed")
    out = run_example(["sh", "offline_conversions.sh"], live_server, tenant.test_key)
    events, first, again = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert events == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (3, 0, 0)
    assert first["match_report"] == {"user_id": 1, "visitor_id": 0, "email_sha256": 1, "unmatched": 1}
    assert (again["accepted"], again["duplicates"]) == (0, 3) and again["match_report"] == first["match_report"]
    assert (
        conn.execute(
            "select count(*) from raw.conversions where account_id = %s and environment = 'test'", (tenant.account_id,)
        ).fetchone()[0]
        == 3
    )


def test_python_example(live_server, conn, tenant):
    out = run_example([sys.executable, "send_events.py"], live_server, tenant.live_key)
    first, retry = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert first == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert retry == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert len(stored(conn, tenant.account_id)) == 2


def test_javascript_example(live_server, conn, tenant):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    out = run_example([node, "send_events.mjs"], live_server, tenant.live_key)
    assert json.loads(out) == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert {r["event_type"] for r in stored(conn, tenant.account_id)} == {"page_view", "sql"}


def test_ruby_example(live_server, conn, tenant):
    ruby = shutil.which("ruby")
    if ruby is None:
        pytest.skip("ruby is not installed")
    out = run_example([ruby, "send_events.rb"], live_server, tenant.live_key)
    assert json.loads(out)["accepted"] == 1


def test_segment_library_example(live_server, conn, tenant):
    assert run_example([sys.executable, "segment_python.py"], live_server, tenant.live_key).strip() == "sent"
    assert {r["event_type"] for r in stored(conn, tenant.account_id)} == {"page_view", "trial_started"}


def test_every_error_code_is_documented():
    document = yaml.safe_load((DOCS / "openapi.yml").read_text())
    codes = document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    guide = (DOCS / "errors.md").read_text()
    assert [code for code in codes if f"`{code}`" not in guide] == []


def test_guides_exist_and_link_each_other():
    for name in ("getting_started.md", "authentication.md", "events.md", "rate_limits.md", "errors.md"):
        text = (DOCS / name).read_text()
        for link in re.findall(r"\]\(([^)#:]+)\)", text):
            assert (DOCS / link).exists(), f"{name} links to missing {link}"


def test_documented_tiers_are_the_configured_ones():
    from ingest_api.config import DEFAULTS

    guide = (DOCS / "rate_limits.md").read_text()
    for tier in DEFAULTS["RATE_LIMIT_TIERS"]:
        assert f"| {tier}" in guide or f"`{tier}`" in guide or tier in guide


SERVED = r"^/(api/v1/(health|validate|events)|v1/(batch|track|page|identify))$"


def test_fuzzing_against_the_document_never_gives_a_500(app, tenant):
    """A bounded schemathesis run over the ingestion operations: no 500s, responses as documented."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.yml", app).include(path_regex=SERVED)
    basic = "Basic " + base64.b64encode(f"{tenant.test_key}:".encode()).decode()
    operations = [
        op for op in (result.ok() for result in schema.get_all_operations()) if op.method.upper() != "OPTIONS"
    ]
    assert len(operations) == 7

    for operation in operations:
        auth = basic if operation.path.startswith("/v1/") else tenant.bearer("test")["Authorization"]

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case):
            case.headers = {**(case.headers or {}), "Authorization": auth}
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

        fuzz()
