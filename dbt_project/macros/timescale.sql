{#- The one switch between the two database paths (docs/architecture.md, "Two database paths").

    The target is `timescaledb` when the extension is installed (mbuzz.warehouse detects it),
    `postgres` otherwise. Models never branch on anything else. -#}

{% macro is_timescale() -%}
    {{ return(target.type == 'timescaledb') }}
{%- endmacro %}


{#- Daily aggregates: a continuous aggregate (with a refresh policy) under TimescaleDB, a
    materialized view (refreshed on every dbt run) on plain PostgreSQL. -#}
{% macro aggregate_materialization() -%}
    {{ return('continuous_aggregate' if is_timescale() else 'materialized_view') }}
{%- endmacro %}


{#- Start of the UTC day of a timestamptz, as timestamptz, on both paths. -#}
{% macro day_bucket(column) -%}
    {%- if is_timescale() -%}
        time_bucket(interval '1 day', {{ column }})
    {%- else -%}
        date_trunc('day', {{ column }}, 'UTC')
    {%- endif -%}
{%- endmacro %}


{#- Post-hook: make a freshly built incremental model a hypertable with compression, once.
    Idempotent (it checks the catalog), so it is safe on every run: it acts only after the table
    was (re)created (first run, --full-refresh). A no-op on plain PostgreSQL. Deliberately not
    dbt-timescaledb's `hypertable` materialization, which rebuilds the table on every run. -#}
{% macro hypertable_post_hook(time_column, compress_after=none, segmentby=none, orderby=none, chunk_interval='7 days') -%}
    {%- if is_timescale() -%}
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
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
