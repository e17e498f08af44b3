{#- One row per account, environment, model, UTC day, channel and campaign (utm_source +
    utm_medium + utm_campaign): what the campaign cost that day next to what each model credits
    its sessions with, ROAS and cost per credited conversion. Only campaign-level spend counts
    here (rows uploaded with a utm_campaign); a whole channel's spend is in rpt_channel_roas.
    Campaigns are matched case-insensitively on the sessions' classified source, medium and
    campaign (what source_attribution_daily carries). For a window, divide the sums. -#}

{{ config(tags=['credits'], materialized='view') }}  {#- computed when read: always current -#}

with

source_daily as (

    select * from {{ ref('source_attribution_daily') }}

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
        -- '' for none on both sides: a full join needs plain equality to hash on
        coalesce(lower(utm_source), '') as utm_source,
        coalesce(lower(utm_medium), '') as utm_medium,
        lower(utm_campaign) as utm_campaign,
        sum(conversions) as conversions,
        sum(revenue) as revenue
    from source_daily
    where utm_campaign is not null
    group by 1, 2, 3, 4, 5, 6, 7, 8

),

campaign_spend as (

    select
        account_id,
        environment,
        day,
        channel,
        coalesce(utm_source, '') as utm_source,
        coalesce(utm_medium, '') as utm_medium,
        utm_campaign,
        sum(amount) as spend,
        string_agg(distinct currency, ',' order by currency) as spend_currency
    from spend
    where utm_campaign is not null
    group by 1, 2, 3, 4, 5, 6, 7

),

-- spend does not depend on the model: every model of the account sees the same spend
models as (

    select distinct account_id, environment, model
    from source_daily

),

spend_by_model as (

    select campaign_spend.*, models.model
    from campaign_spend
    inner join models
        on campaign_spend.account_id = models.account_id
        and campaign_spend.environment = models.environment

),

final as (

    select
        coalesce(credited.account_id, spend_by_model.account_id) as account_id,
        coalesce(credited.environment, spend_by_model.environment) as environment,
        coalesce(credited.model, spend_by_model.model) as model,
        coalesce(credited.day, spend_by_model.day) as day,
        coalesce(credited.channel, spend_by_model.channel) as channel,
        nullif(coalesce(credited.utm_source, spend_by_model.utm_source), '') as utm_source,
        nullif(coalesce(credited.utm_medium, spend_by_model.utm_medium), '') as utm_medium,
        coalesce(credited.utm_campaign, spend_by_model.utm_campaign) as utm_campaign,
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
        and credited.utm_source = spend_by_model.utm_source
        and credited.utm_medium = spend_by_model.utm_medium
        and credited.utm_campaign = spend_by_model.utm_campaign

)

select * from final
