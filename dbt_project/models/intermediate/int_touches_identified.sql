{#- One row per session (grain: session_id) with the identity whose journeys it belongs to:
    `user:<user_id>` when its visitor was identified, else `visitor:<visitor_id>`. -#}

{{ config(materialized='ephemeral') }}

with

sessions as (

    select * from {{ ref('int_sessions_classified') }}

),

identities as (

    select * from {{ ref('int_identities') }}

),

final as (

    select
        sessions.*,
        identities.user_id as identified_user_id,
        {{ identity_key_sql('identities.user_id', 'sessions.visitor_id') }} as identity_key
    from sessions
    left join identities
        on sessions.account_id = identities.account_id
            and sessions.environment = identities.environment
            and sessions.visitor_id = identities.visitor_id

)

-- every column of int_sessions_classified, plus the identity
select * from final  -- noqa: AM04
