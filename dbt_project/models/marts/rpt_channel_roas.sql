{#- One row per account, environment, model, UTC day and channel: what the channel cost that
    day (raw.ad_spend, every campaign of it) next to what each model credits it with, ROAS
    (credited revenue / spend) and cost per credited conversion. Channels with credits and no
    spend, and spend with no credits, both appear (zeros, null ratios).

    For a window, sum spend, revenue and conversions over its days and divide the sums (a ratio
    of sums; never average the daily ratios). spend_currency lists the currencies of the day's
    spend; revenue is in the conversions' currency: ROAS assumes the account uses one. -#}

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
        (day at time zone 'UTC')::date as day,
        channel,
        conversions,
        revenue
    from channel_daily

),

daily_spend as (

    select
        account_id,
        environment,
        day,
        channel,
        sum(amount) as spend,
        string_agg(distinct currency, ',' order by currency) as spend_currency
    from spend
    group by account_id, environment, day, channel

),

-- spend does not depend on the model: every model of the account sees the same spend
models as (

    select distinct account_id, environment, model
    from channel_daily

),

spend_by_model as (

    select daily_spend.*, models.model
    from daily_spend
    inner join models
        on daily_spend.account_id = models.account_id
        and daily_spend.environment = models.environment

),

final as (

    select
        coalesce(credited.account_id, spend_by_model.account_id) as account_id,
        coalesce(credited.environment, spend_by_model.environment) as environment,
        coalesce(credited.model, spend_by_model.model) as model,
        coalesce(credited.day, spend_by_model.day) as day,
        coalesce(credited.channel, spend_by_model.channel) as channel,
        coalesce(spend_by_model.spend, 0) as spend,
        spend_by_model.spend_currency,
        coalesce(credited.conversions, 0) as conversions,
        coalesce(credited.revenue, 0) as revenue,
        coalesce(credited.revenue, 0) / nullif(spend_by_model.spend, 0) as roas,
        spend_by_model.spend / nullif(credited.conversions, 0) as cost_per_conversion
    from credited
    full outer join spend_by_model
        on credited.account_id = spend_by_model.account_id
        and credited.environment = spend_by_model.environment
        and credited.model = spend_by_model.model
        and credited.day = spend_by_model.day
        and credited.channel = spend_by_model.channel

)

select * from final
