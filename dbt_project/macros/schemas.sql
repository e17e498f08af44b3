{#- Custom schemas are used as given (`staging`, `intermediate`, `marts`, `seeds`), not prefixed
    with the target schema: analysts and BI tools find `marts.fct_sessions` on every target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
