{#- One row per account, environment, day, channel and campaign of ad spend; UTM fields null
    when the spend is for the whole channel; impressions / clicks the platform's, null when not reported; live only unless var mbuzz__include_test.
    amount is in the account's reporting currency (the rate of the spend's day; null, with
    fx_rate_missing, when there is none); original_amount / original_currency as uploaded. -#}

with

spend as (

    select * from {{ source('raw', 'ad_spend') }}

),

accounts as (

    select * from {{ ref('stg_raw__accounts') }}

),

rates as (

    select * from {{ ref('stg_raw__fx_rates') }}

),

final as (

    select
        spend.account_id,
        spend.environment,
        spend.day,
        spend.channel,
        nullif(spend.utm_source, '') as utm_source,
        nullif(spend.utm_medium, '') as utm_medium,
        nullif(spend.utm_campaign, '') as utm_campaign,
        (
            {{ fx_converted('spend.amount', 'upper(spend.currency)',
                'accounts.reporting_currency', 'rates.rate') }}
        )::numeric(18, 4) as amount,
        coalesce(accounts.reporting_currency, upper(spend.currency)) as currency,
        spend.amount as original_amount,
        upper(spend.currency) as original_currency,
        {{ fx_missing('spend.amount', 'upper(spend.currency)',
            'accounts.reporting_currency', 'rates.rate') }} as fx_rate_missing,
        spend.impressions,
        spend.clicks,
        spend.received_at
    from spend
    left join accounts
        on spend.account_id = accounts.account_id
    left join rates
        on spend.account_id = rates.account_id
            and spend.day = rates.day
            and upper(spend.currency) = rates.currency
            and accounts.reporting_currency = rates.quote_currency
    where spend.environment in {{ environments_sql() }}

)

select * from final
