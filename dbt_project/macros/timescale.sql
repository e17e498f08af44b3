{#- The switches between the database paths (docs/architecture.md, "Two database paths"), as
    `adapter.dispatch` macros: dbt picks `timescaledb__…` on the timescaledb target (whose adapter
    extends postgres; mbuzz.warehouse picks it when the extension is installed), else
    `postgres__…`. Models never branch on the target themselves. -#}


{#- Daily aggregates: a continuous aggregate (with a refresh policy) under TimescaleDB, a
    materialized view (refreshed on every dbt run) on plain PostgreSQL. -#}
{% macro aggregate_materialization() -%}
    {{ return(adapter.dispatch('aggregate_materialization', 'mbuzz')()) }}
{%- endmacro %}

{% macro postgres__aggregate_materialization() -%}
    {{ return('materialized_view') }}
{%- endmacro %}

{% macro timescaledb__aggregate_materialization() -%}
    {{ return('continuous_aggregate') }}
{%- endmacro %}

{#- Spark (preview): a table, rebuilt on every run. -#}
{% macro spark__aggregate_materialization() -%}
    {{ return('table') }}
{%- endmacro %}


{#- Start of the UTC day of a timestamptz, as timestamptz, on every path. -#}
{% macro day_bucket(column) -%}
    {{ return(adapter.dispatch('day_bucket', 'mbuzz')(column)) }}
{%- endmacro %}

{% macro postgres__day_bucket(column) -%}
    date_trunc('day', {{ column }}, 'UTC')
{%- endmacro %}

{% macro timescaledb__day_bucket(column) -%}
    time_bucket(interval '1 day', {{ column }})
{%- endmacro %}

{#- Spark: the session time zone is UTC (spark__session_settings). -#}
{% macro spark__day_bucket(column) -%}
    date_trunc('DAY', {{ column }})
{%- endmacro %}


{#- Post-hook: make a freshly built incremental model a hypertable with compression, once.
    Idempotent (it checks the catalog), so it is safe on every run: it acts only after the table
    was (re)created (first run, --full-refresh). A no-op on plain PostgreSQL. Deliberately not
    dbt-timescaledb's `hypertable` materialization, which rebuilds the table on every run. -#}
{% macro hypertable_post_hook(time_column, compress_after=none, segmentby=none, orderby=none, chunk_interval='7 days') -%}
    {{ return(adapter.dispatch('hypertable_post_hook', 'mbuzz')(time_column, compress_after, segmentby, orderby, chunk_interval)) }}
{%- endmacro %}

{% macro postgres__hypertable_post_hook(time_column, compress_after, segmentby, orderby, chunk_interval) -%}
    select 1
{%- endmacro %}

{% macro spark__hypertable_post_hook(time_column, compress_after, segmentby, orderby, chunk_interval) -%}
    select 1
{%- endmacro %}

{% macro timescaledb__hypertable_post_hook(time_column, compress_after, segmentby, orderby, chunk_interval) -%}
    do $hypertable$
    begin
        if not exists (
            select 1 from timescaledb_information.hypertables
            where hypertable_schema = '{{ this.schema }}' and hypertable_name = '{{ this.identifier }}'
        ) then
            perform create_hypertable('{{ this }}', '{{ time_column }}',
                chunk_time_interval => interval '{{ chunk_interval }}', migrate_data => true);
            {%- if compress_after %}
            alter table {{ this }} set (
                timescaledb.compress
                {%- if segmentby %}, timescaledb.compress_segmentby = '{{ segmentby }}'{% endif %}
                {%- if orderby %}, timescaledb.compress_orderby = '{{ orderby }}'{% endif %}
            );
            perform add_compression_policy('{{ this }}', interval '{{ compress_after }}', if_not_exists => true);
            {%- endif %}
        end if;
    end
    $hypertable$
{%- endmacro %}
