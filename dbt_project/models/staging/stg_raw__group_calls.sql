{#- One row per `group` event (Segment's group call, or event_type `group` on /api/v1/events):
    who said they belong to which company, with the traits sent. Live data only unless var
    mbuzz__include_test. Events are unique on (account_id, event_id) in raw already. -#}

with

source as (

    select * from {{ source('raw', 'events') }}
    where event_type = 'group'
        and environment in {{ environments_sql() }}

),

final as (

    select
        account_id,
        environment,
        event_id,
        visitor_id,
        nullif(btrim(user_id), '') as user_id,
        nullif(btrim({{ json_text('properties', ['group_id']) }}), '') as group_id,
        {{ json_object_at('properties', 'traits') }} as traits,
        occurred_at
    from source

)

select * from final
