{#- One row per identify event carrying a hashed e-mail address (`properties.traits.email_sha256`:
    sent as such, or hashed by the API from a plain `traits.email`, which is never stored) and a
    user: the hash names that user. Live data only unless var mbuzz__include_test. -#}

with

source as (

    select * from {{ source('raw', 'events') }}
    where event_type = 'identify'
        and environment in {{ environments_sql() }}

),

final as (

    select
        account_id,
        environment,
        event_id,
        visitor_id,
        nullif(btrim(user_id), '') as user_id,
        lower(btrim({{ json_text('properties', ['traits', 'email_sha256']) }})) as email_sha256,
        occurred_at
    from source
    where {{ json_text('properties', ['traits', 'email_sha256']) }} is not null
        and nullif(btrim(user_id), '') is not null

)

select * from final
