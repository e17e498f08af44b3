{#- One row per account, local day, currency and quote currency: the account's own exchange rate
    (units of quote_currency per 1 currency). Its newest upload: PostgreSQL stores one row per key
    (an upsert), the lake every version (mbuzz/lake.py). -#}

with

rates as (

    {{ newest_rows(
        source('raw', 'fx_rates'), 'rates', ['account_id', 'day', 'currency', 'quote_currency'], ['received_at']
    ) }}

),

final as (

    select
        account_id,
        day,
        upper(currency) as currency,
        upper(quote_currency) as quote_currency,
        rate
    from rates

)

select * from final
