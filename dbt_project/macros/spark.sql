{#- Spark only: dbt-spark's seed loading (its spark__create_csv_table and spark__load_csv_rows,
    found first through the `dispatch` search order of dbt_project.yml), given the seeds with
    their `text` column types (_seeds.yml, written for PostgreSQL) as Spark's `string`. -#}
{% macro spark__create_csv_table(model, agate_table) %}
    {{ return(dbt.spark__create_csv_table(spark_seed_model(model), agate_table)) }}
{% endmacro %}

{% macro spark__load_csv_rows(model, agate_table) %}
    {{ return(dbt.spark__load_csv_rows(spark_seed_model(model), agate_table)) }}
{% endmacro %}

{#- A copy of the seed `model` whose config.column_types say `string` where they say `text`. -#}
{% macro spark_seed_model(model) %}
    {%- set types = {} -%}
    {%- for column, type in (model['config'].get('column_types') or {}).items() -%}
        {%- do types.update({column: 'string' if type | lower == 'text' else type}) -%}
    {%- endfor -%}
    {%- set config = {} -%}
    {%- do config.update(model['config']) -%}
    {%- do config.update({'column_types': types}) -%}
    {%- set copied = {} -%}
    {%- do copied.update(model) -%}
    {%- do copied.update({'config': config}) -%}
    {{ return(copied) }}
{% endmacro %}
