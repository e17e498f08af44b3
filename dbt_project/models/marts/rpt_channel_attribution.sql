{#- One row per account, environment, model and channel: credited conversions, credited
    revenue, credited touches and conversions touched, over all time (the dashboard's model
    comparison). Daily figures are in channel_attribution_daily. -#}

{{ config(tags=['credits'], materialized='view') }}  {#- computed when read: always current, nothing to rebuild hourly -#}

with

credits as (

    select * from {{ ref('fct_attribution_credits') }}

),

final as (

    select
        account_id,
        environment,
        model,
        channel,
        sum(credit) as conversions,
        -- the part credited to impressions (ads seen, not clicked; docs/impressions.md)
        coalesce(sum(credit) filter (where touch_kind = 'impression'), 0) as view_through_conversions,
        sum(revenue_credit) as revenue,
        count(*) as touches,
        count(distinct conversion_id) as conversions_touched
    from credits
    group by account_id, environment, model, channel

)

select * from final
