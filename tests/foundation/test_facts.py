"""One home for each fact: where SQL, YAML and Python must say the same thing, they do.

Each test names the fact's home and the copies that must agree with it (docs/architecture.md,
"One place for each fact").
"""

from __future__ import annotations

import ast
import json
import re

import pandas as pd
import pytest
import yaml

from mbuzz.paths import DBT_PROJECT_FILE, PROJECT_DIR, SEEDS_DIR

PACKAGES = ("mbuzz", "ingest_api", "orchestration", "attribution", "dsl")


@pytest.fixture(scope="module")
def manifest(dbt_target) -> dict:
    """dbt's own reading of the project (`dbt parse`)."""
    return json.loads((dbt_target / "manifest.json").read_text())


# -- event types ------------------------------------------------------------------------------


def _raw_events(types: list[str]) -> pd.DataFrame:
    now = pd.Timestamp.now(tz="UTC") - pd.Timedelta("1 hour")
    return pd.DataFrame(
        {
            "account_id": "acct_1",
            "event_id": [f"e{i}" for i in range(len(types))],
            "environment": "live",
            "event_type": types,
            "visitor_id": "vis_1",
            "occurred_at": now,
            "received_at": now,
            "size_bytes": 40,
        }
    )


def test_event_types_the_api_stores_pass_the_raw_events_suite():
    """The API's rule (docs/api/openapi.yml) accepts dotted, dashed and digit-first slugs; so must the
    Great Expectations suite on raw events (it once required `^[a-z][a-z0-9_]{0,63}$`)."""
    from jsonschema import Draft202012Validator

    from mbuzz.contract import schema
    from orchestration.checks import known_event_types
    from orchestration.quality import raw_events_suite

    custom = ["checkout.completed", "sign-up", "1st_visit", "a" * 64]
    api = Draft202012Validator(schema("Event")["properties"]["event_type"])
    assert all(api.is_valid(t) for t in custom)
    # mostly standard types (the suite expects ≥ 90 %), and the custom ones above
    result = raw_events_suite(_raw_events(["page_view"] * 40 + custom), event_types=known_event_types())
    assert result.success, result.failed


@pytest.mark.parametrize("bad", ["Page View", "page__view", "a" * 65])
def test_an_event_type_the_api_refuses_fails_the_suite(bad):
    from jsonschema import Draft202012Validator

    from mbuzz.contract import schema
    from orchestration.checks import known_event_types
    from orchestration.quality import raw_events_suite

    assert not Draft202012Validator(schema("Event")["properties"]["event_type"]).is_valid(bad)
    result = raw_events_suite(_raw_events(["page_view"] * 40 + [bad]), event_types=known_event_types())
    assert not result.success
    assert any("event_type" in failed for failed in result.failed)


def test_known_event_types_are_the_types_raw_events_holds():
    """Every type the Segment paths store is known; Segment's call names (`screen`, `track`) are not stored."""
    from ingest_api.segment import EVENT_TYPES
    from mbuzz.sessions import warehouse_settings
    from orchestration.checks import known_event_types

    known = known_event_types()
    assert {t for t in EVENT_TYPES.values() if t is not None} <= set(known)
    assert {"page_view", "screen_view", "identify", "alias", "group"} <= set(known)
    assert set(warehouse_settings().milestone_types) <= set(known)
    assert not {"screen", "track", "page"} & set(known)


@pytest.mark.parametrize(
    "kind", ["closed_won", "store.purchase", "demo-request", "1st_order", "a" * 64, "Won Deal", "a" * 65]
)
def test_offline_conversion_types_follow_the_apis_rule(kind):
    """An offline upload (mbuzz/offline_conversions.py) accepts a conversion_type exactly when
    `POST /api/v1/conversions` does (docs/api/openapi.yml, ConversionRequest.conversion_type)."""
    from datetime import datetime, timezone

    from jsonschema import Draft202012Validator

    from mbuzz.contract import schema
    from mbuzz.offline_conversions import validate

    api = Draft202012Validator(schema("ConversionRequest")["properties"]["conversion_type"]).is_valid(kind.lower())
    now = datetime(2026, 11, 20, tzinfo=timezone.utc)
    _, errors = validate(
        {"external_id": "x1", "conversion_type": kind, "timestamp": "2026-11-19T10:00:00Z", "user_id": "u1"}, now
    )
    assert api == (not any(e.startswith("conversion_type:") for e in errors))


# -- freshness ----------------------------------------------------------------------------------


def test_raw_events_freshness_is_dbts(manifest):
    """The Dagster check's thresholds are dbt's source freshness of raw.events, as dbt parses it."""
    from orchestration.checks import raw_events_freshness

    freshness = manifest["sources"]["source.mbuzz.raw.events"]["freshness"]
    hours = {"minute": 1 / 60, "hour": 1, "day": 24}
    expected = tuple(freshness[k]["count"] * hours[freshness[k]["period"]] for k in ("warn_after", "error_after"))
    assert raw_events_freshness() == expected


def test_freshness_check_warns_then_errors_as_dbt_does():
    import dagster as dg

    from orchestration.checks import freshness_result, raw_events_freshness

    warn_after, error_after = raw_events_freshness()
    assert freshness_result("t", warn_after / 2).passed
    late = freshness_result("t", (warn_after + error_after) / 2)
    assert not late.passed and late.severity == dg.AssetCheckSeverity.WARN
    stale = freshness_result("t", error_after + 1)
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.ERROR
    assert not freshness_result(None, None).passed


# -- journey defaults ---------------------------------------------------------------------------


def test_lookback_default_is_one_fact():
    from click.testing import CliRunner

    from attribution.journeys import DEFAULT_LOOKBACK_DAYS, JourneyOptions
    from attribution.sql import compile_sql
    from mbuzz.cli import cli
    from mbuzz.sessions import WarehouseSettings, warehouse_settings

    dbt_vars = yaml.safe_load(DBT_PROJECT_FILE.read_text())["vars"]
    assert dbt_vars["mbuzz__lookback_days"] == DEFAULT_LOOKBACK_DAYS
    assert JourneyOptions().lookback_days == DEFAULT_LOOKBACK_DAYS
    assert WarehouseSettings().lookback_days == warehouse_settings().lookback_days == DEFAULT_LOOKBACK_DAYS
    assert compile_sql.__defaults__[0] == DEFAULT_LOOKBACK_DAYS
    help_text = CliRunner().invoke(cli, ["attribute", "--help"]).output
    assert f"default {DEFAULT_LOOKBACK_DAYS};" in " ".join(help_text.split())


def test_impression_lookback_default_is_one_fact():
    from attribution.journeys import DEFAULT_IMPRESSION_LOOKBACK_DAYS, JourneyOptions

    dbt_vars = yaml.safe_load(DBT_PROJECT_FILE.read_text())["vars"]
    assert dbt_vars["mbuzz__impression_lookback_days"] == DEFAULT_IMPRESSION_LOOKBACK_DAYS
    assert JourneyOptions().impression_lookback_days == DEFAULT_IMPRESSION_LOOKBACK_DAYS


# -- channel rules ------------------------------------------------------------------------------


def test_click_id_names_are_the_seeds():
    """click_ids.csv is the home; the dbt macro click_id_names() and mbuzz.channels repeat it in order."""
    import csv

    from mbuzz.channels import CLICK_ID_NAMES, load_rules

    with open(SEEDS_DIR / "click_ids.csv", newline="") as handle:
        seed = [row["click_id"] for row in csv.DictReader(handle)]
    macro = (PROJECT_DIR / "dbt_project" / "macros" / "vars.sql").read_text()
    listed = re.search(r"macro click_id_names\(\).*?return\(\[(.*?)\]\)", macro, re.S).group(1)
    assert [name.strip(" '\"") for name in listed.split(",")] == seed
    assert list(CLICK_ID_NAMES) == seed
    assert {c for c, _, _ in load_rules().click_ids} == set(seed)


# -- the dbt selector of the credits models -----------------------------------------------------


def test_credit_models_are_the_models_downstream_of_the_credits(manifest):
    """`tag:credits` (orchestration/assets/dbt.py) selects exactly the models that read the
    attribution source, directly or through another model: they must run after attribution."""
    from orchestration.assets.dbt import CREDIT_MODELS

    assert CREDIT_MODELS == "tag:credits"
    nodes = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    downstream: set[str] = set()
    changed = True
    while changed:
        changed = False
        for key, node in nodes.items():
            parents = node["depends_on"]["nodes"]
            if key not in downstream and any(
                p.startswith("source.mbuzz.attribution.") or p in downstream for p in parents
            ):
                downstream.add(key)
                changed = True
    tagged = {k for k, v in nodes.items() if "credits" in v["tags"]}
    assert downstream and tagged == downstream


# -- where the code reads its environment and its files ------------------------------------------


def _python_files():
    for package in PACKAGES:
        yield from (PROJECT_DIR / package).rglob("*.py")


def test_environment_variables_are_read_only_in_settings():
    """mbuzz/settings.py is the one reader of environment variables (writes, for child processes, are fine)."""
    allowed = {"mbuzz/settings.py", "mbuzz/warehouse.py"}  # run_dbt saves and restores what it sets
    readers = []
    for path in _python_files():
        rel = path.relative_to(PROJECT_DIR).as_posix()
        if rel in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            text = ast.unparse(node) if isinstance(node, (ast.Call, ast.Subscript)) else ""
            reads = (isinstance(node, ast.Call) and re.match(r"os\.(environ\.get|getenv)\(", text)) or (
                isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and text.startswith("os.environ[")
            )
            if reads:
                readers.append(f"{rel}:{node.lineno}: {text}")
    assert readers == []


def test_repository_paths_are_computed_once():
    """mbuzz/paths.py computes the repository's paths; nobody else climbs out of its package."""
    climbers = [
        f"{p.relative_to(PROJECT_DIR)}"
        for p in _python_files()
        if p.relative_to(PROJECT_DIR).as_posix() != "mbuzz/paths.py"
        and re.search(r"__file__\)?\.resolve\(\)\.parent\.parent|parents\[1\]", p.read_text())
    ]
    assert climbers == []


# -- the layers ---------------------------------------------------------------------------------

TOP_LAYER = {"mbuzz.cli", "mbuzz.pipeline", "mbuzz.demo"}


def test_every_mbuzz_module_has_a_layer():
    """mbuzz/ holds the top layer and the services (pyproject.toml, [tool.importlinter]): every module
    of it is in one of the two, so the services contract covers a new service as soon as it exists."""
    import tomllib

    contracts = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (services,) = [c for c in contracts if c["name"].startswith("The services in mbuzz/")]
    assert set(services["forbidden_modules"]) >= TOP_LAYER
    modules = {
        f"mbuzz.{p.stem if p.is_file() else p.name}"
        for p in (PROJECT_DIR / "mbuzz").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    assert modules - TOP_LAYER - set(services["source_modules"]) == set()
    assert set(services["source_modules"]) <= modules


def test_the_bulk_loaders_columns_are_the_raw_tables():
    """The fixtures' and benchmarks' column lists (mbuzz/db/landing.py) name columns of the raw tables."""
    from mbuzz.db.landing import BULK_CONVERSION_COLUMNS, BULK_EVENT_COLUMNS
    from mbuzz.db.models import Conversion, Event

    assert set(BULK_EVENT_COLUMNS) <= set(Event.__table__.columns.keys())
    assert set(BULK_CONVERSION_COLUMNS) <= set(Conversion.__table__.columns.keys())
    assert len(set(BULK_EVENT_COLUMNS)) == len(BULK_EVENT_COLUMNS)
