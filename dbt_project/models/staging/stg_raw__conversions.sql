{#- One row per conversion: typed, deduplicated, live only unless var mbuzz__include_test.
    revenue is in the account's reporting currency (the rate of the conversion's local day;
    null, with fx_rate_missing, when there is none); original_revenue / original_currency as sent. -#}

with

deduplicated as (

    {{ newest_rows(
        source('raw', 'conversions'), 'conversions', ['account_id', 'conversion_id'], ['received_at', 'converted_at']
    ) }}

),

accounts as (

    select * from {{ ref('stg_raw__accounts') }}

),

rates as (

    select * from {{ ref('stg_raw__fx_rates') }}

),

typed as (

    select
        deduplicated.account_id,
        deduplicated.conversion_id,
        deduplicated.environment,
        lower(deduplicated.conversion_type) as conversion_type,
        deduplicated.visitor_id,
        nullif(btrim(deduplicated.user_id), '') as user_id,
        deduplicated.event_id,
        coalesce(deduplicated.revenue, 0)::numeric(18, 4) as original_revenue,
        upper(deduplicated.currency) as original_currency,
        nullif(btrim({{ json_text('deduplicated.properties', ['group_id']) }}), '') as group_id,
        accounts.reporting_currency,
        deduplicated.converted_at,
        {{ local_date('deduplicated.converted_at', "coalesce(accounts.timezone, 'UTC')") }} as converted_local_date,
        deduplicated.received_at
    from deduplicated
    left join accounts
        on deduplicated.account_id = accounts.account_id
    where deduplicated.environment in {{ environments_sql() }}

),

final as (

    select
        typed.account_id,
        typed.conversion_id,
        typed.environment,
        typed.conversion_type,
        typed.visitor_id,
        typed.user_id,
        typed.event_id,
        (
            {{ fx_converted('typed.original_revenue', 'typed.original_currency',
                'typed.reporting_currency', 'rates.rate') }}
        )::numeric(18, 4) as revenue,
        coalesce(typed.reporting_currency, typed.original_currency) as currency,
        typed.original_revenue,
        typed.original_currency,
        {{ fx_missing('typed.original_revenue', 'typed.original_currency',
            'typed.reporting_currency', 'rates.rate') }} as fx_rate_missing,
        typed.group_id,
        typed.converted_at,
        typed.converted_local_date,
        typed.received_at
    from typed
    left join rates
        on typed.account_id = rates.account_id
            and typed.converted_local_date = rates.day
            and typed.original_currency = rates.currency
            and typed.reporting_currency = rates.quote_currency

)

select * from final
