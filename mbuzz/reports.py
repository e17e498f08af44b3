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


def attribution_report(conn, account_id: str, model: str, start: date, end: date, group_by: str = "channel",
                       environment: str = "live", channel: str | None = None) -> list[ReportRow]:
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
          and day >= %(start)s and day <= %(end)s {channel_filter}
        group by {", ".join(str(i + 1) for i in range(len(dims)))}
        order by {len(dims) + 1} desc, 1
        """,
        {"account_id": account_id, "model": model, "environment": environment, "start": start, "end": end,
         "channel": channel},
    ).fetchall()
    return [ReportRow(dict(zip(dims, r[: len(dims)])), r[-3], r[-2], r[-1]) for r in rows]


def models_in_reports(conn, account_id: str, environment: str = "live") -> list[str]:
    rows = conn.execute(
        "select distinct model from marts.channel_attribution_daily where account_id = %s and environment = %s order by 1",
        (account_id, environment),
    ).fetchall()
    return [r[0] for r in rows]


def model_comparison(conn, account_id: str, start: date, end: date, environment: str = "live") -> dict[str, dict[str, float]]:
    """{channel: {model: credited conversions}} for every model, side by side."""
    rows = conn.execute(
        """
        select channel, model, sum(conversions)::float8
        from marts.channel_attribution_daily
        where account_id = %s and environment = %s and day >= %s and day <= %s
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
    rows = conn.execute(
        """
        select channel, sum(amount)::float8
        from raw.ad_spend
        where account_id = %s and environment = %s and day >= %s and day <= %s
        group by channel
        """,
        (account_id, environment, start, end),
    ).fetchall()
    return dict(rows)


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


def channel_intervals(conn, account_id: str, model: str, start: date, end: date,
                      environment: str = "live", level: float = 0.95) -> dict[str, ChannelInterval]:
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
        out[channel] = ChannelInterval(float(np.asarray(c_lo)), float(np.asarray(c_hi)),
                                       float(np.asarray(r_lo)), float(np.asarray(r_hi)), None)
    return out
