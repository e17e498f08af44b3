"""The attribution report: model picker, date range, channel table + chart (with spend and ROAS
when ad spend was uploaded), the chosen model's trend per day or week (line charts), models side by
side, channel → campaign drill-down and Markov removal effects; the comparison page (where the models
disagree, and why) — all from `mbuzz.reports` (the daily aggregates and raw.ad_spend)."""

from __future__ import annotations

from flask import abort, g, request

from ingest_api.dashboard import charts, copy
from ingest_api.dashboard.base import bp, date_range, login_required, render, scoped, unscoped
from ingest_api.dashboard.modeling import model_names
from mbuzz import reports
from mbuzz.attribution_runs import skipped_models

DEFAULT_MODELS = ("linear", "last_touch", "first_touch")


def _aggregates_exist(conn) -> bool:
    return conn.execute("select to_regclass('marts.channel_attribution_daily') is not null").fetchone()[0]


def _context():
    """What every report page reads from the query string, and the models with results."""
    start, end, errors = date_range(default_days=90)
    environment = request.args.get("env") if request.args.get("env") in ("test", "live") else "live"
    with scoped() as conn:
        names = model_names(conn, g.account_id)
    with unscoped() as conn:  # marts and attribution are not the API role's: reports filter by account
        available = reports.models_in_reports(conn, g.account_id, environment) if _aggregates_exist(conn) else []
    wanted = request.args.get("model")
    model = (
        wanted
        if wanted in available
        else next((m for m in DEFAULT_MODELS if m in available), available[0] if available else None)
    )
    if wanted and model and wanted != model:
        errors.append(
            copy.REPORT_UNKNOWN_MODEL.format(model=names.get(wanted, wanted), fallback=names.get(model, model))
        )
        with unscoped() as conn:
            reason = skipped_models(conn, g.account_id).get(wanted)
        if reason:  # a data-driven model that could not run: say why, never a silent zero
            errors.append(copy.REPORT_SKIPPED.format(model=wanted, reason=reason))
    return {
        "start": start,
        "end": end,
        "range_errors": errors,
        "environment": environment,
        "models": available,
        "model": model,
        "names": names,
        "label": lambda m: names.get(m, m),
    }


@bp.get("/reports")
@login_required
def report():
    ctx = _context()
    model = ctx["model"]
    if model is None:
        return render(
            "report.html",
            **ctx,
            rows=[],
            comparison={},
            removal=[],
            spend={},
            spend_only=[],
            intervals={},
            interval_reason=None,
            fx_gaps=[],
        )
    with unscoped() as conn:
        rows = reports.attribution_report(
            conn, g.account_id, model, ctx["start"], ctx["end"], "channel", ctx["environment"]
        )
        comparison = reports.model_comparison(conn, g.account_id, ctx["start"], ctx["end"], ctx["environment"])
        removal = reports.removal_effects(conn, g.account_id) if model.startswith("markov") else []
        spend = reports.spend_by_channel(conn, g.account_id, ctx["start"], ctx["end"], ctx["environment"])
        intervals = reports.channel_intervals(conn, g.account_id, model, ctx["start"], ctx["end"], ctx["environment"])
        fx_gaps = reports.fx_gaps(conn, g.account_id, ctx["start"], ctx["end"], ctx["environment"])
    total = sum(r.conversions for r in rows) or 1.0
    channels = [r.key["channel"] for r in rows]
    bounds = [intervals.get(c) for c in channels]
    errors = [(b.conversions_lower, b.conversions_upper) if b and b.reason is None else None for b in bounds]
    interval_reason = next((b.reason for b in bounds if b and b.reason), None) if rows else None
    if rows and not intervals:
        interval_reason = reports.NO_INTERVAL
    bucket = (
        request.args.get("bucket")
        if request.args.get("bucket") in reports.TREND_BUCKETS
        else ("day" if (ctx["end"] - ctx["start"]).days <= 62 else "week")
    )
    trend_chart, trend_revenue_chart = _trend(ctx, model, bucket)
    compared = sorted({m for per in comparison.values() for m in per}, key=lambda m: (m not in DEFAULT_MODELS, m))
    compare_channels = sorted(comparison, key=lambda c: -max(comparison[c].values(), default=0))
    return render(
        "report.html",
        **ctx,
        rows=rows,
        total=total,
        removal=removal,
        intervals=intervals,
        interval_reason=interval_reason,
        spend=spend,
        fx_gaps=fx_gaps,
        roas=reports.roas,
        spend_only=sorted(set(spend) - {r.key["channel"] for r in rows}),
        comparison=comparison,
        compared=compared,
        compare_channels=compare_channels,
        bucket=bucket,
        trend_chart=trend_chart,
        trend_revenue_chart=trend_revenue_chart,
        chart=charts.bars(
            channels, [r.conversions for r in rows], copy.REPORT_CHART.format(model=ctx["label"](model)), errors=errors
        )
        if rows
        else None,
        compare_chart=charts.grouped_bars(
            compare_channels,
            {ctx["label"](m): [comparison[c].get(m, 0.0) for c in compare_channels] for m in compared},
            copy.REPORT_COMPARE_CHART,
        )
        if compared and compare_channels
        else None,
    )


def _trend(ctx: dict, model: str, bucket: str):
    """The chosen model's credited conversions and revenue per channel per day or week, as line charts."""
    with unscoped() as conn:
        points = reports.channel_trend(conn, g.account_id, model, ctx["start"], ctx["end"], bucket, ctx["environment"])
    if not points:
        return None, None
    charts_out = []
    for value, title in (("conversions", copy.REPORT_TREND_CHART), ("revenue", copy.REPORT_TREND_REVENUE_CHART)):
        periods, series = reports.trend_series(points, ctx["start"], ctx["end"], bucket, value)
        top = dict(list(series.items())[:8])  # the eight largest channels: a readable chart
        charts_out.append(
            charts.lines([p.isoformat() for p in periods], top, title.format(bucket=bucket, model=ctx["label"](model)))
        )
    return charts_out[0], charts_out[1]


@bp.get("/reports/compare")
@login_required
def compare():
    ctx = _context()
    view, skipped = {"models": [], "rows": [], "notes": []}, {}
    with unscoped() as conn:
        if _aggregates_exist(conn):
            view = reports.comparison_view(conn, g.account_id, ctx["start"], ctx["end"], ctx["environment"])
        skipped = skipped_models(conn, g.account_id)
    label = ctx["label"]
    chart = (
        charts.grouped_bars(
            [d.channel for d in view["rows"]],
            {label(m): [100 * d.shares[m] for d in view["rows"]] for m in view["models"]},
            copy.COMPARE_CHART,
        )
        if view["rows"]
        else None
    )
    return render("compare.html", **ctx, view=view, chart=chart, skipped=skipped)


@bp.get("/reports/campaigns")
@login_required
def campaigns():
    channel = (request.args.get("channel") or "").strip()
    if not channel or len(channel) > 200:
        abort(404)
    ctx = _context()
    rows = []
    if ctx["model"] is not None:
        with unscoped() as conn:
            rows = reports.attribution_report(
                conn,
                g.account_id,
                ctx["model"],
                ctx["start"],
                ctx["end"],
                "campaign",
                ctx["environment"],
                channel=channel,
            )
    total = sum(r.conversions for r in rows) or 1.0
    return render("campaigns.html", **ctx, channel=channel, rows=rows, total=total)
