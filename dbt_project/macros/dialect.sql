{#- SQL that differs between engines, as `adapter.dispatch` macros: `postgres__…` (also used on
    the timescaledb target, whose adapter extends postgres) and `spark__…` (Spark SQL). Models
    write these macros instead of the dialect's own syntax, so one set of models serves both. -#}


{#- A text value inside a JSON column, by a path of keys (`->` / `->>` on PostgreSQL). -#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text', 'mbuzz')(column, path)) }}
{%- endmacro %}

{% macro postgres__json_text(column, path) -%}
    ({{ column }}{% for key in path %} {{ '->>' if loop.last else '->' }} '{{ key }}'{% endfor %})
{%- endmacro %}

{% macro spark__json_text(column, path) -%}
    get_json_object({{ column }}, '$.{{ path | join(".") }}')
{%- endmacro %}


{#- The UTC calendar date of a timestamp. Spark's dates follow the session time zone, which the
    spark target sets to UTC (spark.sql.session.timeZone). -#}
{% macro utc_date(column) -%}
    {{ return(adapter.dispatch('utc_date', 'mbuzz')(column)) }}
{%- endmacro %}

{% macro postgres__utc_date(column) -%}
    ({{ column }} at time zone 'UTC')::date
{%- endmacro %}

{% macro spark__utc_date(column) -%}
    to_date({{ column }})
{%- endmacro %}


{#- A timestamp before every event: the open lower bound of a missing watermark. -#}
{% macro timestamp_min() -%}
    {{ return(adapter.dispatch('timestamp_min', 'mbuzz')()) }}
{%- endmacro %}

{% macro postgres__timestamp_min() -%}
    '-infinity'::timestamptz
{%- endmacro %}

{% macro spark__timestamp_min() -%}
    timestamp '0001-01-01 00:00:00'
{%- endmacro %}
