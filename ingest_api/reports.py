"""GET /api/v1/attribution: credited conversions per channel / source / campaign, from the aggregates.

The query is mbuzz/reports.py's `attribution_report` (the one copy the dashboard and the demo
use too). Before the pipeline has built the aggregates the tables do not exist: 200 with no
rows and a hint. The model must be a preset, a data-driven model or one of the account's
custom models (by id or name); otherwise 422 listing the valid ones. `ci=true` adds each
channel's 95% bootstrap interval (stored with the runs, attribution/intervals.py).
"""

from __future__ import annotations

from datetime import date

import psycopg
from flask import Blueprint, g, request

from ingest_api.auth import authenticated
from ingest_api.errors import ApiError
from ingest_api.warehouse_reads import warehouse_reads
from mbuzz import models_service
from mbuzz.reports import (
    NO_INTERVAL,
    TREND_BUCKETS,
    attribution_report,
    channel_intervals,
    channel_trend,
    comparison_view,
    cost_per_conversion,
    roas,
    spend_by_channel,
)

bp = Blueprint("reports", __name__, url_prefix="/api/v1")
NOT_BUILT = "no attribution results yet: run the pipeline (`mbuzz pipeline run`) to build them"
NO_ROWS = "no credited conversions for this model, environment and period"


def _day(name: str) -> date:
    try:
        return date.fromisoformat(request.args[name])
    except ValueError:
        raise ApiError(f"{name}: must be a date as YYYY-MM-DD", status=422) from None


def _report_model(account_id: str, wanted: str) -> str:
    """The model id a report reads for the `model` parameter (a preset or the account's custom model),
    or a 422 that lists the valid names."""
    valid = models_service.report_models(g.db, account_id)
    model = valid.get(wanted)
    if model is None:
        raise ApiError(
            f"model: unknown model {wanted!r}; use one of {', '.join(valid)}",
            status=422,
            details={"valid_models": list(valid)},
        )
    return model


def _read_marts(query, *args, empty):
    """(query(conn, *args), None) under the request's login role; (empty, NOT_BUILT) before the
    warehouse has been built."""
    try:
        with warehouse_reads(g.db) as conn:
            return query(conn, *args), None
    except psycopg.errors.UndefinedTable:
        return empty, NOT_BUILT


@bp.get("/attribution")
@authenticated()
def report():
    account_id = g.principal.account_id
    start, end = _day("from"), _day("to")
    if start > end:
        raise ApiError("from: must not be after to", status=422)
    group_by = request.args.get("group_by", "channel")
    ci = request.args.get("ci", "false")
    if ci not in ("true", "false"):
        raise ApiError("ci: must be true or false", status=422)
    if ci == "true" and group_by != "channel":
        raise ApiError("ci: intervals are per channel; use group_by=channel with ci=true", status=422)
    environment = request.args.get("environment") or g.principal.environment
    wanted = request.args["model"]
    model = _report_model(account_id, wanted)
    rows, hint = _read_marts(attribution_report, account_id, model, start, end, group_by, environment, empty=[])
    total = sum(r.conversions for r in rows)
    out_rows = [
        {
            **r.key,
            "conversions": r.conversions,
            "revenue": r.revenue,
            "touches": int(r.touches),
            "share": r.conversions / total if total else 0.0,
        }
        for r in rows
    ]
    totals = {"conversions": total, "revenue": sum(r.revenue for r in rows)}
    if group_by == "channel":
        _add_spend(out_rows, totals, spend_by_channel(g.db, account_id, start, end, environment))
    if ci == "true":
        intervals = {}
        if hint is None:
            with warehouse_reads(g.db) as conn:
                intervals = channel_intervals(conn, account_id, model, start, end, environment)
        _add_intervals(out_rows, intervals)
    if not out_rows and hint is None:
        hint = NO_ROWS
    return {
        "model": wanted,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "group_by": group_by,
        "environment": environment,
        "rows": out_rows,
        "totals": totals,
        "hint": hint,
    }


def _range() -> tuple[date, date]:
    start, end = _day("from"), _day("to")
    if start > end:
        raise ApiError("from: must not be after to", status=422)
    return start, end


@bp.get("/attribution/comparison")
@authenticated()
def comparison():
    """Every model side by side per channel (share of each model's credited conversions), the spread across
    models, the models at each end and notes on the largest disagreements (mbuzz.reports.comparison_view)."""
    account_id = g.principal.account_id
    start, end = _range()
    environment = request.args.get("environment") or g.principal.environment
    names = {model_id: name for name, model_id in models_service.report_models(g.db, account_id).items()}
    view, hint = _read_marts(
        comparison_view, account_id, start, end, environment, empty={"models": [], "rows": [], "notes": []}
    )
    if not view["rows"] and hint is None:
        hint = NO_ROWS
    label = lambda m: names.get(m, m)  # noqa: E731  custom models by their name
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "environment": environment,
        "models": [label(m) for m in view["models"]],
        "channels": [
            {
                "channel": d.channel,
                "shares": {label(m): s for m, s in d.shares.items()},
                "spread": d.spread,
                "ratio": d.ratio,
                "std": d.std,
                "high": label(d.high),
                "low": label(d.low),
            }
            for d in view["rows"]
        ],
        "notes": view["notes"],
        "hint": hint,
    }


@bp.get("/attribution/trend")
@authenticated()
def trend():
    """Credited conversions and revenue per channel per day or week for one model (the daily aggregate)."""
    account_id = g.principal.account_id
    start, end = _range()
    bucket = request.args.get("bucket", "day")
    if bucket not in TREND_BUCKETS:
        raise ApiError(f"bucket: must be one of {', '.join(TREND_BUCKETS)}", status=422)
    environment = request.args.get("environment") or g.principal.environment
    wanted = request.args.get("model")
    if not wanted:
        raise ApiError("model: required", status=422)
    model = _report_model(account_id, wanted)
    points, hint = _read_marts(channel_trend, account_id, model, start, end, bucket, environment, empty=[])
    if not points and hint is None:
        hint = NO_ROWS
    return {
        "model": wanted,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "bucket": bucket,
        "environment": environment,
        "rows": [
            {"period": p.period.isoformat(), "channel": p.channel, "conversions": p.conversions, "revenue": p.revenue}
            for p in points
        ],
        "hint": hint,
    }


def _add_spend(rows: list[dict], totals: dict, spend: dict[str, float]) -> None:
    """Spend, ROAS and cost per conversion on channel rows; a channel with spend and no credit
    is a row too (all cost, no return)."""
    seen = {row["channel"] for row in rows}
    rows.extend(
        {"channel": channel, "conversions": 0.0, "revenue": 0.0, "touches": 0, "share": 0.0}
        for channel in sorted(spend)
        if channel not in seen
    )
    for row in rows:
        cost = spend.get(row["channel"])
        row["spend"] = cost
        row["roas"] = roas(row["revenue"], cost)
        row["cost_per_conversion"] = cost_per_conversion(cost, row["conversions"])
    totals["spend"] = sum(spend.values())


def _add_intervals(rows: list[dict], intervals: dict) -> None:
    """conversions_lower/upper, revenue_lower/upper (95%) on each channel row; null, with
    `ci_reason`, where there is no interval."""
    for row in rows:
        found = intervals.get(row["channel"])
        if found is None:
            reason = NO_INTERVAL if row["conversions"] else "no credited conversions: nothing to put an interval on"
            row.update(
                conversions_lower=None, conversions_upper=None, revenue_lower=None, revenue_upper=None, ci_reason=reason
            )
            continue
        row.update(
            conversions_lower=found.conversions_lower,
            conversions_upper=found.conversions_upper,
            revenue_lower=found.revenue_lower,
            revenue_upper=found.revenue_upper,
            ci_reason=found.reason,
        )


def init_app(app) -> None:
    app.register_blueprint(bp)
