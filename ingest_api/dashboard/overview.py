"""The overview: recent events (paged, filtered by type), UTM top 10, events per day and per key."""

from __future__ import annotations

from flask import g, request

from ingest_api.dashboard import charts, copy
from ingest_api.dashboard.base import bp, date_range, int_arg, login_required, render, scoped
from mbuzz import usage
from mbuzz.accounts import list_keys

PER_PAGE = 25


@bp.get("/")
@login_required
def overview():
    start, end, range_errors = date_range()
    event_type = request.args.get("type") or None
    environment = request.args.get("env") if request.args.get("env") in ("test", "live") else None
    page = int_arg("page", 1)
    with scoped() as conn:
        events = usage.recent_events(conn, g.account_id, page, PER_PAGE, event_type, environment)
        types = usage.event_types(conn, g.account_id)
        totals = usage.event_totals(conn, g.account_id)
        utm = usage.utm_breakdown(conn, g.account_id, start, end)
        daily = usage.events_per_day(conn, g.account_id, start, end)
        per_key = usage.events_per_key(conn, g.account_id, start, end)
        keys = {k.id: k for k in list_keys(conn, g.account_id)}
    if event_type and event_type not in types:
        types = sorted({*types, event_type})
    return render(
        "overview.html",
        start=start,
        end=end,
        range_errors=range_errors,
        events=events,
        types=types,
        event_type=event_type,
        environment=environment,
        totals=totals,
        utm=utm,
        daily=daily,
        per_key=per_key,
        keys=keys,
        usage_chart=charts.daily_columns(
            daily.days, {copy.COL_LIVE: daily.live, copy.COL_TEST: daily.test}, copy.USAGE_CHART
        )
        if daily.total
        else None,
    )
