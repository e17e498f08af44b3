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
        array(
            select distinct regexp_replace(lower(btrim(domains.domain)), '^www\.', '')
            from (
                select
                    jsonb_array_elements_text(
                        case
                            when jsonb_typeof(settings -> 'own_domains') = 'array'
                                then settings -> 'own_domains'
                            else '[]'::jsonb
                        end
                    ) as domain
                union all
                select unnest({{ text_array(var('mbuzz__own_domains')) }})
            ) as domains
            where btrim(domains.domain) <> ''
            order by 1
        ) as own_domains,
        upper(nullif(btrim(settings ->> 'currency'), '')) as reporting_currency,
        coalesce(nullif(btrim(settings ->> 'timezone'), ''), 'UTC') as timezone,
        created_at
    from accounts

)

select * from final
