{#- One row per account, with its own domains (settings.own_domains plus var mbuzz__own_domains),
    its reporting currency (settings.currency, null when unset) and time zone (settings.timezone, UTC). -#}

with

accounts as (

    select * from {{ source('raw', 'accounts') }}

),

final as (

    select
        id as account_id,
        name as account_name,
        tier,
        {{ own_domains('settings') }} as own_domains,
        upper(nullif(btrim({{ json_text('settings', ['currency']) }}), '')) as reporting_currency,
        coalesce(nullif(btrim({{ json_text('settings', ['timezone']) }}), ''), 'UTC') as timezone,
        created_at
    from accounts

)

select * from final
