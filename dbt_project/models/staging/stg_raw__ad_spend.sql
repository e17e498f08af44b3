{#- One row per account, environment, day, channel and campaign of ad spend; UTM fields null
    when the spend is for the whole channel; impressions / clicks the platform's, null when not reported; live only unless var mbuzz__include_test. -#}

with

spend as (

    select * from {{ source('raw', 'ad_spend') }}

),

final as (

    select
        account_id,
        environment,
        day,
        channel,
        nullif(utm_source, '') as utm_source,
        nullif(utm_medium, '') as utm_medium,
        nullif(utm_campaign, '') as utm_campaign,
        amount,
        upper(currency) as currency,
        impressions,
        clicks,
        received_at
    from spend
    where environment in {{ environments_sql() }}

)

select * from final
