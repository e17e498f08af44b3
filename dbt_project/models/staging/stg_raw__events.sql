{#- One row per event: typed, deduplicated on (account_id, event_id), live data only unless
    var mbuzz__include_test. Marketing fields come from properties, then from the Segment
    context, then from the page URL's query string. -#}

with

deduplicated as (

    -- raw.event_keys already makes (account_id, event_id) unique; this keeps staging right if
    -- rows are ever replayed into raw. An anti-join (not a window) so filters on event time and
    -- visitor push down into raw.events.
    select events.*
    from {{ source('raw', 'events') }} as events
    where not exists (
        select 1
        from {{ source('raw', 'events') }} as newer
        where newer.account_id = events.account_id
          and newer.event_id = events.event_id
          and (newer.received_at, newer.occurred_at, newer.ctid) > (events.received_at, events.occurred_at, events.ctid)
    )

),

typed as (

    select
        account_id,
        event_id,
        environment,
        lower(event_type) as event_type,
        visitor_id,
        nullif(btrim(user_id), '') as user_id,
        nullif(btrim(session_id), '') as client_session_id,
        occurred_at,
        received_at,
        coalesce(
            nullif(btrim(properties ->> 'url'), ''),
            nullif(btrim(context -> 'page' ->> 'url'), '')
        ) as page_url,
        coalesce(
            nullif(btrim(properties ->> 'referrer'), ''),
            nullif(btrim(context -> 'page' ->> 'referrer'), '')
        ) as referrer,
        properties,
        context
    from deduplicated
    where environment in {{ environments_sql() }}

),

final as (

    select
        account_id,
        event_id,
        environment,
        event_type,
        visitor_id,
        user_id,
        client_session_id,
        occurred_at,
        received_at,
        page_url,
        {{ url_host('page_url') }} as page_host,
        referrer,
        {{ url_host('referrer') }} as referrer_host,
        {%- for field, segment in [('source', 'source'), ('medium', 'medium'), ('campaign', 'name'), ('term', 'term'), ('content', 'content')] %}
        coalesce(
            nullif(btrim(properties ->> 'utm_{{ field }}'), ''),
            nullif(btrim(context -> 'campaign' ->> '{{ segment }}'), ''),
            case when page_url like '%utm_{{ field }}=%' then {{ url_param('page_url', 'utm_' ~ field) }} end
        ) as utm_{{ field }},
        {%- endfor %}
        {%- for click_id in click_id_names() %}
        coalesce(
            nullif(btrim(properties ->> '{{ click_id }}'), ''),
            case when page_url like '%{{ click_id }}=%' then {{ url_param('page_url', click_id) }} end
        ) as {{ click_id }}{{ "," if not loop.last }}
        {%- endfor %}
    from typed

)

select * from final
