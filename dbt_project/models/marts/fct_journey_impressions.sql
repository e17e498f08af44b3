{#- The impressions of each journey, as touches of kind `impression` (docs/impressions.md):
    ONE ROW PER IMPRESSION TOUCH, in the shape of fct_conversion_journeys, so the engine reads
    both as one touch table (mbuzz/attribution_runs.py unions them).

    A converting journey's impressions are its identity's impressions (int_impressions) in
    [conversion_ts - mbuzz__impression_lookback_days, conversion_ts], after the identity's
    previous conversion of the same type when mbuzz__conversion_cycles. A non-converting path
    (`path_<identity_key>`) gets its identity's impressions within the impression lookback
    ending at the path's last visit. Journeys come from fct_conversion_journeys (its identities
    and conversions), so an identity with impressions but no visit and no conversion has no
    path. Which impressions take credit (view-through) is the engine's journey option, not
    this table's: it holds every impression of the window. -#}

{%- set lookback = var('mbuzz__impression_lookback_days') | int %}
{%- set cycles = var('mbuzz__conversion_cycles') %}

{{
    config(
        indexes=[
            {'columns': ['account_id', 'conversion_ts']},
            {'columns': ['account_id', 'journey_id']},
        ],
    )
}}

with

journeys as (

    select * from {{ ref('fct_conversion_journeys') }}

),

impressions as (

    select * from {{ ref('int_impressions') }}

),

conversions as (

    select distinct on (account_id, journey_id)
        account_id,
        environment,
        identity_key,
        journey_id,
        conversion_id,
        conversion_ts,
        conversion_type,
        revenue
    from journeys
    where converted
    order by account_id, journey_id

),

cycled_conversions as (

    select
        *,
        lag(conversion_ts) over (
            partition by account_id, environment, identity_key, conversion_type
            order by conversion_ts, conversion_id
        ) as previous_conversion_at
    from conversions

),

paths as (

    select
        account_id,
        environment,
        identity_key,
        journey_id,
        max(touch_ts) as last_touch_at
    from journeys
    where not converted
    group by account_id, environment, identity_key, journey_id

),

-- each journey's impression window: it ends at the conversion (after the previous conversion
-- of the same type with cycles), or at a path's last visit
journey_windows as (

    select
        account_id,
        environment,
        identity_key,
        journey_id,
        conversion_id,
        true as converted,
        conversion_ts,
        conversion_type,
        revenue,
        conversion_ts as window_end,
        previous_conversion_at
    from cycled_conversions
    union all
    select
        account_id,
        environment,
        identity_key,
        journey_id,
        cast(null as varchar(40)) as conversion_id,
        false as converted,
        cast(null as timestamptz) as conversion_ts,
        cast(null as text) as conversion_type,
        cast(0 as numeric(18, 4)) as revenue,
        last_touch_at as window_end,
        cast(null as timestamptz) as previous_conversion_at
    from paths

),

final as (

    select
        journey_windows.account_id,
        journey_windows.environment,
        journey_windows.journey_id,
        journey_windows.conversion_id,
        journey_windows.converted,
        journey_windows.conversion_ts,
        journey_windows.conversion_type,
        journey_windows.revenue,
        impressions.occurred_at as touch_ts,
        impressions.impression_id,
        impressions.channel,
        impressions.source as utm_source,
        impressions.medium as utm_medium,
        impressions.campaign as utm_campaign,
        impressions.placement,
        cast('impression' as text) as touch_kind,
        journey_windows.identity_key,
        impressions.received_at
    from journey_windows
    inner join impressions
        on journey_windows.account_id = impressions.account_id
            and journey_windows.environment = impressions.environment
            and journey_windows.identity_key = impressions.identity_key
            and impressions.occurred_at >= journey_windows.window_end - interval '{{ lookback }} days'
            and journey_windows.window_end >= impressions.occurred_at
    {%- if cycles %}
        and (journey_windows.previous_conversion_at is null
             or impressions.occurred_at > journey_windows.previous_conversion_at)
        {%- endif %}

)

select * from final
