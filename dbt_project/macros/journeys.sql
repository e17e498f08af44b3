{#- How a journey is cut, ONE implementation for both journey units (docs/attribution.md,
    "Journeys"; docs/b2b.md):

    unit      whose touches and conversions make one journey      key           path journey_id
    person    an identity (`user:<id>` / `visitor:<id>`)         identity_key  `path_<identity_key>`
    account   a company (the members of a `group` call)          group_id      `path_group:<group_id>`

    marts/fct_conversion_journeys.sql (person, incremental) and
    marts/fct_group_conversion_journeys.sql (account, a table) gather the unit's touches and
    conversions and hand them to journey_rows(); macros/journeys_incremental.sql says which
    identities an incremental run of the person journeys rebuilds. -#}


{#- The journey unit's settings: its key column, the prefix of its non-converting paths'
    journey_id, and whether its rows carry the incremental watermarks (max_received_at,
    conversion_received_at: only the incremental person journeys do). -#}
{% macro journey_unit(unit) -%}
    {%- set units = {
        'person': {'key': 'identity_key', 'path_prefix': 'path_', 'watermarked': true},
        'account': {'key': 'group_id', 'path_prefix': 'path_group:', 'watermarked': false},
    } -%}
    {%- if unit not in units -%}
        {{ exceptions.raise_compiler_error("journey unit '" ~ unit ~ "': expected one of " ~ (units.keys() | list | join(', '))) }}
    {%- endif -%}
    {{ return(units[unit]) }}
{%- endmacro %}


{#- The journey rows of a unit (one row per touch; grain: account_id + journey_id +
    touch_index), as a query over two relations keyed by the unit's key column:

    touches      account_id, environment, <key>, identity_key, session_id, started_at, channel,
                 source, medium, campaign, first_<milestone>_at (milestone_types()), and
                 max_received_at when the unit is watermarked
    conversions  account_id, environment, <key>, conversion_id, conversion_type, revenue,
                 converted_at, and received_at when the unit is watermarked

    Converting journeys (journey_id = conversion_id): the unit's touches that started in
    [converted_at - mbuzz__lookback_days, converted_at], ordered by start (ties by session_id),
    after the unit's previous conversion of the same type when mbuzz__conversion_cycles, keeping
    the last mbuzz__max_touches when set. A conversion with no touch is ONE row with null touch
    columns. Non-converting paths: units with touches and no conversion; their touches within the
    lookback ending at their last touch. milestones: the unit's FIRST touch of a milestone type
    carries it, if that touch is in the journey and no later than the conversion.

    Columns: account_id, environment, <key> (account unit only), journey_id, conversion_id,
    converted, conversion_ts, conversion_type, revenue, touch_index, touch_ts, session_id,
    channel, utm_source, utm_medium, utm_campaign, milestones, identity_key (the person's own; on
    account journeys the member whose touch it is, null on a conversion without touch), then
    max_received_at (the newest received_at of the touch and the conversion) and
    conversion_received_at when watermarked. -#}
{% macro journey_rows(unit, touches, conversions) %}
    {%- set settings = journey_unit(unit) %}
    {%- set key = settings.key %}
    {%- set lookback = var('mbuzz__lookback_days') | int %}
    {%- set max_touches = var('mbuzz__max_touches') %}
    {%- set cycles = var('mbuzz__conversion_cycles') %}
    with

    {%- for milestone in milestone_types() %}

    -- the touch of the unit's first {{ milestone }}
    first_{{ milestone }} as (

        {% call first_per_group(['account_id', 'environment', key], ['first_' ~ milestone ~ '_at', 'started_at', 'session_id']) %}
            account_id,
            environment,
            {{ key }},
            session_id,
            first_{{ milestone }}_at as milestone_at
        from {{ touches }}
        where first_{{ milestone }}_at is not null
        {% endcall %}

    ),
    {%- endfor %}

    cycled_conversions as (

        select
            *,
            lag(converted_at) over (
                partition by account_id, environment, {{ key }}, conversion_type
                order by converted_at, conversion_id
            ) as previous_conversion_at
        from {{ conversions }}

    ),

    converting as (

        select
            cycled_conversions.account_id,
            cycled_conversions.environment,
            {%- if key != 'identity_key' %}
            cycled_conversions.{{ key }},
            {%- endif %}
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
            touches.campaign as utm_campaign,
            {%- if key == 'identity_key' %}
            cycled_conversions.identity_key
            {%- else %}
            touches.identity_key
            {%- endif %}
            {%- if settings.watermarked %},
            greatest(cycled_conversions.received_at, touches.max_received_at) as max_received_at,
            cycled_conversions.received_at as conversion_received_at
            {%- endif %}
        from cycled_conversions
        left join {{ touches }} as touches
            on cycled_conversions.account_id = touches.account_id
                and cycled_conversions.environment = touches.environment
                and cycled_conversions.{{ key }} = touches.{{ key }}
                and touches.started_at >= cycled_conversions.converted_at - interval '{{ lookback }} days'
                and cycled_conversions.converted_at >= touches.started_at
        {%- if cycles %}
                and (cycled_conversions.previous_conversion_at is null
                     or touches.started_at > cycled_conversions.previous_conversion_at)
        {%- endif %}

    ),

    path_touches as (

        select
            touches.*,
            max(touches.started_at) over (
                partition by touches.account_id, touches.environment, touches.{{ key }}
            ) as last_touch_at
        from {{ touches }} as touches
        where not exists (
                select 1
                from {{ conversions }} as conversions
                where conversions.account_id = touches.account_id
                    and conversions.environment = touches.environment
                    and conversions.{{ key }} = touches.{{ key }}
            )

    ),

    non_converting as (

        select
            account_id,
            environment,
            {%- if key != 'identity_key' %}
            {{ key }},
            {%- endif %}
            '{{ settings.path_prefix }}' || {{ key }} as journey_id,
            cast(null as varchar(40)) as conversion_id,
            false as converted,
            cast(null as {{ timestamp_type() }}) as conversion_ts,
            cast(null as {{ text_type() }}) as conversion_type,
            cast(0 as numeric(18, 4)) as revenue,
            started_at as touch_ts,
            session_id,
            channel,
            source as utm_source,
            medium as utm_medium,
            campaign as utm_campaign,
            identity_key
            {%- if settings.watermarked %},
            max_received_at,
            cast(null as {{ timestamp_type() }}) as conversion_received_at
            {%- endif %}
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
            {%- if key != 'identity_key' %}
            kept.{{ key }},
            {%- endif %}
            kept.journey_id,
            kept.conversion_id,
            kept.converted,
            kept.conversion_ts,
            kept.conversion_type,
            kept.revenue,
            case
                when kept.session_id is not null then
                    cast(
                        row_number()
                            over (partition by kept.account_id, kept.journey_id order by kept.touch_ts, kept.session_id)
                        - 1
                        as integer
                    )
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
                    when first_{{ milestone }}.session_id is not null
                        and (not kept.converted or first_{{ milestone }}.milestone_at <= kept.conversion_ts)
                        then '{{ milestone }}'
                end
                {%- endfor %}
            ) as milestones,
            kept.identity_key
            {%- if settings.watermarked %},
            kept.max_received_at,
            kept.conversion_received_at
            {%- endif %}
        from kept
        {%- for milestone in milestone_types() %}
        left join first_{{ milestone }}
            on kept.account_id = first_{{ milestone }}.account_id
                and kept.environment = first_{{ milestone }}.environment
                and kept.{{ key }} = first_{{ milestone }}.{{ key }}
                and kept.session_id = first_{{ milestone }}.session_id
        {%- endfor %}

    )

    select * from final
{% endmacro %}
