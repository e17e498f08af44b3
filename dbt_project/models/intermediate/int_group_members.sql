{#- One row per company and member identity (grain: account_id + environment + group_id +
    identity_key): who the account journeys (fct_group_conversion_journeys, docs/b2b.md) gather
    the touches of. A visitor who sent a `group` call for the company (int_group_memberships)
    makes two members: the visitor's identity as int_touches_identified keys its sessions
    (`user:<id>` once identified, else `visitor:<id>`), and the user the group call named.
    grouped_at: the member's latest group call for the company (a member's conversion without a
    group_id is its latest company's, int_group_conversions). -#}

with

memberships as (

    select * from {{ ref('int_group_memberships') }}

),

identities as (

    select * from {{ ref('int_identities') }}

),

member_identities as (

    select
        memberships.account_id,
        memberships.environment,
        memberships.group_id,
        memberships.grouped_at,
        {{ identity_key_sql('identities.user_id', 'memberships.visitor_id') }} as identity_key
    from memberships
    left join identities
        on memberships.account_id = identities.account_id
            and memberships.environment = identities.environment
            and memberships.visitor_id = identities.visitor_id
    union all
    select
        account_id,
        environment,
        group_id,
        grouped_at,
        'user:' || user_id as identity_key
    from memberships
    where user_id is not null

),

final as (

    select
        account_id,
        environment,
        group_id,
        identity_key,
        max(grouped_at) as grouped_at
    from member_identities
    group by account_id, environment, group_id, identity_key

)

select * from final
