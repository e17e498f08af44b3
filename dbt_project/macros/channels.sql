{#- The channel rules (docs/channels.md) as reusable query bodies, so sessions
    (int_sessions_classified) and impressions (int_impressions) are classified by the same SQL
    over the same seeds. -#}

{#- The ordered rules of the channel_rules seed; blank cells are "no condition" (seed files may
    load them as '' or null). -#}
{% macro channel_rules_select() -%}
    select
        priority,
        channel,
        nullif(lower(btrim(source_category)), '') as source_category,
        nullif(source_pattern, '') as source_pattern,
        nullif(medium_pattern, '') as medium_pattern,
        nullif(campaign_pattern, '') as campaign_pattern,
        nullif(and_medium_pattern, '') as and_medium_pattern
    from {{ ref('channel_rules') }}
{%- endmacro %}

{#- The category of each lower-cased `name` of the relation `names`: exact match in the
    source_categories seed, else its registered domain, else its brand label. -#}
{% macro source_name_categories(names) -%}
    select
        {{ names }}.name,
        coalesce(exact.category, by_domain.category, by_brand.category) as category
    from {{ names }}
    left join {{ ref('source_categories') }} as exact
        on lower(exact.source) = {{ names }}.name
    left join {{ ref('source_categories') }} as by_domain
        on lower(by_domain.source) = {{ registered_domain(names ~ '.name') }}
    left join {{ ref('source_categories') }} as by_brand
        on lower(by_brand.source) = {{ domain_brand(names ~ '.name') }}
{%- endmacro %}

{#- One row per distinct (source_key, medium_key, campaign_key) of `tuples` with its
    source_category (the category of its source_key in `name_categories`, from
    source_name_categories()) and the first matching rule of `rules` (channel_rules_select()):
    channel and channel_rule. The one home of the categories join and the rule match. -#}
{% macro classify_channel_tuples(tuples, name_categories, rules) -%}
    select distinct on (categorised.source_key, categorised.medium_key, categorised.campaign_key)
        categorised.*,
        {{ rules }}.channel,
        {{ rules }}.priority as channel_rule
    from (
        select
            {{ tuples }}.*,
            {{ name_categories }}.category as source_category
        from {{ tuples }}
        left join {{ name_categories }}
            on {{ tuples }}.source_key = {{ name_categories }}.name
    ) as categorised
    inner join {{ rules }}
        on (
            (
                {{ rules }}.source_category is null
                and {{ rules }}.source_pattern is null
                and {{ rules }}.medium_pattern is null
                and {{ rules }}.campaign_pattern is null
            )
            or categorised.source_category = {{ rules }}.source_category
            or categorised.source_key ~* {{ rules }}.source_pattern
            or categorised.medium_key ~* {{ rules }}.medium_pattern
            or categorised.campaign_key ~* {{ rules }}.campaign_pattern
        )
        and ({{ rules }}.and_medium_pattern is null or categorised.medium_key ~* {{ rules }}.and_medium_pattern)
    order by categorised.source_key, categorised.medium_key, categorised.campaign_key, {{ rules }}.priority
{%- endmacro %}
