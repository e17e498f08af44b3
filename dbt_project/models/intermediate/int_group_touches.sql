{#- One row per company and member session (grain: account_id + group_id + session_id): the
    sessions of every member identity of a company (int_group_members), the touches of the
    account journeys (fct_group_conversion_journeys). identity_key is the member whose session it
    is; a session of a member of two companies is a touch of both. -#}

{{ config(materialized='ephemeral') }}

with

sessions as (

    select * from {{ ref('int_touches_identified') }}

),

members as (

    select * from {{ ref('int_group_members') }}

),

final as (

    select
        members.group_id,
        sessions.account_id,
        sessions.environment,
        sessions.identity_key,
        sessions.session_id,
        sessions.started_at,
        sessions.channel,
        sessions.source,
        sessions.medium,
        {%- for milestone in milestone_types() %}
        sessions.first_{{ milestone }}_at,
        {%- endfor %}
        sessions.campaign
    from sessions
    inner join members
        on sessions.account_id = members.account_id
            and sessions.environment = members.environment
            and sessions.identity_key = members.identity_key

)

select * from final
