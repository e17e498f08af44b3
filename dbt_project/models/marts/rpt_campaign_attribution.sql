{#- One row per account, environment, model, channel and source / medium / campaign: credited
    conversions, revenue and touches (drill-down channel → campaigns). -#}

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
        utm_source,
        utm_medium,
        utm_campaign,
        sum(credit) as conversions,
        sum(revenue_credit) as revenue,
        count(*) as touches,
        count(distinct conversion_id) as conversions_touched
    from credits
    group by account_id, environment, model, channel, utm_source, utm_medium, utm_campaign

)

select * from final
