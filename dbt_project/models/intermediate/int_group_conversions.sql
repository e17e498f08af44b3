{#- One row per conversion of a company (grain: account_id + conversion_id): the conversions of
    the account journeys (fct_group_conversion_journeys, docs/b2b.md). A conversion carrying
    properties.group_id (a closed deal) is that company's; else a conversion by a member identity
    (int_group_members; the converter's identity as fct_conversion_journeys keys it) is the
    company of the member's latest group call (ties by group_id). Other conversions are no
    company's. -#}

with

conversions as (

    select * from {{ ref('stg_raw__conversions') }}

),

identities as (

    select * from {{ ref('int_identities') }}

),

members as (

    select * from {{ ref('int_group_members') }}

),

identified_conversions as (

    select
        conversions.*,
        {{ identity_key_sql(
            'coalesce(conversions.user_id, identities.user_id)', 'conversions.visitor_id'
        ) }} as identity_key
    from conversions
    left join identities
        on conversions.account_id = identities.account_id
            and conversions.environment = identities.environment
            and conversions.visitor_id = identities.visitor_id

),

-- a deal names its company; else the converting member's company (latest group call)
member_conversions as (

    select distinct on (identified_conversions.account_id, identified_conversions.conversion_id)
        identified_conversions.account_id,
        identified_conversions.conversion_id,
        members.group_id
    from identified_conversions
    inner join members
        on identified_conversions.account_id = members.account_id
            and identified_conversions.environment = members.environment
            and identified_conversions.identity_key = members.identity_key
    where identified_conversions.group_id is null
    order by
        identified_conversions.account_id asc,
        identified_conversions.conversion_id asc,
        members.grouped_at desc,
        members.group_id asc

),

final as (

    select
        identified_conversions.account_id,
        identified_conversions.environment,
        coalesce(identified_conversions.group_id, member_conversions.group_id) as group_id,
        identified_conversions.conversion_id,
        identified_conversions.conversion_type,
        identified_conversions.revenue,
        identified_conversions.converted_at
    from identified_conversions
    left join member_conversions
        on identified_conversions.account_id = member_conversions.account_id
            and identified_conversions.conversion_id = member_conversions.conversion_id
    where coalesce(identified_conversions.group_id, member_conversions.group_id) is not null

)

select * from final
