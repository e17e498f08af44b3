{#- Account-level (B2B) journeys, the input of `journey_by account` models: ONE ROW PER TOUCH
    (grain: account_id + journey_id + touch_index), the same columns as fct_conversion_journeys
    plus group_id (the company; mbuzz's own tenant is account_id).

    Members: every identity of a visitor who sent a `group` call for the company
    (int_group_memberships): the visitor's identity as in int_touches_identified, and the user
    the group call named.

    Group conversions (journey_id = conversion_id): a conversion carrying properties.group_id
    (a closed deal), else a conversion by a member (the company of the member's latest group
    call). The journey holds every session of every member that started in
    [converted_at - mbuzz__lookback_days, converted_at], in time order (ties by session_id),
    after the company's previous conversion of the same type when mbuzz__conversion_cycles,
    keeping the last mbuzz__max_touches when set. A group conversion with no touch is ONE row
    with null touch columns (credited to `unassigned`).

    Non-converting paths (journey_id = `path_group:<group_id>`): companies with member sessions
    and no conversion; their sessions within the lookback ending at their last touch.

    milestones: the company's FIRST event of a milestone type (by any member) marks the touch it
    happened in, if that touch is in the journey and no later than the conversion: the account's
    MQL / SQL, as w_shaped and z_shaped mean them for B2B teams.

    A table rebuilt in full each run (companies are few; a member joining changes the company's
    whole history), leaving fct_conversion_journeys and its incremental contract untouched. -#}

{%- set lookback = var('mbuzz__lookback_days') | int %}
{%- set max_touches = var('mbuzz__max_touches') %}
{%- set cycles = var('mbuzz__conversion_cycles') %}

{{
    config(
        materialized='table',
        indexes=[
            {'columns': ['account_id', 'conversion_ts']},
            {'columns': ['account_id', 'journey_id']},
        ],
    )
}}

with

memberships as (

    select * from {{ ref('int_group_memberships') }}

),

identities as (

    select * from {{ ref('int_identities') }}

),

sessions as (

    select * from {{ ref('int_touches_identified') }}

),

conversions as (

    select * from {{ ref('stg_raw__conversions') }}

),

-- each member visitor's identity (as int_touches_identified keys it) and the user it named
member_identities as (

    select
        memberships.account_id,
        memberships.environment,
        memberships.group_id,
        memberships.grouped_at,
        case
            when identities.user_id is not null then 'user:' || identities.user_id
            else 'visitor:' || memberships.visitor_id
        end as identity_key
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

members as (

    select
        account_id,
        environment,
        group_id,
        identity_key,
        max(grouped_at) as grouped_at
    from member_identities
    group by account_id, environment, group_id, identity_key

),

group_touches as (

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

),

{%- for milestone in milestone_types() %}

group_first_{{ milestone }} as (

    select distinct on (account_id, environment, group_id)
        account_id,
        environment,
        group_id,
        session_id,
        first_{{ milestone }}_at as milestone_at
    from group_touches
    where first_{{ milestone }}_at is not null
    order by account_id, environment, group_id, first_{{ milestone }}_at, started_at, session_id

),
{%- endfor %}

identified_conversions as (

    select
        conversions.*,
        case
            when coalesce(conversions.user_id, identities.user_id) is not null
                then 'user:' || coalesce(conversions.user_id, identities.user_id)
            else 'visitor:' || conversions.visitor_id
        end as identity_key
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

group_conversions as (

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

),

cycled_conversions as (

    select
        *,
        lag(converted_at) over (
            partition by account_id, environment, group_id, conversion_type
            order by converted_at, conversion_id
        ) as previous_conversion_at
    from group_conversions

),

converting as (

    select
        cycled_conversions.account_id,
        cycled_conversions.environment,
        cycled_conversions.group_id,
        cycled_conversions.conversion_id as journey_id,
        cycled_conversions.conversion_id,
        true as converted,
        cycled_conversions.converted_at as conversion_ts,
        cycled_conversions.conversion_type,
        cycled_conversions.revenue,
        group_touches.started_at as touch_ts,
        group_touches.session_id,
        group_touches.channel,
        group_touches.source as utm_source,
        group_touches.medium as utm_medium,
        group_touches.campaign as utm_campaign,
        group_touches.identity_key
    from cycled_conversions
    left join group_touches
        on cycled_conversions.account_id = group_touches.account_id
            and cycled_conversions.environment = group_touches.environment
            and cycled_conversions.group_id = group_touches.group_id
            and group_touches.started_at >= cycled_conversions.converted_at - interval '{{ lookback }} days'
            and cycled_conversions.converted_at >= group_touches.started_at
    {%- if cycles %}
        and (cycled_conversions.previous_conversion_at is null
             or group_touches.started_at > cycled_conversions.previous_conversion_at)
        {%- endif %}

),

path_touches as (

    select
        group_touches.*,
        max(group_touches.started_at) over (
            partition by group_touches.account_id, group_touches.environment, group_touches.group_id
        ) as last_touch_at
    from group_touches
    where not exists (
            select 1
            from group_conversions
            where group_conversions.account_id = group_touches.account_id
                and group_conversions.environment = group_touches.environment
                and group_conversions.group_id = group_touches.group_id
        )

),

non_converting as (

    select
        account_id,
        environment,
        group_id,
        'path_group:' || group_id as journey_id,
        null::varchar(40) as conversion_id,
        false as converted,
        null::timestamptz as conversion_ts,
        null::text as conversion_type,
        0::numeric(18, 4) as revenue,
        started_at as touch_ts,
        session_id,
        channel,
        source as utm_source,
        medium as utm_medium,
        campaign as utm_campaign,
        identity_key
    from path_touches
    where started_at >= last_touch_at - interval '{{ lookback }} days'

),

journeys as (

    select * from converting
    union all
    select * from non_converting

),

ordered as (

    select
        *,
        row_number() over (
            partition by account_id, journey_id
            order by touch_ts desc nulls last, session_id desc
        ) as touches_from_end
    from journeys

),

kept as (

    select *
    from ordered
    {%- if max_touches is not none and max_touches | string | lower not in ('none', 'null', '') %}
    where touches_from_end <= {{ max_touches | int }}
    {%- endif %}

),

final as (

    select
        kept.account_id,
        kept.environment,
        kept.group_id,
        kept.journey_id,
        kept.conversion_id,
        kept.converted,
        kept.conversion_ts,
        kept.conversion_type,
        kept.revenue,
        case
            when kept.session_id is not null then
                (
                    row_number()
                        over (partition by kept.account_id, kept.journey_id order by kept.touch_ts, kept.session_id)
                    - 1
                )::integer
        end as touch_index,
        kept.touch_ts,
        kept.session_id,
        kept.channel,
        kept.utm_source,
        kept.utm_medium,
        kept.utm_campaign,
        concat_ws(
            ';'
            {%- for milestone in milestone_types() %},
            case
                when group_first_{{ milestone }}.session_id is not null
                    and (not kept.converted or group_first_{{ milestone }}.milestone_at <= kept.conversion_ts)
                    then '{{ milestone }}'
            end
            {%- endfor %}
        ) as milestones,
        kept.identity_key
    from kept
    {%- for milestone in milestone_types() %}
left join group_first_{{ milestone }}
    on group_first_{{ milestone }}.account_id = kept.account_id
        and group_first_{{ milestone }}.environment = kept.environment
        and group_first_{{ milestone }}.group_id = kept.group_id
        and group_first_{{ milestone }}.session_id = kept.session_id
    {%- endfor %}

)

select * from final
