{#- One row per account, environment, model, UTC day, channel and source + medium + campaign: credited conversions
    (sum of credit), credited revenue and credited touches, over the migration-owned
    attribution.attribution_credits hypertable.

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
    channel,
    utm_source,
    utm_medium,
    utm_campaign
