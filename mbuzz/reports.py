"""Attribution reports, answered from the daily aggregates.

The one copy of the report queries: the API (`GET /attribution`), the dashboard,
the demo's terminal table and its HTML report all call these functions. Every
query is scoped by account and bound with parameters.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

GROUPINGS = {
    # group_by -> (relation, dimension columns)
    "channel": ("marts.channel_attribution_daily", ("channel",)),
    "source": ("marts.source_attribution_daily", ("utm_source", "utm_medium")),
    "campaign": ("marts.source_attribution_daily", ("utm_source", "utm_medium", "utm_campaign")),
}


@dataclass(frozen=True)
class ReportRow:
    key: dict
    conversions: float
    revenue: float
    touches: int


# The account's local day of an aggregate row (docs/money.md, "Local days"): the credits' local_day,
# else (credits written before it existed) the UTC day of the bucket, whatever the session's time zone.
LOCAL_DAY = "coalesce(local_day, (day::timestamptz at time zone 'UTC')::date)"


def attribution_report(
    conn,
    account_id: str,
    model: str,
    start: date,
    end: date,
    group_by: str = "channel",
    environment: str = "live",
    channel: str | None = None,
) -> list[ReportRow]:
    """Credited conversions and revenue per group over [start, end] (days, inclusive).

    With `channel` (and group_by source or campaign): only that channel's credited touches,
    the drill-down channel → campaigns (the source aggregate carries the channel)."""
    if group_by not in GROUPINGS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)}")
    relation, dims = GROUPINGS[group_by]
    channel_filter = "and channel = %(channel)s" if channel else ""
    # identifiers come from the constant table above; values are bound
    dim_sql = ", ".join(f"coalesce({d}, '(none)') as {d}" for d in dims)
    rows = conn.execute(
        f"""
        select {dim_sql}, sum(conversions)::float8, sum(revenue)::float8, sum(touches)::bigint
        from {relation}
        where account_id = %(account_id)s and model = %(model)s and environment = %(environment)s
          and {LOCAL_DAY} >= %(start)s and {LOCAL_DAY} <= %(end)s {channel_filter}
        group by {", ".join(str(i + 1) for i in range(len(dims)))}
        order by {len(dims) + 1} desc, 1
        """,
        {
            "account_id": account_id,
            "model": model,
            "environment": environment,
            "start": start,
            "end": end,
            "channel": channel,
        },
    ).fetchall()
    return [ReportRow(dict(zip(dims, r[: len(dims)])), r[-3], r[-2], r[-1]) for r in rows]


def models_in_reports(conn, account_id: str, environment: str = "live") -> list[str]:
    rows = conn.execute(
        "select distinct model from marts.channel_attribution_daily where account_id = %s and environment = %s order by 1",
        (account_id, environment),
    ).fetchall()
    return [r[0] for r in rows]


def model_comparison(
    conn, account_id: str, start: date, end: date, environment: str = "live"
) -> dict[str, dict[str, float]]:
    """{channel: {model: credited conversions}} for every model, side by side."""
    rows = conn.execute(
        f"""
        select channel, model, sum(conversions)::float8
        from marts.channel_attribution_daily
        where account_id = %s and environment = %s and {LOCAL_DAY} >= %s and {LOCAL_DAY} <= %s
        group by 1, 2
        """,
        (account_id, environment, start, end),
    ).fetchall()
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for channel, model, conversions in rows:
        table[channel][model] = conversions
    return dict(table)


def spend_by_channel(conn, account_id: str, start: date, end: date, environment: str = "live") -> dict[str, float]:
    """{channel: spend} over [start, end] (days, inclusive), straight from raw.ad_spend: it needs no pipeline run."""
    # in the reporting currency with the day's rate, as stg_raw__ad_spend (dbt_project/macros/money.sql):
    # an amount without its rate is left out (a gap fx_gaps() reports), never counted at 1.0
    rows = conn.execute(
        """
        select s.channel,
               sum(case when s.amount = 0 or a.currency is null or upper(s.currency) = a.currency then s.amount
                        else s.amount * r.rate end)::float8
        from raw.ad_spend as s
        join (select id, upper(nullif(btrim(settings ->> 'currency'), '')) as currency from raw.accounts) as a
          on a.id = s.account_id
        left join raw.fx_rates as r
          on r.account_id = s.account_id and r.day = s.day and r.currency = upper(s.currency)
         and r.quote_currency = a.currency
        where s.account_id = %s and s.environment = %s and s.day >= %s and s.day <= %s
        group by s.channel
        """,
        (account_id, environment, start, end),
    ).fetchall()
    return dict(rows)


@dataclass(frozen=True)
class FxGap:
    currency: str
    reporting_currency: str
    day: date
    conversions: int
    spend_rows: int


def fx_gaps(conn, account_id: str, start: date, end: date, environment: str = "live") -> list[FxGap]:
    """The (currency, local day) pairs of [start, end] whose revenue or spend has no exchange rate
    (marts.rpt_fx_gaps; docs/money.md); [] before the warehouse was built."""
    if conn.execute("select to_regclass('marts.rpt_fx_gaps') is null").fetchone()[0]:
        return []
    rows = conn.execute(
        "select currency, reporting_currency, day, conversions, spend_rows from marts.rpt_fx_gaps "
        "where account_id = %s and environment = %s and day >= %s and day <= %s order by day, currency",
        (account_id, environment, start, end),
    ).fetchall()
    return [FxGap(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows]


def roas(revenue: float, spend: float | None) -> float | None:
    """Return on ad spend: credited revenue / spend; None without spend (as the ROAS marts)."""
    return revenue / spend if spend else None


def cost_per_conversion(spend: float | None, conversions: float) -> float | None:
    """Spend / credited conversions; None without spend or without conversions (as the ROAS marts)."""
    return spend / conversions if spend is not None and conversions else None


@dataclass(frozen=True)
class RoasRow:
    channel: str
    spend: float
    by_model: dict  # model -> (credited conversions, credited revenue)

    def roas(self, model: str) -> float | None:
        return roas(self.by_model.get(model, (0.0, 0.0))[1], self.spend)

    def cost_per_conversion(self, model: str) -> float | None:
        return cost_per_conversion(self.spend, self.by_model.get(model, (0.0, 0.0))[0])


def channel_roas(conn, account_id: str, start: date, end: date, environment: str = "live") -> list[RoasRow]:
    """The channels with spend in [start, end]: spend, and each model's credited conversions and
    revenue over the same days (marts.rpt_channel_roas), most spend first. Ratios are of sums."""
    rows = conn.execute(
        """
        select channel, model, sum(spend)::float8, sum(conversions)::float8, sum(revenue)::float8
        from marts.rpt_channel_roas
        where account_id = %s and environment = %s and day >= %s and day <= %s
          and channel in (
              select channel from marts.rpt_channel_roas
              where account_id = %s and environment = %s and day >= %s and day <= %s and spend > 0
          )
        group by 1, 2
        """,
        (account_id, environment, start, end, account_id, environment, start, end),
    ).fetchall()
    spend: dict[str, float] = {}
    by_channel: dict[str, dict] = defaultdict(dict)
    for channel, model, channel_spend, conversions, revenue in rows:
        spend[channel] = channel_spend  # the same for every model
        by_channel[channel][model] = (conversions, revenue)
    return sorted((RoasRow(c, spend[c], by_channel[c]) for c in by_channel), key=lambda r: (-r.spend, r.channel))


def removal_effects(conn, account_id: str) -> list[tuple[str, float, float]]:
    """(channel, removal effect, textbook total conversions) of the latest Markov run."""
    return conn.execute(
        """
        select channel, removal_effect, total_conversions
        from attribution.channel_summaries s
        where account_id = %(a)s and model = 'markov' and run_id = (
            select s2.run_id from attribution.channel_summaries s2
            join attribution.attribution_runs r using (run_id)
            where s2.account_id = %(a)s and s2.model = 'markov'
            order by r.started_at desc limit 1)
        order by removal_effect desc
        """,
        {"a": account_id},
    ).fetchall()


@dataclass(frozen=True)
class ChannelInterval:
    conversions_lower: float | None
    conversions_upper: float | None
    revenue_lower: float | None
    revenue_upper: float | None
    reason: str | None  # why there is no interval (None when there is one)


NO_INTERVAL = "no interval was computed for these days: re-run the attribution (`mbuzz pipeline run`)"


def channel_intervals(
    conn, account_id: str, model: str, start: date, end: date, environment: str = "live", level: float = 0.95
) -> dict[str, ChannelInterval]:
    """{channel: 95% interval} of a model's credited conversions and revenue over [start, end]
    (days, inclusive). Each day's intervals come from the newest succeeded run that wrote that
    day for the model; the days' resample totals are added replicate by replicate (Poisson
    bootstrap: disjoint journeys resample independently, attribution/intervals.py) and the
    percentiles taken of the sums. A channel gets no interval, with the reason, if any of its
    days has none."""
    import numpy as np

    from attribution.intervals import combine, percentile_bounds

    rows = conn.execute(
        """
        with latest as (
            select distinct on (i.day) i.day, i.run_id
            from attribution.credit_intervals i
            join attribution.attribution_runs r on r.run_id = i.run_id and r.status = 'succeeded'
            where i.account_id = %(a)s and i.model = %(m)s and i.environment = %(e)s
              and i.day >= %(start)s and i.day <= %(end)s
            order by i.day, r.started_at desc
        )
        select i.channel, i.day, i.conversions, i.revenue, i.conversion_samples, i.revenue_samples, i.reason
        from attribution.credit_intervals i
        join latest l on l.day = i.day and l.run_id = i.run_id
        where i.account_id = %(a)s and i.model = %(m)s and i.environment = %(e)s
        order by i.channel, i.day
        """,
        {"a": account_id, "m": model, "e": environment, "start": start, "end": end},
    ).fetchall()
    # a day without an interval (too few conversions in its run...) leaves the range without one
    reason = next((r[6] for r in rows if r[6]), None)
    by_channel: dict[str, list] = defaultdict(list)
    for row in rows:  # a day on which a channel got no credit adds 0 to each of its replicates
        by_channel[row[0]].append(row)
    out = {}
    for channel, parts in by_channel.items():
        _, conv = combine([(p[2], p[4]) for p in parts])
        _, rev = combine([(p[3], p[5]) for p in parts])
        if reason or conv is None or rev is None:
            out[channel] = ChannelInterval(None, None, None, None, reason or NO_INTERVAL)
            continue
        (c_lo, c_hi), (r_lo, r_hi) = percentile_bounds(conv, level), percentile_bounds(rev, level)
        out[channel] = ChannelInterval(
            float(np.asarray(c_lo)), float(np.asarray(c_hi)), float(np.asarray(r_lo)), float(np.asarray(r_hi)), None
        )
    return out


@dataclass(frozen=True)
class Disagreement:
    channel: str
    shares: dict  # model -> share of the model's credited conversions in the range
    spread: float  # max share − min share (share points as a fraction)
    ratio: float | None  # max share / min share; None when the lowest model gives the channel nothing
    std: float  # standard deviation of the shares across models
    high: str  # the model that gives the channel the largest share
    low: str  # the model that gives it the smallest


def comparison_view(
    conn, account_id: str, start: date, end: date, environment: str = "live", exclude: tuple[str, ...] = ()
) -> dict:
    """Every model side by side per channel as a share of that model's credited conversions over [start, end],
    the disagreement per channel (spread, max/min ratio, std, the models at each end), and plain-language
    notes on the largest disagreements. The "why" comes from the same aggregates: under first_touch a
    channel's credit counts the journeys it opened, under last_touch the ones it closed."""
    relation = GROUPINGS["channel"][0]  # a constant: identifiers are never user input
    rows = conn.execute(
        f"""
        select channel, model, sum(conversions)::float8
        from {relation}
        where account_id = %s and environment = %s and day >= %s and day <= %s
        group by 1, 2
        """,
        (account_id, environment, start, end),
    ).fetchall()
    totals: dict[str, float] = defaultdict(float)
    credited: dict[str, dict[str, float]] = defaultdict(dict)
    for channel, model, conversions in rows:
        if model in exclude:
            continue
        credited[channel][model] = conversions
        totals[model] += conversions
    models = sorted(m for m in totals if totals[m] > 0)
    channels = sorted(credited, key=lambda c: -max(credited[c].values(), default=0))
    out = []
    for channel in channels:
        shares = {m: credited[channel].get(m, 0.0) / totals[m] for m in models}
        if not shares:
            continue
        values = list(shares.values())
        high, low = max(shares, key=shares.get), min(shares, key=shares.get)
        mean = sum(values) / len(values)
        std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
        out.append(
            Disagreement(
                channel,
                shares,
                shares[high] - shares[low],
                shares[high] / shares[low] if shares[low] > 0 else None,
                std,
                high,
                low,
            )
        )
    ranked = sorted(out, key=lambda d: -d.spread)
    return {
        "models": models,
        "channels": [d.channel for d in out],
        "rows": out,
        "notes": [disagreement_note(d, credited[d.channel]) for d in ranked[:3] if d.spread >= 0.02],
    }


def disagreement_note(d: Disagreement, credited: dict[str, float]) -> str:
    """One sentence on a channel's disagreement and, from its first- vs last-touch credit, why."""
    if d.ratio is None:
        head = f"{d.high} gives `{d.channel}` {d.shares[d.high]:.0%} of its conversions, {d.low} gives it none"
    else:
        head = f"{d.high} gives `{d.channel}` {d.ratio:.1f}× what {d.low} does ({d.shares[d.high]:.0%} vs {d.shares[d.low]:.0%})"
    opened, closed = credited.get("first_touch"), credited.get("last_touch")
    why = ""
    if opened is not None and closed is not None and opened + closed > 0:
        closing = closed / (opened + closed)
        if closing >= 0.65:
            why = f": `{d.channel}` sessions close journeys that other channels opened ({closing:.0%} of its first- and last-touch credit is last touch)"
        elif closing <= 0.35:
            why = f": `{d.channel}` opens journeys that other channels close ({1 - closing:.0%} of its first- and last-touch credit is first touch)"
        else:
            why = (
                f": `{d.channel}` opens and closes journeys about equally, the models differ on the touches in between"
            )
    return head + why


TREND_BUCKETS = ("day", "week")


@dataclass(frozen=True)
class TrendPoint:
    period: date  # the day, or the Monday of the ISO week
    channel: str
    conversions: float
    revenue: float


def channel_trend(
    conn, account_id: str, model: str, start: date, end: date, bucket: str = "day", environment: str = "live"
) -> list[TrendPoint]:
    """Credited conversions and revenue per channel per local day (the account's time zone) or ISO week
    (Monday), oldest first, from the daily aggregate: no scan of the credits."""
    from datetime import datetime, timedelta, timezone

    if bucket not in TREND_BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(TREND_BUCKETS)}")
    relation = GROUPINGS["channel"][0]  # a constant: identifiers are never user input
    rows = conn.execute(
        f"""
        select {LOCAL_DAY}, channel, sum(conversions)::float8, sum(revenue)::float8
        from {relation}
        where account_id = %s and model = %s and environment = %s and {LOCAL_DAY} >= %s and {LOCAL_DAY} <= %s
        group by 1, 2
        """,
        (account_id, model, environment, start, end),
    ).fetchall()
    totals: dict[tuple[date, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for day, channel, conversions, revenue in rows:
        if isinstance(day, datetime):  # the aggregate's day is a timestamptz at UTC midnight
            day = day.astimezone(timezone.utc).date()
        period = day if bucket == "day" else day - timedelta(days=day.weekday())
        totals[(period, channel)][0] += conversions
        totals[(period, channel)][1] += revenue
    return [TrendPoint(period, channel, c, r) for (period, channel), (c, r) in sorted(totals.items())]


def trend_series(
    points: list[TrendPoint], start: date, end: date, bucket: str = "day", value: str = "conversions"
) -> tuple[list[date], dict[str, list[float]]]:
    """Every period of [start, end] (zeros where nothing was credited) and one series per channel."""
    from datetime import timedelta

    first = start if bucket == "day" else start - timedelta(days=start.weekday())
    stride = timedelta(days=1 if bucket == "day" else 7)
    periods = []
    while first <= end:
        periods.append(first)
        first += stride
    index = {p: i for i, p in enumerate(periods)}
    series: dict[str, list[float]] = {}
    for point in points:
        if point.period in index:
            series.setdefault(point.channel, [0.0] * len(periods))[index[point.period]] += getattr(point, value)
    ordered = sorted(series, key=lambda c: -sum(series[c]))
    return periods, {c: series[c] for c in ordered}


@dataclass(frozen=True)
class IdentityDay:
    day: date
    conversions: int
    matched_conversions: int
    sessions: int
    stitched_sessions: int

    @property
    def match_rate(self) -> float | None:
        return self.matched_conversions / self.conversions if self.conversions else None

    @property
    def stitch_rate(self) -> float | None:
        return self.stitched_sessions / self.sessions if self.sessions else None


def identity_match(conn, account_id: str, start: date, end: date, environment: str = "live") -> list[IdentityDay]:
    """Per day of [start, end], from marts.rpt_identity_match_daily: conversions matched to a session
    and sessions stitched to a known user ([] before the pipeline built the mart)."""
    if not conn.execute("select to_regclass('marts.rpt_identity_match_daily') is not null").fetchone()[0]:
        return []
    rows = conn.execute(
        "select day, conversions, matched_conversions, sessions, stitched_sessions "
        "from marts.rpt_identity_match_daily "
        "where account_id = %s and environment = %s and day between %s and %s order by day",
        (account_id, environment, start, end),
    ).fetchall()
    return [IdentityDay(*r) for r in rows]


def identity_totals(days: list[IdentityDay]) -> IdentityDay | None:
    """The days summed (rates of the sums, not means of the rates)."""
    if not days:
        return None
    return IdentityDay(
        days[-1].day,
        *(
            sum(getattr(d, f) for d in days)
            for f in ("conversions", "matched_conversions", "sessions", "stitched_sessions")
        ),
    )


@dataclass(frozen=True)
class ViewThroughRow:
    channel: str
    conversions: float  # credited conversions under the model, all touches
    view_through: float  # the part credited to impressions (ads seen, not clicked)

    @property
    def clicks(self) -> float:
        """The part credited to visits."""
        return self.conversions - self.view_through


def view_through(conn, account_id: str, model: str, environment: str = "live") -> list[ViewThroughRow]:
    """Per channel, over all time: the model's credited conversions and the part of them credited to
    impressions, a view-through conversion's (marts.rpt_channel_attribution; docs/impressions.md),
    the channels with any view-through credit first."""
    rows = conn.execute(
        """
        select channel, conversions::float8, view_through_conversions::float8
        from marts.rpt_channel_attribution
        where account_id = %s and environment = %s and model = %s
        order by 3 desc, 2 desc, 1
        """,
        (account_id, environment, model),
    ).fetchall()
    return [ViewThroughRow(*r) for r in rows]


def group_deals(conn, account_id: str, environment: str = "live") -> int:
    """The B2B deals: conversions with a company journey (marts.fct_group_conversion_journeys; docs/b2b.md)."""
    return conn.execute(
        """
        select count(distinct conversion_id) from marts.fct_group_conversion_journeys
        where account_id = %s and environment = %s and converted
        """,
        (account_id, environment),
    ).fetchone()[0]


def account_level_comparison(
    conn, account_id: str, models: tuple[str, ...], environment: str = "live"
) -> dict[str, dict[str, float]]:
    """{channel: {model: credited conversions}} over the B2B deals only (the conversions of
    marts.fct_group_conversion_journeys), all time: a `journey_by account` model, which credits the
    touches of every member of the company, beside person-level models, which credit the converter's."""
    rows = conn.execute(
        """
        select c.channel, c.model, sum(c.credit)::float8
        from marts.fct_attribution_credits as c
        where c.account_id = %(account_id)s and c.environment = %(environment)s and c.model = any(%(models)s)
          and c.conversion_id in (
              select g.conversion_id from marts.fct_group_conversion_journeys as g
              where g.account_id = %(account_id)s and g.environment = %(environment)s and g.converted
          )
        group by 1, 2
        """,
        {"account_id": account_id, "environment": environment, "models": list(models)},
    ).fetchall()
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for channel, model, conversions in rows:
        table[channel][model] = conversions
    return dict(table)
