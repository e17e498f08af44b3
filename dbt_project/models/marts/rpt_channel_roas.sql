{#- One row per account, environment, model, local day (the account's time zone) and channel: what the channel cost that
    day (raw.ad_spend, every campaign of it) next to what each model credits it with, ROAS
    (credited revenue / spend) and cost per credited conversion. Channels with credits and no
    spend, and spend with no credits, both appear (zeros, null ratios).

    For a window, sum spend, revenue and conversions over its days and divide the sums (a ratio
    of sums; never average the daily ratios). spend and revenue are in the account's reporting
    currency (docs/money.md; amounts without an exchange rate are missing: marts.rpt_fx_gaps). -#}

{{ config(tags=['credits'], materialized='view') }}  {#- computed when read: always current -#}

with

channel_daily as (

    select * from {{ ref('channel_attribution_daily') }}

),

spend as (

    select * from {{ ref('stg_raw__ad_spend') }}

),

credited as (

    select
        account_id,
        environment,
        model,
        coalesce(local_day, {{ utc_date('day') }}) as day,  -- the account's local day
        channel,
        sum(conversions) as conversions,
        sum(revenue) as revenue
    from channel_daily
    group by account_id, environment, model, coalesce(local_day, {{ utc_date('day') }}), channel

),

daily_spend as (

    select
        account_id,
        environment,
        day,
        channel,
        sum(amount) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        string_agg(distinct currency, ',' order by currency) as spend_currency
    from spend
    group by account_id, environment, day, channel

),

final as (

    {{ roas_rows('credited', 'daily_spend', 'channel_daily', ['channel']) }}

)

select * from final
