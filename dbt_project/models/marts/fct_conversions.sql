{#- One row per conversion (grain: account_id + conversion_id), with the identity it is
    attributed to and the size of its journey (0 touches: credited to `unassigned`). -#}

with

conversions as (

    select * from {{ ref('stg_raw__conversions') }}

),

journeys as (

    select * from {{ ref('fct_conversion_journeys') }}

),

journey_sizes as (

    select
        account_id,
        conversion_id,
        max(identity_key) as identity_key,
        count(session_id) as touch_count,
        min(touch_ts) as first_touch_at,
        {{ oldest_value('channel', ['touch_index'], 'session_id is not null') }} as first_touch_channel,
        {{ newest_value('channel', ['touch_index'], 'session_id is not null') }} as last_touch_channel
    from journeys
    where converted
    group by account_id, conversion_id

),

final as (

    select
        conversions.account_id,
        conversions.environment,
        conversions.conversion_id,
        conversions.conversion_type,
        conversions.visitor_id,
        conversions.user_id,
        journey_sizes.identity_key,
        conversions.event_id,
        conversions.revenue,
        conversions.currency,
        conversions.original_revenue,
        conversions.original_currency,
        conversions.fx_rate_missing,
        conversions.converted_at,
        conversions.converted_local_date as converted_date,
        coalesce(journey_sizes.touch_count, 0) as touch_count,
        journey_sizes.first_touch_at,
        journey_sizes.first_touch_channel,
        journey_sizes.last_touch_channel
    from conversions
    left join journey_sizes
        on conversions.account_id = journey_sizes.account_id
            and conversions.conversion_id = journey_sizes.conversion_id

)

select * from final
