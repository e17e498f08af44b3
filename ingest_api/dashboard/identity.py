"""The Identity page: how many conversions matched a session and how many sessions are stitched to
a known user, per day (marts.rpt_identity_match_daily through `mbuzz.reports.identity_match`)."""

from __future__ import annotations

from flask import g, request

from ingest_api.dashboard import charts, copy
from ingest_api.dashboard.base import bp, date_range, login_required, render, unscoped
from mbuzz import reports


@bp.get("/identity")
@login_required
def identity():
    start, end, errors = date_range(default_days=30)
    environment = request.args.get("env") if request.args.get("env") in ("test", "live") else "live"
    with unscoped() as conn:  # marts are not the API role's: the query filters by account
        days = reports.identity_match(conn, g.account_id, start, end, environment)
    dates = [d.day for d in days]
    return render(
        "identity.html",
        start=start,
        end=end,
        range_errors=errors,
        environment=environment,
        days=days,
        totals=reports.identity_totals(days),
        conversion_chart=charts.daily_columns(
            dates,
            {
                copy.IDENTITY_MATCHED: [d.matched_conversions for d in days],
                copy.IDENTITY_UNMATCHED: [d.conversions - d.matched_conversions for d in days],
            },
            copy.IDENTITY_CONVERSION_CHART,
        )
        if days
        else None,
        session_chart=charts.daily_columns(
            dates,
            {
                copy.IDENTITY_STITCHED: [d.stitched_sessions for d in days],
                copy.IDENTITY_ANONYMOUS: [d.sessions - d.stitched_sessions for d in days],
            },
            copy.IDENTITY_SESSION_CHART,
        )
        if days
        else None,
    )
