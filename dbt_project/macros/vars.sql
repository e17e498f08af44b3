{#- Typed access to the project's vars (defaults documented in dbt_project.yml). -#}

{% macro environments_sql() -%}
    {%- if var('mbuzz__include_test') -%} ('live', 'test') {%- else -%} ('live') {%- endif -%}
{%- endmacro %}


{#- The click-id properties read from events (their source/medium mapping is the click_ids seed). -#}
{% macro click_id_names() -%}
    {{ return(['gclid', 'gbraid', 'wbraid', 'dclid', 'msclkid', 'fbclid', 'ttclid', 'li_fat_id']) }}
{%- endmacro %}


{% macro milestone_types() -%}
    {{ return(var('mbuzz__milestone_event_types')) }}
{%- endmacro %}


{#- Whom a journey follows (docs/architecture.md, "Glossary"): `user:<id>` once the visitor is linked to a
    user, else `visitor:<id>`. The Python port's copy is mbuzz.sessions.identity_key. -#}
{% macro identity_key_sql(user_id, visitor_id) -%}
    case when {{ user_id }} is not null then 'user:' || {{ user_id }} else 'visitor:' || {{ visitor_id }} end
{%- endmacro %}
