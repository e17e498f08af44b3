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

converting as (

    select
        cycled_conversions.account_id,
        cycled_conversions.environment,
        cycled_conversions.journey_id,
        cycled_conversions.conversion_id,
        true as converted,
        cycled_conversions.conversion_ts,
        cycled_conversions.conversion_type,
        cycled_conversions.revenue,
        impressions.occurred_at as touch_ts,
        impressions.impression_id,
        impressions.channel,
        impressions.source as utm_source,
        impressions.medium as utm_medium,
        impressions.campaign as utm_campaign,
        impressions.placement,
        cycled_conversions.identity_key,
        impressions.received_at
    from cycled_conversions
    inner join impressions
        on cycled_conversions.account_id = impressions.account_id
            and cycled_conversions.environment = impressions.environment
            and cycled_conversions.identity_key = impressions.identity_key
            and impressions.occurred_at >= cycled_conversions.conversion_ts - interval '{{ lookback }} days'
            and cycled_conversions.conversion_ts >= impressions.occurred_at
    {%- if cycles %}
        and (cycled_conversions.previous_conversion_at is null
             or impressions.occurred_at > cycled_conversions.previous_conversion_at)
        {%- endif %}

),

non_converting as (

    select
        paths.account_id,
        paths.environment,
        paths.journey_id,
        null::varchar(40) as conversion_id,
        false as converted,
        null::timestamptz as conversion_ts,
        null::text as conversion_type,
        0::numeric(18, 4) as revenue,
        impressions.occurred_at as touch_ts,
        impressions.impression_id,
        impressions.channel,
        impressions.source as utm_source,
        impressions.medium as utm_medium,
        impressions.campaign as utm_campaign,
        impressions.placement,
        paths.identity_key,
        impressions.received_at
    from paths
    inner join impressions
        on paths.account_id = impressions.account_id
            and paths.environment = impressions.environment
            and paths.identity_key = impressions.identity_key
            and impressions.occurred_at >= paths.last_touch_at - interval '{{ lookback }} days'
            and paths.last_touch_at >= impressions.occurred_at

),

final as (

    select
        account_id,
        environment,
        journey_id,
        conversion_id,
        converted,
        conversion_ts,
        conversion_type,
        revenue,
        touch_ts,
        impression_id,
        channel,
        utm_source,
        utm_medium,
        utm_campaign,
        placement,
        'impression'::text as touch_kind,
        identity_key,
        received_at
    from converting
    union all
    select
        account_id,
        environment,
        journey_id,
        conversion_id,
        converted,
        conversion_ts,
        conversion_type,
        revenue,
        touch_ts,
        impression_id,
        channel,
        utm_source,
        utm_medium,
        utm_campaign,
        placement,
        'impression'::text as touch_kind,
        identity_key,
        received_at
    from non_converting

)

select * from final
