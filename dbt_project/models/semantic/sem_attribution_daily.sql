{#- The semantic layer's one fact (dbt_project/models/semantic/_semantic__models.yml): one row
    per account, environment, model, UTC day, channel and utm_source / utm_medium / utm_campaign,
    with the credits of source_attribution_daily (credited conversions, revenue, touches) next
    to the spend uploaded for that channel or campaign (raw.ad_spend; a whole channel's spend has
    '' for source, medium and campaign). Every model of an account sees the same spend, as in
    rpt_channel_roas: grouped by channel it gives rpt_channel_roas's sums, grouped by campaign
    rpt_campaign_roas's. Sources, mediums and campaigns are lower case ('' for none) on both sides,
    as rpt_campaign_roas matches them.

    A view: computed when MetricFlow reads it, nothing is copied at build time. -#}

{{ config(tags=['credits'], materialized='view') }}

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
        {{ utc_date('day') }} as attributed_on,
        channel,
        coalesce(lower(utm_source), '') as utm_source,
        coalesce(lower(utm_medium), '') as utm_medium,
        coalesce(lower(utm_campaign), '') as utm_campaign,
        sum(conversions) as conversions,
        sum(revenue) as revenue,
        sum(touches) as touches
    from source_daily
    group by 1, 2, 3, 4, 5, 6, 7, 8

),

models as (

    select distinct
        account_id,
        environment,
        model
    from source_daily

),

daily_spend as (

    select
        spend.account_id,
        spend.environment,
        models.model,
        spend.day as attributed_on,
        spend.channel,
        coalesce(lower(spend.utm_source), '') as utm_source,
        coalesce(lower(spend.utm_medium), '') as utm_medium,
        coalesce(lower(spend.utm_campaign), '') as utm_campaign,
        sum(spend.amount) as spend
    from spend
    inner join models
        on
            spend.account_id = models.account_id
            and spend.environment = models.environment
    group by 1, 2, 3, 4, 5, 6, 7, 8

),

final as (

    select
        coalesce(credited.account_id, daily_spend.account_id) as account_id,
        coalesce(credited.environment, daily_spend.environment) as environment,
        coalesce(credited.model, daily_spend.model) as model,
        coalesce(credited.attributed_on, daily_spend.attributed_on) as attributed_on,
        coalesce(credited.channel, daily_spend.channel) as channel,
        coalesce(credited.utm_source, daily_spend.utm_source) as utm_source,
        coalesce(credited.utm_medium, daily_spend.utm_medium) as utm_medium,
        coalesce(credited.utm_campaign, daily_spend.utm_campaign) as utm_campaign,
        coalesce(credited.conversions, 0) as conversions,
        coalesce(credited.revenue, 0) as revenue,
        coalesce(credited.touches, 0) as touches,
        coalesce(daily_spend.spend, 0) as spend
    from credited
    full outer join daily_spend
        on
            credited.account_id = daily_spend.account_id
            and credited.environment = daily_spend.environment
            and credited.model = daily_spend.model
            and credited.attributed_on = daily_spend.attributed_on
            and credited.channel = daily_spend.channel
            and credited.utm_source = daily_spend.utm_source
            and credited.utm_medium = daily_spend.utm_medium
            and credited.utm_campaign = daily_spend.utm_campaign

)

select * from final
