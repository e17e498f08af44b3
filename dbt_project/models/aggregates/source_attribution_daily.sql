{#- One row per account, environment, model, UTC day, local day, channel and source + medium +
    campaign: credited conversions (sum of credit), credited revenue and credited touches, over the migration-owned
    attribution.attribution_credits hypertable. local_day is the conversions' day in the account's
    time zone (written with the credits): a continuous aggregate buckets by one constant time zone
    only, so a UTC day splits into at most two local days; sum over local_day for local days
    (the ROAS marts do), over day for UTC days. Null for credits written before it existed.

    TimescaleDB: a continuous aggregate with real-time aggregation (answers include credits
    written since the last refresh) and a refresh policy; refreshed in full on every dbt run.
    Plain PostgreSQL: a materialized view refreshed on every dbt run. Same columns, same answers. (No import CTEs here: continuous aggregates take one
    select over the hypertable.) -#}

{{
    config(
        materialized=aggregate_materialization(),
        materialized_only=false,
        refresh_policy={
            'start_offset': "interval '90 days'",
            'end_offset': 'null',
            'schedule_interval': "interval '1 hour'",
        },
        indexes=[{'columns': ['account_id', 'model', 'day']}],
    )
}}

select
    account_id,
    environment,
    model,
    {{ day_bucket('converted_at') }} as day,
    local_day,
    channel,
    utm_source,
    utm_medium,
    utm_campaign,
    sum(credit) as conversions,
    sum(revenue_credit) as revenue,
    count(*) as touches
from {{ source('attribution', 'attribution_credits') }}
group by
    account_id,
    environment,
    model,
    {{ day_bucket('converted_at') }},
    local_day,
    channel,
    utm_source,
    utm_medium,
    utm_campaign
