{#- One row per account, local day, currency and quote currency: the account's own exchange rate
    (units of quote_currency per 1 currency). -#}

with

rates as (

    select * from {{ source('raw', 'fx_rates') }}

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
