"""Asset checks shown in the Dagster UI: attribution invariants, Great Expectations suites, freshness.

Blocking checks guard numbers users would read: a run whose credits break an
invariant fails before the marts and aggregates are rebuilt from them.
"""

from functools import lru_cache

import dagster as dg
import yaml
from dagster_dbt import get_asset_key_for_model

from mbuzz.paths import MODELS_DIR
from orchestration.assets.dbt import warehouse_models
from orchestration.partitions import run_window, window
from orchestration.resources import Warehouse

TOLERANCE = 1e-6
RAW_SOURCES = MODELS_DIR / "staging" / "_raw__sources.yml"
_HOURS = {"minute": 1 / 60, "hour": 1, "day": 24}

# The event types raw.events holds besides custom `track` names: what POST /api/v1/events and the
# Segment paths store (ingest_api/segment.py maps page → page_view, screen → screen_view, …) and
# the milestone types of dbt_project.yml (mbuzz__milestone_event_types).
STANDARD_EVENT_TYPES = ("page_view", "screen_view", "identify", "alias", "group")


def known_event_types() -> list[str]:
    """Standard event types; custom `track` names are fine as long as they stay a minority (see quality.py)."""
    from mbuzz.sessions import warehouse_settings

    return [*STANDARD_EVENT_TYPES, *(t for t in warehouse_settings().milestone_types if t not in STANDARD_EVENT_TYPES)]


@lru_cache(maxsize=1)
def raw_events_freshness() -> tuple[float, float]:
    """(warn, error) age in hours of raw.events' newest row: dbt's source freshness, whose one home
    is dbt_project/models/staging/_raw__sources.yml (`dbt source freshness` reads the same)."""
    sources = yaml.safe_load(RAW_SOURCES.read_text(encoding="utf-8"))["sources"]
    table = next(t for s in sources if s["name"] == "raw" for t in s["tables"] if t["name"] == "events")
    freshness = table["config"]["freshness"]
    return tuple(freshness[key]["count"] * _HOURS[freshness[key]["period"]] for key in ("warn_after", "error_after"))


CREDIT_INVARIANTS = """
with per_conversion as (
    select account_id, model, conversion_id,
           sum(credit) as credit, sum(revenue_credit) as revenue_credit, min(credit) as min_credit
    from attribution.attribution_credits
    where converted_at >= %(start)s and converted_at < %(end)s
    group by 1, 2, 3
)
select
    count(*) as conversion_models,
    count(*) filter (where min_credit < 0) as negative,
    count(*) filter (where abs(pc.credit - 1) > %(tol)s) as not_summing_to_one,
    count(*) filter (where abs(pc.revenue_credit - coalesce(c.revenue, 0)) > %(tol)s * greatest(1, abs(coalesce(c.revenue, 0)))) as revenue_mismatch
from per_conversion pc
-- the revenue the engine saw (the journeys'): in the reporting currency, null when its rate is missing
left join (
    select distinct account_id, conversion_id, revenue from marts.fct_conversion_journeys where converted
) c using (account_id, conversion_id)
"""

UNATTRIBUTED = """
with latest_run as (
    -- per account, the newest run that wrote credits in the window: its models must cover the window
    select distinct on (ac.account_id) ac.account_id, ac.run_id
    from attribution.attribution_credits ac
    join attribution.attribution_runs r using (run_id)
    where ac.converted_at >= %(start)s and ac.converted_at < %(end)s
    order by ac.account_id, r.started_at desc
),
models as (
    -- a `journey_by account` model (docs/b2b.md) credits the company deals only, every other model all conversions
    select distinct ac.account_id, ac.model, coalesce(am.compiled ->> 'journey_by' = 'account', false) as by_account
    from attribution.attribution_credits ac
    join latest_run using (account_id, run_id)
    left join raw.attribution_models am on am.account_id = ac.account_id and am.id = ac.model
    where ac.converted_at >= %(start)s and ac.converted_at < %(end)s
),
conversions as (
    select distinct account_id, conversion_id, false as by_account from marts.fct_conversion_journeys
    where converted and conversion_ts >= %(start)s and conversion_ts < %(end)s
    union
    select distinct account_id, conversion_id, true as by_account from marts.fct_group_conversion_journeys
    where converted and conversion_ts >= %(start)s and conversion_ts < %(end)s
)
select count(*) from conversions c
join models m using (account_id, by_account)
where not exists (
    select 1 from attribution.attribution_credits ac
    where ac.account_id = c.account_id and ac.conversion_id = c.conversion_id and ac.model = m.model
)
"""


@dg.asset_check(
    asset="attribution_credits",
    blocking=True,
    description="Credits are ≥ 0, sum to 1 per conversion and model, and revenue credits sum to revenue.",
)
def credits_are_consistent(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
    start, end = window(context)
    with warehouse.connect() as conn:
        total, negative, not_one, revenue = conn.execute(
            CREDIT_INVARIANTS, {"start": start, "end": end, "tol": TOLERANCE}
        ).fetchone()
    return dg.AssetCheckResult(
        passed=negative == 0 and not_one == 0 and revenue == 0,
        metadata={
            "conversion_model_pairs": total,
            "with_negative_credit": negative,
            "not_summing_to_1": not_one,
            "revenue_mismatch": revenue,
        },
    )


@dg.asset_check(
    asset="attribution_credits",
    blocking=True,
    description="Every conversion of the window is attributed by every model of the latest run for its account "
    "(an hourly rule-based run is not expected to carry the nightly data-driven models; a journey_by account "
    "model is expected to credit the company deals, docs/b2b.md).",
)
def every_conversion_attributed(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
    start, end = window(context)
    with warehouse.connect() as conn:
        missing = conn.execute(UNATTRIBUTED, {"start": start, "end": end}).fetchone()[0]
    return dg.AssetCheckResult(passed=missing == 0, metadata={"missing_conversion_model_pairs": missing})


@dg.asset_check(
    asset="attribution_credits",
    blocking=True,
    description="No test-key data in the run's live credits (test data stays apart unless asked for).",
)
def no_test_data_in_live_credits(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
    start, end = window(context)
    with warehouse.connect() as conn:
        leaked = conn.execute(
            """
            select count(*) from attribution.attribution_credits ac
            join raw.conversions c using (account_id, conversion_id)
            where c.environment <> ac.environment
              and ac.converted_at >= %(start)s and ac.converted_at < %(end)s
        """,
            {"start": start, "end": end},
        ).fetchone()[0]
    return dg.AssetCheckResult(passed=leaked == 0, metadata={"credits_with_wrong_environment": leaked})


RAW_SAMPLE = 10_000  # Great Expectations on pandas costs ~0.15 ms a row; a sample of what just landed


@dg.asset_check(
    asset="raw_events",
    description="Great Expectations suite on the raw events received in the last "
    f"day (the newest {RAW_SAMPLE:,} when more): required fields, accepted event types, no timestamps "
    "in the future, sane sizes.",
)
def raw_events_expectations(warehouse: Warehouse) -> dg.AssetCheckResult:
    from orchestration.quality import raw_events_suite

    # what just landed, through any door (the API checks each event; bulk loads and Segment replays
    # are seen here); older events were checked by earlier runs
    frame = warehouse.frame(
        """
        select account_id, event_id, environment, event_type, visitor_id, occurred_at, received_at,
               octet_length(properties::text) as size_bytes
        from raw.events where received_at > now() - interval '1 day'
        order by received_at desc limit %(limit)s
    """,
        {"limit": RAW_SAMPLE},
    )
    if frame.empty:
        return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN, metadata={"rows_checked": 0})
    result = raw_events_suite(frame, event_types=known_event_types())
    return dg.AssetCheckResult(passed=result.success, metadata=result.metadata())


def freshness_result(last, age_hours: float | None) -> dg.AssetCheckResult:
    """dbt's source freshness rule: older than warn_after warns, older than error_after is an error."""
    warn_after, error_after = raw_events_freshness()
    stale = last is None or age_hours > warn_after
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.ERROR if last is None or age_hours > error_after else dg.AssetCheckSeverity.WARN,
        metadata={
            "last_received_at": str(last),
            "age_hours": float(age_hours or 0),
            "warn_after_hours": warn_after,
            "error_after_hours": error_after,
        },
    )


@dg.asset_check(
    asset="raw_events",
    description="Raw events arrived recently: a warning after {:g} hours, an error after {:g} "
    "(dbt's source freshness of raw.events).".format(*raw_events_freshness()),
)
def raw_events_fresh(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        last, age_hours = conn.execute(
            "select max(received_at), extract(epoch from now() - max(received_at)) / 3600 from raw.events"
        ).fetchone()
    return freshness_result(last, None if age_hours is None else float(age_hours))


JOURNEY_SAMPLE = 100_000  # journeys per run; a whole backfill's are sampled
JOURNEYS_KEY = get_asset_key_for_model([warehouse_models], "fct_conversion_journeys")


@dg.asset_check(
    asset=JOURNEYS_KEY,
    blocking=True,
    description="Great Expectations suite on the journeys this run attributes (conversions in its "
    "partitions, paths touched in them; up to 100,000 whole journeys): keys, known channels, touches "
    "before conversion, contiguous touch order, non-negative revenue.",
)
def journeys_expectations(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
    from orchestration.quality import journeys_suite

    start, end = run_window(context)
    # whole journeys (touch order is checked per journey), at most JOURNEY_SAMPLE of them
    frame = warehouse.frame(
        """
        with picked as (
            select distinct account_id, journey_id
            from marts.fct_conversion_journeys
            where (converted and conversion_ts >= %(start)s and conversion_ts < %(end)s)
               or (not converted and touch_ts >= %(start)s and touch_ts < %(end)s)
            limit %(limit)s
        )
        select journeys.*
        from marts.fct_conversion_journeys as journeys
        inner join picked on picked.account_id = journeys.account_id and picked.journey_id = journeys.journey_id
    """,
        {"start": start, "end": end, "limit": JOURNEY_SAMPLE},
    )
    channels = [r for (r,) in warehouse.frame("select channel from marts.dim_channels").itertuples(index=False)]
    result = journeys_suite(frame, channels=channels + ["unassigned"])
    journeys = len(frame[["account_id", "journey_id"]].drop_duplicates()) if not frame.empty else 0
    return dg.AssetCheckResult(
        passed=result.success,
        metadata={**result.metadata(), "journeys_checked": journeys, "window": f"{start:%Y-%m-%d} .. {end:%Y-%m-%d}"},
    )


IDENTITY_KEY = get_asset_key_for_model([warehouse_models], "rpt_identity_match_daily")
IDENTITY_WINDOW_DAYS = 14
IDENTITY_SERIES = """
select account_id, environment, day::text, matched_conversions, conversions
from marts.rpt_identity_match_daily
where day < %(today)s and day >= %(today)s - %(days)s
order by account_id, environment, day
"""


def identity_drops(rows) -> list[dict]:
    """Per account and environment, the rule of mbuzz.identity.match_rate_drop on its daily series
    (rows: account_id, environment, day, matched conversions, conversions; oldest day first)."""
    from mbuzz.identity import match_rate_drop

    series: dict[tuple[str, str], list] = {}
    for account_id, environment, day, matched, total in rows:
        series.setdefault((account_id, environment), []).append((day, int(matched), int(total)))
    drops = []
    for (account_id, environment), days in sorted(series.items()):
        if (drop := match_rate_drop(days, window=IDENTITY_WINDOW_DAYS)) is not None:
            drops.append(
                {
                    "account_id": account_id,
                    "environment": environment,
                    "day": drop.day,
                    "match_rate": round(drop.rate, 4),
                    "median_14d": round(drop.baseline, 4),
                    "conversions": drop.volume,
                }
            )
    return drops


@dg.asset_check(
    asset=IDENTITY_KEY,
    description="The share of conversions matched to a session did not drop "
    "sharply on the last complete day (a quarter below its trailing 14-day median, for accounts with "
    "at least 20 conversions that day): a warning, e.g. after a tracking snippet or an identify call "
    "went missing.",
)
def identity_match_rate(warehouse: Warehouse) -> dg.AssetCheckResult:
    from datetime import datetime, timedelta, timezone

    today = datetime.now(timezone.utc).date()
    with warehouse.connect() as conn:
        rows = conn.execute(
            IDENTITY_SERIES, {"today": today, "days": timedelta(days=IDENTITY_WINDOW_DAYS + 1)}
        ).fetchall()
    drops = identity_drops(rows)
    return dg.AssetCheckResult(
        passed=not drops,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"accounts_checked": len({(r[0], r[1]) for r in rows}), "drops": dg.MetadataValue.json(drops)},
    )


FX_GAPS_KEY = get_asset_key_for_model([warehouse_models], "rpt_fx_gaps")
FX_GAPS_LISTED = 100  # the first pairs, in the metadata; the count covers all


@dg.asset_check(
    asset=FX_GAPS_KEY,
    description="Every amount in another currency than its account's reporting currency has an exchange "
    "rate for its day (raw.fx_rates): a warning listing the missing (account, currency, day) pairs, whose "
    "converted amounts are null (docs/money.md).",
)
def fx_rates_cover_every_amount(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        rows = conn.execute(
            "select account_id, environment, currency, reporting_currency, day::text, conversions, spend_rows "
            "from marts.rpt_fx_gaps order by day desc, account_id, currency"
        ).fetchall()
    missing = [
        {
            "account_id": r[0],
            "environment": r[1],
            "currency": r[2],
            "reporting_currency": r[3],
            "day": r[4],
            "conversions": int(r[5]),
            "spend_rows": int(r[6]),
        }
        for r in rows[:FX_GAPS_LISTED]
    ]
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"missing_pairs": len(rows), "missing": dg.MetadataValue.json(missing)},
    )


checks = [
    fx_rates_cover_every_amount,
    credits_are_consistent,
    every_conversion_attributed,
    no_test_data_in_live_credits,
    raw_events_expectations,
    raw_events_fresh,
    journeys_expectations,
    identity_match_rate,
]
