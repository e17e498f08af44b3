{#- One row per account, environment, model, local day, channel and campaign (utm_source +
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
        coalesce(local_day, {{ utc_date('day') }}) as day,  -- the account's local day
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
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        string_agg(distinct currency, ',' order by currency) as spend_currency
    from spend
    where utm_campaign is not null
    group by 1, 2, 3, 4, 5, 6, 7

),

roas as (

    {{ roas_rows(
        'credited', 'campaign_spend', 'source_daily', ['channel', 'utm_source', 'utm_medium', 'utm_campaign']
    ) }}

),

final as (

    select
        account_id,
        environment,
        model,
        day,
        channel,
        nullif(utm_source, '') as utm_source,
        nullif(utm_medium, '') as utm_medium,
        utm_campaign,
        spend,
        spend_currency,
        impressions,
        clicks,
        conversions,
        revenue,
        roas,
        cost_per_conversion
    from roas

)

select * from final
