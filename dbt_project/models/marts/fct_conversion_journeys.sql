{#- The attribution engine's input: ONE ROW PER TOUCH (grain: account_id + journey_id + touch_index).

    Converting journeys (journey_id = conversion_id): the identity's sessions that started in
    [converted_at - mbuzz__lookback_days, converted_at], ordered by start (ties by session_id),
    after the identity's previous conversion of the same type when mbuzz__conversion_cycles,
    keeping the last mbuzz__max_touches when set. A conversion with no touch is ONE row with
    null touch_index / touch_ts / session_id / channel (the engine credits it to `unassigned`).

    Non-converting paths (journey_id = `path_<identity_key>`): identities with sessions and no
    conversion; their sessions within the lookback ending at their last touch.

    milestones: `;`-separated (`mql`, `mql;sql`, '' for none). The touch in which the identity's
    FIRST event of a milestone type happened carries it, if that touch is in the journey and the
    event happened no later than the conversion. Path transforms (exposure, first, …) are applied
    by the engine, not here. utm_source / utm_medium / utm_campaign are the session's classified
    source / medium / campaign (the UTMs when tagged; else derived from click id or referrer). -#}

{%- set lookback = var('mbuzz__lookback_days') | int %}
{%- set max_touches = var('mbuzz__max_touches') %}
{%- set cycles = var('mbuzz__conversion_cycles') %}

{{ config(indexes=[{'columns': ['account_id', 'conversion_ts']}, {'columns': ['account_id', 'journey_id']}]) }}

with

touches as (

    -- only what journeys need: these rows are sorted several times
    select
        account_id,
        environment,
        identity_key,
        session_id,
        started_at,
        channel,
        source,
        medium,
        campaign,
        {%- for milestone in milestone_types() %}
        first_{{ milestone }}_at{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('int_touches_identified') }}

),

conversions as (

    select * from {{ ref('stg_raw__conversions') }}

),

identities as (

    select * from {{ ref('int_identities') }}

),

{%- for milestone in milestone_types() %}

first_{{ milestone }} as (

    select distinct on (account_id, environment, identity_key)
        account_id,
        session_id,
        first_{{ milestone }}_at as milestone_at
    from touches
    where first_{{ milestone }}_at is not null
    order by account_id, environment, identity_key, first_{{ milestone }}_at, started_at, session_id

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

cycled_conversions as (

    select
        *,
        lag(converted_at) over (
            partition by account_id, environment, identity_key, conversion_type
            order by converted_at, conversion_id
        ) as previous_conversion_at
    from identified_conversions

),

converting as (

    select
        cycled_conversions.account_id,
        cycled_conversions.environment,
        cycled_conversions.identity_key,
        cycled_conversions.conversion_id as journey_id,
        cycled_conversions.conversion_id,
        true as converted,
        cycled_conversions.converted_at as conversion_ts,
        cycled_conversions.conversion_type,
        cycled_conversions.revenue,
        touches.started_at as touch_ts,
        touches.session_id,
        touches.channel,
        touches.source as utm_source,
        touches.medium as utm_medium,
        touches.campaign as utm_campaign
    from cycled_conversions
    left join touches
        on touches.account_id = cycled_conversions.account_id
        and touches.environment = cycled_conversions.environment
        and touches.identity_key = cycled_conversions.identity_key
        and touches.started_at >= cycled_conversions.converted_at - interval '{{ lookback }} days'
        and touches.started_at <= cycled_conversions.converted_at
        {%- if cycles %}
        and (cycled_conversions.previous_conversion_at is null
             or touches.started_at > cycled_conversions.previous_conversion_at)
        {%- endif %}

),

converted_identities as (

    select distinct account_id, environment, identity_key
    from identified_conversions

),

path_touches as (

    select
        touches.*,
        max(touches.started_at) over (
            partition by touches.account_id, touches.environment, touches.identity_key
        ) as last_touch_at
    from touches
    where not exists (
        select 1
        from converted_identities
        where converted_identities.account_id = touches.account_id
          and converted_identities.environment = touches.environment
          and converted_identities.identity_key = touches.identity_key
    )

),

non_converting as (

    select
        account_id,
        environment,
        identity_key,
        'path_' || identity_key as journey_id,
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
        campaign as utm_campaign
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
        kept.journey_id,
        kept.conversion_id,
        kept.converted,
        kept.conversion_ts,
        kept.conversion_type,
        kept.revenue,
        case
            when kept.session_id is not null then
                (row_number() over (partition by kept.account_id, kept.journey_id order by kept.touch_ts, kept.session_id) - 1)::integer
        end as touch_index,
        kept.touch_ts,
        kept.session_id,
        kept.channel,
        kept.utm_source,
        kept.utm_medium,
        kept.utm_campaign,
        concat_ws(';'
            {%- for milestone in milestone_types() %},
            case
                when first_{{ milestone }}.session_id is not null
                     and (not kept.converted or first_{{ milestone }}.milestone_at <= kept.conversion_ts)
                    then '{{ milestone }}'
            end
            {%- endfor %}
        ) as milestones,
        kept.identity_key
    from kept
    {%- for milestone in milestone_types() %}
    left join first_{{ milestone }}
        on first_{{ milestone }}.account_id = kept.account_id
        and first_{{ milestone }}.session_id = kept.session_id
    {%- endfor %}

)

select * from final
