{#- One row per impression (grain: account_id + impression_id): an `impression` event, an ad
    served and seen (docs/impressions.md). Impressions are not sessions (int_sessions leaves them
    out); they become touches of kind `impression` of the identity's journeys
    (fct_journey_impressions). source / medium / campaign are the event's UTMs (`(not set)` when
    the source or medium is missing: an impression has no referrer or click id to derive them
    from); channel comes from the same channel rules as sessions (macros/channels.sql). -#}

{{ config(indexes=[{'columns': ['account_id', 'environment', 'identity_key', 'occurred_at']}]) }}

with

events as (

    select * from {{ ref('stg_raw__events') }}
    where event_type = 'impression'

),

identities as (

    select * from {{ ref('int_identities') }}

),

channel_rules as (

    {{ channel_rules_select() }}

),

impressions as (

    select
        events.account_id,
        events.environment,
        events.event_id as impression_id,
        events.visitor_id,
        events.occurred_at,
        events.received_at,
        coalesce(events.utm_source, '(not set)') as source,
        coalesce(events.utm_medium, '(not set)') as medium,
        events.utm_campaign as campaign,
        events.placement,
        {{ identity_key_sql('identities.user_id', 'events.visitor_id') }} as identity_key
    from events
    left join identities
        on events.account_id = identities.account_id
            and events.environment = identities.environment
            and events.visitor_id = identities.visitor_id

),

tuples as (

    select distinct
        lower(source) as source_key,
        lower(medium) as medium_key,
        lower(campaign) as campaign_key
    from impressions

),

names as (

    select distinct source_key as name from tuples

),

name_categories as (

    {{ source_name_categories('names') }}

),

classified as (

    {{ classify_channel_tuples('tuples', 'name_categories', 'channel_rules') }}

),

final as (

    select
        impressions.account_id,
        impressions.environment,
        impressions.impression_id,
        impressions.visitor_id,
        impressions.identity_key,
        impressions.occurred_at,
        impressions.source,
        impressions.medium,
        impressions.campaign,
        impressions.placement,
        classified.source_category,
        coalesce(classified.channel, 'unassigned') as channel,
        classified.channel_rule,
        impressions.received_at
    from impressions
    left join classified
        on classified.source_key = lower(impressions.source)
            and classified.medium_key = lower(impressions.medium)
            and coalesce(classified.campaign_key, '') = coalesce(lower(impressions.campaign), '')

)

select * from final
