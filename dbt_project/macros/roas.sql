{#- The spend × credits join of the ROAS marts (rpt_channel_roas, rpt_campaign_roas), one copy.

    credited: a relation of (account_id, environment, model, day, <keys>, conversions, revenue);
    spend: of (account_id, environment, day, <keys>, spend, spend_currency); models_from: the
    aggregate whose models see the spend (spend does not depend on the model: every model of
    the account sees the same spend). Keys are joined with plain equality (a full join hashes
    on it): callers turn "none" into ''. Both sides are kept: credits without spend (zero spend,
    null ratios) and spend without credits (zero conversions and revenue, ROAS 0). -#}
{% macro roas_rows(credited, spend, models_from, keys) %}
    with

    models as (

        select distinct account_id, environment, model
        from {{ models_from }}

    ),

    spend_by_model as (

        select spend.*, models.model
        from {{ spend }} as spend
        inner join models
            on spend.account_id = models.account_id
            and spend.environment = models.environment

    )

    select
        {%- for column in ['account_id', 'environment', 'model', 'day'] + keys %}
        coalesce(credited.{{ column }}, spend_by_model.{{ column }}) as {{ column }},
        {%- endfor %}
        coalesce(spend_by_model.spend, 0) as spend,
        spend_by_model.spend_currency,
        spend_by_model.impressions,
        spend_by_model.clicks,
        coalesce(credited.conversions, 0) as conversions,
        coalesce(credited.revenue, 0) as revenue,
        coalesce(credited.revenue, 0) / nullif(spend_by_model.spend, 0) as roas,
        spend_by_model.spend / nullif(credited.conversions, 0) as cost_per_conversion
    from {{ credited }} as credited
    full outer join spend_by_model
        on credited.account_id = spend_by_model.account_id
        and credited.environment = spend_by_model.environment
        and credited.model = spend_by_model.model
        and credited.day = spend_by_model.day
        {%- for column in keys %}
        and credited.{{ column }} = spend_by_model.{{ column }}
        {%- endfor %}
{% endmacro %}
