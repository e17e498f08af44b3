{#- Spark only: the attribution credits written by the Spark run (mbuzz/spark_attribution.py) as
    the source attribution.attribution_credits, a Parquet table partitioned by account_id at
    MBUZZ_SPARK_CREDITS (default: <MBUZZ_LAKE>/attribution_credits), its partitions recovered on
    every run. Called by spark__create_mbuzz_functions (on-run-start). -#}
{% macro spark__create_attribution_credits(lake) -%}
    {%- set location = env_var('MBUZZ_SPARK_CREDITS', lake ~ '/attribution_credits') -%}
    {%- do run_query('create database if not exists attribution') -%}
    {#- dropped first (an external table: its files stay), so a changed location is followed -#}
    {%- do run_query('drop table if exists attribution.attribution_credits') -%}
    {%- do run_query("create table attribution.attribution_credits ("
        ~ "credit_id string, run_id string, environment string, model string, conversion_id string, "
        ~ "conversion_type string, converted_at timestamp, touch_index int, session_id string, channel string, "
        ~ "credit double, revenue_credit double, utm_source string, utm_medium string, utm_campaign string, "
        ~ "local_day date, touch_kind string, account_id string)"
        ~ " using parquet partitioned by (account_id) location '" ~ location ~ "'") -%}
    {%- do run_query('msck repair table attribution.attribution_credits') -%}
    {%- do run_query('refresh table attribution.attribution_credits') -%}
{%- endmacro %}
