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


{#- The 1-based position of `needle` in `haystack`, 0 when absent. -#}
{% macro position_in(haystack, needle) -%}
    {{ return(adapter.dispatch('position_in', 'mbuzz')(haystack, needle)) }}
{%- endmacro %}

{% macro postgres__position_in(haystack, needle) -%}
    strpos({{ haystack }}, {{ needle }})
{%- endmacro %}

{% macro spark__position_in(haystack, needle) -%}
    instr({{ haystack }}, {{ needle }})
{%- endmacro %}


{#- The name of the time-zone-aware timestamp type in casts (Spark's timestamp is one: an instant). -#}
{% macro timestamp_type() -%}
    {{ return(adapter.dispatch('timestamp_type', 'mbuzz')()) }}
{%- endmacro %}

{% macro postgres__timestamp_type() -%}
    timestamptz
{%- endmacro %}

{% macro spark__timestamp_type() -%}
    timestamp
{%- endmacro %}


{#- The name of the text type in casts (`x::{{ text_type() }}`; Spark 4 reads `::` too). -#}
{% macro text_type() -%}
    {{ return(adapter.dispatch('text_type', 'mbuzz')()) }}
{%- endmacro %}

{% macro postgres__text_type() -%}
    text
{%- endmacro %}

{% macro spark__text_type() -%}
    string
{%- endmacro %}


{#- True when the JSON object in `column` has one of `keys` at its top level (`?` / `?|`). -#}
{% macro json_has_any_key(column, keys) -%}
    {{ return(adapter.dispatch('json_has_any_key', 'mbuzz')(column, keys)) }}
{%- endmacro %}

{% macro postgres__json_has_any_key(column, keys) -%}
    {%- if keys | length == 1 -%}
        {{ column }} ? '{{ keys[0] }}'
    {%- else -%}
        {{ column }} ?| {{ text_array(keys) }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__json_has_any_key(column, keys) -%}
    coalesce(arrays_overlap(json_object_keys({{ column }}), {{ text_array(keys) }}), false)
{%- endmacro %}


{#- After a text column in a sort, a partition or a grouping: compare bytes ("C"). PostgreSQL's
    byte-ordered sorts get abbreviated keys (int_sessions); Spark compares bytes already. -#}
{% macro collate_c() -%}
    {{ return(adapter.dispatch('collate_c', 'mbuzz')()) }}
{%- endmacro %}

{% macro postgres__collate_c() -%}
    collate "C"
{%- endmacro %}

{% macro spark__collate_c() -%}
{%- endmacro %}


{#- ... and back to the column's own collation (the output column keeps the database's). -#}
{% macro collate_default() -%}
    {{ return(adapter.dispatch('collate_default', 'mbuzz')()) }}
{%- endmacro %}

{% macro postgres__collate_default() -%}
    collate "default"
{%- endmacro %}

{% macro spark__collate_default() -%}
{%- endmacro %}


{#- An aggregate: `value` of the row with the greatest (`order_columns`…), among the rows
    where `condition` holds (null when none). `order_columns` must identify a row. -#}
{% macro newest_value(value, order_columns, condition) -%}
    {{ return(adapter.dispatch('newest_value', 'mbuzz')(value, order_columns, condition)) }}
{%- endmacro %}

{% macro postgres__newest_value(value, order_columns, condition) -%}
    (array_agg({{ value }} order by {% for c in order_columns %}{{ c }} desc{{ ", " if not loop.last }}{% endfor %}) filter (where {{ condition }}))[1]
{%- endmacro %}

{% macro spark__newest_value(value, order_columns, condition) -%}
    max_by({{ value }}, struct({{ order_columns | join(', ') }})) filter (where {{ condition }})
{%- endmacro %}


{#- The same, for the row with the least (`order_columns`…). -#}
{% macro oldest_value(value, order_columns, condition) -%}
    {{ return(adapter.dispatch('oldest_value', 'mbuzz')(value, order_columns, condition)) }}
{%- endmacro %}

{% macro postgres__oldest_value(value, order_columns, condition) -%}
    (array_agg({{ value }} order by {{ order_columns | join(', ') }}) filter (where {{ condition }}))[1]
{%- endmacro %}

{% macro spark__oldest_value(value, order_columns, condition) -%}
    min_by({{ value }}, struct({{ order_columns | join(', ') }})) filter (where {{ condition }})
{%- endmacro %}


{#- A CTE's `as …` keyword: PostgreSQL inlines it into each use (`not materialized`). -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'mbuzz')()) }}
{%- endmacro %}

{% macro postgres__not_materialized() -%}
    not materialized
{%- endmacro %}

{% macro spark__not_materialized() -%}
{%- endmacro %}

{#- ... and computes it once (`materialized`); Spark plans CTEs itself. -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'mbuzz')()) }}
{%- endmacro %}

{% macro postgres__materialized_cte() -%}
    materialized
{%- endmacro %}

{% macro spark__materialized_cte() -%}
{%- endmacro %}


{#- The rows of `relation` (as `alias`) that are the newest of their `keys` by `order_columns`
    (descending), then by row position: what staging deduplicates raw rows with. PostgreSQL: an
    anti-join (filters on event time and visitor push down into raw.events), ties broken by ctid.
    Spark: a window (the file rows have no position; the lake holds each key once). -#}
{% macro newest_rows(relation, alias, keys, order_columns) -%}
    {{ return(adapter.dispatch('newest_rows', 'mbuzz')(relation, alias, keys, order_columns)) }}
{%- endmacro %}

{% macro postgres__newest_rows(relation, alias, keys, order_columns, tie_break='ctid') -%}
    {%- set columns = order_columns + ([tie_break] if tie_break else []) -%}
    select {{ alias }}.*
    from {{ relation }} as {{ alias }}
    where not exists (
            select 1
            from {{ relation }} as newer
            where {% for key in keys %}newer.{{ key }} = {{ alias }}.{{ key }}
                and {% endfor %}({% for c in columns %}newer.{{ c }}{{ ", " if not loop.last }}{% endfor %})
                > ({% for c in columns %}{{ alias }}.{{ c }}{{ ", " if not loop.last }}{% endfor %})
        )
{%- endmacro %}

{#- TimescaleDB: compressed chunks have no ctid (only tableoid), so no row-position tie-break.
    None is needed: landing's wall (raw.event_keys, the conversions' key) stores a key once. -#}
{% macro timescaledb__newest_rows(relation, alias, keys, order_columns) -%}
    {{ return(postgres__newest_rows(relation, alias, keys, order_columns, tie_break=none)) }}
{%- endmacro %}

{% macro spark__newest_rows(relation, alias, keys, order_columns) -%}
    select * from (
        select
            {{ alias }}.*,
            row_number() over (
                partition by {% for key in keys %}{{ alias }}.{{ key }}{{ ", " if not loop.last }}{% endfor %}
                order by {% for c in order_columns %}{{ alias }}.{{ c }} desc{{ ", " if not loop.last }}{% endfor %}
            ) as mbuzz_newest
        from {{ relation }} as {{ alias }}
    ) as {{ alias }}
    where mbuzz_newest = 1
{%- endmacro %}


{#- The account's own domains (a sorted, distinct text array): settings.own_domains (a JSON
    array; anything else counts as none) plus var mbuzz__own_domains, trimmed, lower case,
    without `www.`. -#}
{% macro own_domains(settings) -%}
    {{ return(adapter.dispatch('own_domains', 'mbuzz')(settings)) }}
{%- endmacro %}

{% macro postgres__own_domains(settings) -%}
    array(
            select distinct regexp_replace(lower(btrim(domains.domain)), '^www\.', '')
            from (
                select
                    jsonb_array_elements_text(
                        case
                            when jsonb_typeof({{ settings }} -> 'own_domains') = 'array'
                                then {{ settings }} -> 'own_domains'
                            else '[]'::jsonb
                        end
                    ) as domain
                union all
                select unnest({{ text_array(var('mbuzz__own_domains')) }})
            ) as domains
            where btrim(domains.domain) <> ''
            order by 1
        )
{%- endmacro %}

{% macro spark__own_domains(settings) -%}
    array_sort(array_distinct(transform(
        filter(
            concat(
                coalesce(from_json(get_json_object({{ settings }}, '$.own_domains'), 'array<string>'), {{ text_array([]) }}),
                {{ text_array(var('mbuzz__own_domains')) }}
            ),
            domain -> btrim(domain) <> ''
        ),
        domain -> regexp_replace(lower(btrim(domain)), '^www[.]', '')
    )))
{%- endmacro %}


{#- A text array literal, lower case (the keys the models look up). -#}
{% macro text_array(values) -%}
    {{ return(adapter.dispatch('text_array', 'mbuzz')(values)) }}
{%- endmacro %}

{% macro postgres__text_array(values) -%}
    {%- if values | length == 0 -%}
        array[]::text[]
    {%- else -%}
        array[{%- for v in values -%}'{{ v | lower | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%}]::text[]
    {%- endif -%}
{%- endmacro %}

{% macro spark__text_array(values) -%}
    cast(array({%- for v in values -%}'{{ v | lower | replace("\\", "\\\\") | replace("'", "\\'") }}'{{ ", " if not loop.last }}{%- endfor -%}) as array<string>)
{%- endmacro %}


{#- Pre-hook of every model: session settings for warehouse-sized queries (see session_settings). -#}
{% macro session_settings() -%}
    {{ return(adapter.dispatch('session_settings', 'mbuzz')()) }}
{%- endmacro %}

{#- JIT off: the estimates over seeds and CTEs are large enough to trigger JIT compilation that
    costs far more than it saves (seconds per model); no merge joins (the row estimates over CTEs
    are poor and hash joins are what these joins want); work_mem big enough for the
    sessionisation sorts. -#}
{% macro postgres__session_settings() -%}
    set jit = off;
    set enable_mergejoin = off;
    set work_mem = '{{ var("mbuzz__work_mem") }}'
{%- endmacro %}

{#- Spark: dates and times of day in UTC, whatever the cluster's default (one statement: a hook
    over Thrift runs one). -#}
{% macro spark__session_settings() -%}
    set spark.sql.session.timeZone = UTC
{%- endmacro %}


{#- The materialization of the incremental models (int_sessions and int_sessions_classified by
    visitor, fct_conversion_journeys by identity): delete+insert on PostgreSQL; a full rebuild on
    Spark, whose plain Parquet tables have no delete (insert_overwrite replaces partitions, merge
    needs Delta or Iceberg). -#}
{% macro visitor_incremental() -%}
    {{ return(adapter.dispatch('visitor_incremental', 'mbuzz')()) }}
{%- endmacro %}

{% macro postgres__visitor_incremental() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__visitor_incremental() -%}
    {{ return('table') }}
{%- endmacro %}


{#- on-run-end: the views of schema `bi` made again (dbt drops them when it rebuilds a mart;
    migration 0012). Spark has no `bi` schema (no BI grants there yet). -#}
{% macro refresh_bi_views() -%}
    {{ return(adapter.dispatch('refresh_bi_views', 'mbuzz')()) }}
{%- endmacro %}

{% macro postgres__refresh_bi_views() -%}
    do $$ begin if to_regprocedure('raw.refresh_bi_views()') is not null then perform raw.refresh_bi_views(); end if; end $$
{%- endmacro %}

{% macro spark__refresh_bi_views() -%}
    select 1
{%- endmacro %}


{#- The calendar date of a timestamp in time zone `tz` (an expression: an IANA name). -#}
{% macro local_date(column, tz) -%}
    {{ return(adapter.dispatch('local_date', 'mbuzz')(column, tz)) }}
{%- endmacro %}

{% macro postgres__local_date(column, tz) -%}
    ({{ column }} at time zone {{ tz }})::date
{%- endmacro %}

{% macro spark__local_date(column, tz) -%}
    to_date(from_utc_timestamp({{ column }}, {{ tz }}))
{%- endmacro %}


{#- The JSON object under `key` of a JSON column, `{}` when it is anything else or missing. -#}
{% macro json_object_at(column, key) -%}
    {{ return(adapter.dispatch('json_object_at', 'mbuzz')(column, key)) }}
{%- endmacro %}

{% macro postgres__json_object_at(column, key) -%}
    case when jsonb_typeof({{ column }} -> '{{ key }}') = 'object' then {{ column }} -> '{{ key }}' else '{}'::jsonb end
{%- endmacro %}

{#- Spark keeps JSON as text: get_json_object gives an object back as compact JSON text. -#}
{% macro spark__json_object_at(column, key) -%}
    coalesce(case when left(get_json_object({{ column }}, '$.{{ key }}'), 1) = '{' then get_json_object({{ column }}, '$.{{ key }}') end, '{}')
{%- endmacro %}


{#- A join that turns columns of `relation` into rows (`name_column`: the column's name, as a
    constant; `value_column`: its value): `cross join lateral (values …)` on PostgreSQL,
    `cross join lateral inline(array(named_struct(…)))` on Spark (whose VALUES take no outer columns). -#}
{% macro columns_as_rows(relation, columns, alias, name_column, value_column) -%}
    {{ return(adapter.dispatch('columns_as_rows', 'mbuzz')(relation, columns, alias, name_column, value_column)) }}
{%- endmacro %}

{% macro postgres__columns_as_rows(relation, columns, alias, name_column, value_column) -%}
    cross join
        lateral (
            values
            {%- for column in columns %}
            ('{{ column }}', {{ relation }}.{{ column }}){{ "," if not loop.last }}
            {%- endfor %}
        ) as {{ alias }} ({{ name_column }}, {{ value_column }})
{%- endmacro %}

{% macro spark__columns_as_rows(relation, columns, alias, name_column, value_column) -%}
    cross join lateral inline(array(
        {%- for column in columns %}
        named_struct('{{ name_column }}', '{{ column }}', '{{ value_column }}', {{ relation }}.{{ column }}){{ "," if not loop.last }}
        {%- endfor %}
    )) as {{ alias }} ({{ name_column }}, {{ value_column }})
{%- endmacro %}


{#- `{% call first_per_group(keys, order_columns) %} columns from … where … {% endcall %}`: the
    first row of each group of `keys` by `order_columns`: `select distinct on (…) … order by` on
    PostgreSQL; a row_number() window on Spark (an extra column mbuzz_rank). -#}
{% macro first_per_group(keys, order_columns) -%}
    {{ return(adapter.dispatch('first_per_group', 'mbuzz')(keys, order_columns, caller())) }}
{%- endmacro %}

{% macro postgres__first_per_group(keys, order_columns, body) -%}
    select distinct on ({{ keys | join(', ') }})
    {{- body }}
    order by {{ (keys + order_columns) | join(', ') }}
{%- endmacro %}

{% macro spark__first_per_group(keys, order_columns, body) -%}
    select * from (
        select
            row_number() over (partition by {{ keys | join(', ') }} order by {{ order_columns | join(', ') }}) as mbuzz_rank,
            {{- body }}
    ) as ranked
    where mbuzz_rank = 1
{%- endmacro %}


{#- True when `host` is one of the `domains` (a text array) or a subdomain of one. -#}
{% macro host_in_domains(host, domains) -%}
    {{ return(adapter.dispatch('host_in_domains', 'mbuzz')(host, domains)) }}
{%- endmacro %}

{% macro postgres__host_in_domains(host, domains) -%}
    exists (
                select 1
                from unnest({{ domains }}) as own (domain)
                where {{ host }} = own.domain
                    or {{ host }} like '%.' || own.domain
            )
{%- endmacro %}

{% macro spark__host_in_domains(host, domains) -%}
    coalesce(exists({{ domains }}, domain -> {{ host }} = domain or {{ host }} like '%.' || domain), false)
{%- endmacro %}


{#- A case-insensitive regular-expression match (`~*`; the seeds' patterns read the same in
    POSIX and Java regular expressions). -#}
{% macro regex_matches_ci(value, pattern) -%}
    {{ return(adapter.dispatch('regex_matches_ci', 'mbuzz')(value, pattern)) }}
{%- endmacro %}

{% macro postgres__regex_matches_ci(value, pattern) -%}
    {{ value }} ~* {{ pattern }}
{%- endmacro %}

{% macro spark__regex_matches_ci(value, pattern) -%}
    {{ value }} rlike concat('(?i)', {{ pattern }})
{%- endmacro %}


{#- Where a model the Spark attribution application reads is stored (dbt-spark's `location_root`):
    <MBUZZ_LAKE>/<folder>/<model> on Spark, an external Parquet table that application reads by path
    (it has a catalogue of its own); nothing elsewhere. Rebuilt in place: the Spark SQL server needs
    spark.sql.legacy.allowNonEmptyLocationInCTAS=true (docs/operations.md, "Spark (preview)"). -#}
{% macro lake_location(folder) -%}
    {{ return(adapter.dispatch('lake_location', 'mbuzz')(folder)) }}
{%- endmacro %}

{% macro postgres__lake_location(folder) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__lake_location(folder) -%}
    {%- set lake = env_var('MBUZZ_LAKE', '').rstrip('/') -%}
    {{ return(lake ~ '/' ~ folder if lake else none) }}
{%- endmacro %}
