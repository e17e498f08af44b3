{#- One row per event: typed, deduplicated on (account_id, event_id), live data only unless
    var mbuzz__include_test. Marketing fields come from properties, then from the Segment
    context, then from the page URL's query string. -#}

{#- (utm field, its key in Segment's context.campaign) -#}
{%- set utm_fields = [
    ('source', 'source'), ('medium', 'medium'), ('campaign', 'name'), ('term', 'term'), ('content', 'content')
] %}
{%- set marketing_fields = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] + click_id_names() %}

with

deduplicated as (

    -- landing already stores each (account_id, event_id) once (raw.events' unique index on plain
    -- PostgreSQL, migration 0005; raw.event_keys where raw.events is a hypertable); this keeps
    -- staging right if rows are ever replayed into raw by another door. An anti-join (not a window)
    -- so filters on event time and visitor push down into raw.events.
    {{ newest_rows(source('raw', 'events'), 'events', ['account_id', 'event_id'], ['received_at', 'occurred_at']) }}

),

typed as (

    select
        deduplicated.account_id,
        deduplicated.event_id,
        deduplicated.environment,
        lower(deduplicated.event_type) as event_type,
        deduplicated.visitor_id,
        nullif(btrim(deduplicated.user_id), '') as user_id,
        nullif(btrim(deduplicated.session_id), '') as client_session_id,
        deduplicated.occurred_at,
        deduplicated.received_at,
        page.page_url,
        page.referrer,
        page.has_marketing,
        deduplicated.properties,
        deduplicated.context
    from deduplicated
    -- `offset 0` computes the URL once per event (it is read ~15 times below) while filters on
    -- the event's own columns still push down to raw.events
    cross join
        lateral (
            select
                urls.*,
                -- most events (pages after the landing) carry no campaign data at all: one cheap test
                -- spares them the 13 lookups below (the fields are null exactly when it is false)
                {{ json_has_any_key('deduplicated.properties', marketing_fields) }}
                or {{ json_has_any_key('deduplicated.context', ['campaign']) }}
                or {{ position_in('urls.page_url', "'='") }} > 0 as has_marketing
            from (
                select
                    coalesce(
                        nullif(btrim({{ json_text('deduplicated.properties', ['url']) }}), ''),
                        nullif(btrim({{ json_text('deduplicated.context', ['page', 'url']) }}), '')
                    ) as page_url,
                    coalesce(
                        nullif(btrim({{ json_text('deduplicated.properties', ['referrer']) }}), ''),
                        nullif(btrim({{ json_text('deduplicated.context', ['page', 'referrer']) }}), '')
                    ) as referrer
            ) as urls
            offset 0  -- noqa: AM09
        ) as page
    where deduplicated.environment in {{ environments_sql() }}

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
        referrer,
        -- where an impression's ad was shown (docs/impressions.md); null on other events
        case
            when event_type = 'impression' then nullif(btrim({{ json_text('properties', ['placement']) }}), '')
        end as placement,
        -- sqlfluff mis-reads the indentation of a Jinja loop that ends a select list
        -- noqa: disable=LT02
        {%- for field, segment in utm_fields %}
        case
            when has_marketing
                then coalesce(
                    nullif(btrim({{ json_text('properties', ['utm_' ~ field]) }}), ''),
                    nullif(btrim({{ json_text('context', ['campaign', segment]) }}), ''),
                    {{ url_param('page_url', 'utm_' ~ field) }}
                )
        end as utm_{{ field }},
        {%- endfor %}
        {%- for click_id in click_id_names() %}
        case
            when has_marketing
                then coalesce(
                    nullif(btrim({{ json_text('properties', [click_id]) }}), ''),
                    {{ url_param('page_url', click_id) }}
                )
        end as {{ click_id }}{{ "," if not loop.last }}
        {%- endfor %}
    -- noqa: enable=LT02
    from typed

)

select * from final
