{#- One row per conversion: typed, deduplicated, live only unless var mbuzz__include_test. -#}

with

deduplicated as (

    select conversions.*
    from {{ source('raw', 'conversions') }} as conversions
    where not exists (
        select 1
        from {{ source('raw', 'conversions') }} as newer
        where newer.account_id = conversions.account_id
          and newer.conversion_id = conversions.conversion_id
          and (newer.received_at, newer.converted_at, newer.ctid) > (conversions.received_at, conversions.converted_at, conversions.ctid)
    )

),

final as (

    select
        account_id,
        conversion_id,
        environment,
        lower(conversion_type) as conversion_type,
        visitor_id,
        nullif(btrim(user_id), '') as user_id,
        event_id,
        coalesce(revenue, 0)::numeric(18, 4) as revenue,
        upper(currency) as currency,
        converted_at,
        received_at
    from deduplicated
    where environment in {{ environments_sql() }}

)

select * from final
