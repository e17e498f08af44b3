{#- One row per visitor and group (grain: account_id + environment + visitor_id + group_id): the
    companies (B2B accounts) a person said they belong to, from `group` events (Segment's group
    call, or event_type `group` on /api/v1/events), with the latest traits sent for the group
    and the user the visitor was known as then. Ready for account-level journeys. -#}

with

groups as (

    select * from {{ ref('stg_raw__group_calls') }}

),

final as (

    select distinct on (account_id, environment, visitor_id, group_id)
        account_id,
        environment,
        visitor_id,
        user_id,
        group_id,
        traits,
        occurred_at as grouped_at
    from groups
    where group_id is not null
    order by account_id asc, environment asc, visitor_id asc, group_id asc, occurred_at desc, event_id desc

)

select * from final
