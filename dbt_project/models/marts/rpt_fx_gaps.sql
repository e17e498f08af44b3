{#- One row per account, environment, currency, reporting currency and local day whose revenue or
    spend could not be converted: no rate in raw.fx_rates (POST /api/v1/fx_rates, `mbuzz fx
    import`). Their converted amounts are null (never converted at 1.0); load the rates and
    rebuild. Empty when every amount converted. -#}

{{ config(materialized='view') }}  {#- computed when read: a gap closes as soon as its rate lands -#}

with

conversions as (

    select * from {{ ref('stg_raw__conversions') }}

),

spend as (

    select * from {{ ref('stg_raw__ad_spend') }}

),

missing as (

    select
        account_id,
        environment,
        original_currency as currency,
        currency as reporting_currency,
        converted_local_date as day,
        1 as conversions,
        original_revenue as revenue,
        0 as spend_rows,
        0 as spend
    from conversions
    where fx_rate_missing
    union all
    select
        account_id,
        environment,
        original_currency as currency,
        currency as reporting_currency,
        day,
        0 as conversions,
        0 as revenue,
        1 as spend_rows,
        original_amount as spend
    from spend
    where fx_rate_missing

),

final as (

    select
        account_id,
        environment,
        currency,
        reporting_currency,
        day,
        sum(conversions) as conversions,
        sum(revenue) as revenue,
        sum(spend_rows) as spend_rows,
        sum(spend) as spend
    from missing
    group by account_id, environment, currency, reporting_currency, day

)

select * from final
