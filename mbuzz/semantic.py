"""The semantic layer (dbt_project/models/semantic): MetricFlow metrics, scoped to one account.

MetricFlow runs its SQL as the warehouse's owner login, which sees every tenant; `query_metrics`
always adds the account (and environment) filter, so an answer never mixes accounts:

    from mbuzz.semantic import query_metrics
    answer = query_metrics("acct_…", ["roas"], ["channel", "model__name"], model="markov",
                           start=date(2026, 11, 6))
    answer.columns, answer.rows, answer.note     # note: why an answer is empty, what to do

MetricFlow's where filters are SQL text (it has no bound parameters): every value placed in one
(account, environment, model) is checked against a strict pattern first and then quoted.
The semantic manifest is the one `mbuzz warehouse parse` (or any dbt run) writes under the dbt
target folder; the adapter is dbt's `postgres` one, also on a TimescaleDB server (the semantic
models read plain views).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from mbuzz.errors import MbuzzError

METRICS = ("credited_conversions", "attributed_revenue", "spend", "roas", "cost_per_conversion", "touch_count")
_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")  # model names as the credits store them
ENVIRONMENTS = ("live", "test")


class MetricsError(MbuzzError):
    """A metric query that cannot run (unknown metric or dimension, missing manifest)."""


@dataclass(frozen=True)
class MetricsAnswer:
    columns: list[str]
    rows: list[tuple]
    sql: str = ""
    note: str | None = None
    models: list[str] = field(default_factory=list)  # the account's models with credits

    def as_dicts(self) -> list[dict]:
        return [dict(zip(self.columns, row)) for row in self.rows]


def scope_filters(account_id: str, environment: str = "live", model: str | None = None) -> list[str]:
    """The where filters that keep a query to one account (and environment, and model)."""
    if not _ACCOUNT.match(account_id or ""):
        raise MetricsError(f"not an account id: {account_id!r} (list accounts with `mbuzz accounts list`)")
    if environment not in ENVIRONMENTS:
        raise MetricsError(f"environment must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}")
    filters = [
        f"{{{{ Dimension('attribution__account_id') }}}} = '{account_id}'",
        f"{{{{ Dimension('attribution__environment') }}}} = '{environment}'",
    ]
    if model is not None:
        if not _NAME.match(model):
            raise MetricsError(f"not a model name: {model!r} (letters, digits, _ . -)")
        filters.append(f"{{{{ Dimension('model__name') }}}} = '{model}'")
    return filters


def account_models(conn, account_id: str, environment: str = "live") -> list[str]:
    rows = conn.execute(
        "select distinct model from marts.channel_attribution_daily "
        "where account_id = %s and environment = %s order by model",
        (account_id, environment),
    ).fetchall()
    return [r[0] for r in rows]


def _engine(target_path: str | Path | None):
    """A MetricFlow engine over the semantic manifest of `target_path` and dbt's postgres adapter."""
    from dbt.adapters.factory import get_adapter_by_type
    from dbt_metricflow.cli.dbt_connectors.adapter_backed_client import AdapterBackedSqlClient
    from dbt_metricflow.cli.dbt_connectors.dbt_config_accessor import dbtProjectMetadata
    from metricflow.engine.metricflow_engine import MetricFlowEngine
    from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
    from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

    from mbuzz.paths import PROFILES_DIR, PROJECT_DIR
    from mbuzz.warehouse import dbt_env, dbt_environment, target_dir

    manifest_path = Path(target_path or target_dir()) / "semantic_manifest.json"
    if not manifest_path.exists():
        raise MetricsError(f"no semantic manifest at {manifest_path}: run `mbuzz warehouse parse` first")
    manifest = parse_manifest_from_dbt_generated_manifest(manifest_json_string=manifest_path.read_text())
    # MetricFlow knows dbt's postgres adapter, not the timescaledb one (the semantic views are plain SQL)
    with dbt_environment(dbt_env(target="postgres")):
        metadata = dbtProjectMetadata.load_from_paths(profiles_path=PROFILES_DIR, project_path=PROJECT_DIR)
        adapter = get_adapter_by_type(metadata.profile.credentials.type)
    return MetricFlowEngine(
        semantic_manifest_lookup=SemanticManifestLookup(manifest), sql_client=AdapterBackedSqlClient(adapter)
    )


def query_metrics(
    account_id: str,
    metrics: Sequence[str],
    group_by: Sequence[str] = (),
    *,
    model: str | None = None,
    environment: str = "live",
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    where: Sequence[str] = (),
    order: Sequence[str] = (),
    limit: int | None = None,
    target_path: str | Path | None = None,
) -> MetricsAnswer:
    """One MetricFlow query for one account. `where` adds MetricFlow filters (SQL with
    `{{ Dimension('…') }}`) to the account's; `start`/`end` bound metric_time (inclusive days).
    An empty answer carries a note (for a model: which models the account has)."""
    import psycopg

    from mbuzz.accounts import get_account
    from mbuzz.db import database_url

    unknown = [m for m in metrics if m not in METRICS]
    if not metrics or unknown:
        raise MetricsError(f"unknown metric {', '.join(unknown) or '(none)'}: use {', '.join(METRICS)}")
    filters = scope_filters(account_id, environment, model)
    with psycopg.connect(database_url(), autocommit=True) as conn:
        get_account(conn, account_id)  # NotFound: an unknown account is an error, not an empty answer
        models = account_models(conn, account_id, environment)

    from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

    def moment(value):
        return value if value is None or isinstance(value, datetime) else datetime(value.year, value.month, value.day)

    request = MetricFlowQueryRequest.create(
        metric_names=list(metrics),
        group_by_names=list(group_by) or None,
        limit=limit,
        time_constraint_start=moment(start),
        time_constraint_end=moment(end),
        where_constraints=[*filters, *where],
        order_by_names=list(order) or None,
    )
    try:
        result = _engine(target_path).query(mf_request=request)
    except MbuzzError:
        raise
    except Exception as exc:  # MetricFlow's own: an unknown dimension, a bad filter
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MetricsError(
            f"MetricFlow could not answer: {first} (list dimensions with `mf list dimensions --metrics …`)"
        ) from exc
    table = result.result_df
    columns = list(table.column_names) if table is not None else []
    rows = [tuple(row) for row in table.rows] if table is not None else []
    # without a group-by MetricFlow answers one row of nulls for nothing: that is no answer either
    values = [columns.index(m) for m in metrics if m in columns]
    if all(row[i] is None for row in rows for i in values):
        rows = []
    note = None
    if not rows:
        if model is not None and model not in models:
            have = ", ".join(models) or "none yet (run the pipeline: `mbuzz pipeline run`)"
            note = f"account {account_id} has no credits under model {model!r}; its models: {have}"
        else:
            note = f"no rows for account {account_id} ({environment}) in this window"
    return MetricsAnswer(columns, rows, result.sql, note, models)
