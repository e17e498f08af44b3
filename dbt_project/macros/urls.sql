{#- URL and referrer parsing shared by the staging and channel models. The Python explain
    function (mbuzz/channels.py) applies the same regular expressions. -#}

{#- The host of a URL, lower-cased, without a leading `www.`: the text between `://` and the
    next `/`, `?` or `#`, without user info (`…@`) and port. String functions, not a regular
    expression with captures: ~50x faster on millions of events. mbuzz.channels.url_host mirrors it. -#}
{% macro url_host(column) -%}
    {{ return(adapter.dispatch('url_host', 'mbuzz')(column)) }}
{%- endmacro %}

{% macro postgres__url_host(column) -%}
    {{ function_schema() }}.mbuzz_url_host({{ column }})
{%- endmacro %}

{#- Spark: the same string functions inline (mbuzz_url_host's body; instr for strpos). -#}
{% macro spark__url_host(column) -%}
    {%- set rest = 'substr(' ~ column ~ ', instr(' ~ column ~ ", '://') + 3)" -%}
    {%- set authority = "split_part(split_part(split_part(" ~ rest ~ ", '/', 1), '?', 1), '#', 1)" -%}
    case when instr({{ column }}, '://') > 0 then nullif(regexp_replace(lower(split_part(
            substr({{ authority }}, instr({{ authority }}, '@') + 1), ':', 1)), '^www[.]', ''), '') end
{%- endmacro %}


{#- The value of the first `name=` query-string parameter (after `?` or `&`), up to the next `&`
    or `#`, percent-decoded (`+` is a space), blank → null. mbuzz.channels.url_param mirrors it. -#}
{% macro url_param(column, name) -%}
    {{ return(adapter.dispatch('url_param', 'mbuzz')(column, name)) }}
{%- endmacro %}

{% macro postgres__url_param(column, name) -%}
    case when strpos({{ column }}, '{{ name }}=') > 0 then {{ function_schema() }}.mbuzz_url_param({{ column }}, '{{ name }}') end
{%- endmacro %}

{#- Spark: mbuzz_url_param inline. The first `?name=` or `&name=` (least() skips the absent, as
    nulls); try_url_decode where there is a `%` or `+` (a value that does not decode keeps its
    text, `+` as a space, as mbuzz_url_decode does). -#}
{% macro spark__url_param(column, name) -%}
    {%- set start = "least(nullif(instr(" ~ column ~ ", '?" ~ name ~ "='), 0), nullif(instr(" ~ column ~ ", '&" ~ name ~ "='), 0))" -%}
    {%- set raw = "split_part(split_part(substr(" ~ column ~ ", " ~ start ~ " + " ~ (name | length + 2) ~ "), '&', 1), '#', 1)" -%}
    case when instr({{ column }}, '{{ name }}=') > 0 then nullif(btrim(
            case when {{ raw }} rlike '[%+]'
                then coalesce(try_url_decode({{ raw }}), replace({{ raw }}, '+', ' '))
                else {{ raw }}
            end
        ), '') end
{%- endmacro %}


{#- A registered domain, approximately (no public-suffix list): the last two labels, or the
    last three under a two-level country suffix such as co.uk / com.au. -#}
{% macro registered_domain(column) -%}
    {{ return(adapter.dispatch('registered_domain', 'mbuzz')(column)) }}
{%- endmacro %}

{% macro postgres__registered_domain(column) -%}
    substring({{ column }} from '([^.]+\.(?:co|com|org|net|gov|ac|edu|ne|or)\.[a-z]{2}|[^.]+\.[^.]+)$')
{%- endmacro %}

{#- Spark: regexp_extract gives '' for no match (null on PostgreSQL); `[.]`, as a backslash in a
    Spark string literal is an escape. -#}
{% macro spark__registered_domain(column) -%}
    nullif(regexp_extract({{ column }}, '([^.]+[.](?:co|com|org|net|gov|ac|edu|ne|or)[.][a-z]{2}|[^.]+[.][^.]+)$', 1), '')
{%- endmacro %}


{#- The brand label of a host: the first label of its registered domain (google.co.uk → google). -#}
{% macro domain_brand(column) -%}
    split_part({{ registered_domain(column) }}, '.', 1)
{%- endmacro %}


{% macro function_schema() -%}staging{%- endmacro %}


{#- on-run-start: the small SQL functions the models call. Idempotent. -#}
{% macro create_mbuzz_functions() -%}
    {{ return(adapter.dispatch('create_mbuzz_functions', 'mbuzz')()) }}
{%- endmacro %}

{% macro postgres__create_mbuzz_functions() -%}
    create schema if not exists {{ function_schema() }};
    -- one expression, so PostgreSQL inlines it where the argument is a plain column
    create or replace function {{ function_schema() }}.mbuzz_url_host(url text) returns text
    language sql immutable parallel safe as $fn$
        select case when strpos(url, '://') > 0 then nullif(regexp_replace(lower(split_part(
            substr(
                split_part(split_part(split_part(substr(url, strpos(url, '://') + 3), '/', 1), '?', 1), '#', 1),
                strpos(split_part(split_part(split_part(substr(url, strpos(url, '://') + 3), '/', 1), '?', 1), '#', 1), '@') + 1
            ), ':', 1)), '^www[.]', ''), '') end
    $fn$;

    create or replace function {{ function_schema() }}.mbuzz_url_param(url text, name text) returns text
    language plpgsql immutable parallel safe as $fn$
    declare
        q int := strpos(url, '?' || name || '=');
        a int := strpos(url, '&' || name || '=');
        start int;
        raw text;
    begin
        if q > 0 and (a = 0 or q < a) then start := q; else start := a; end if;
        if start is null or start = 0 then
            return null;
        end if;
        raw := split_part(split_part(substr(url, start + length(name) + 2), '&', 1), '#', 1);
        if strpos(raw, '%') > 0 or strpos(raw, '+') > 0 then
            raw := {{ function_schema() }}.mbuzz_url_decode(raw);
        end if;
        return nullif(btrim(raw), '');
    end;
    $fn$;

    -- PARALLEL UNSAFE: the exception block needs a subtransaction, which parallel mode forbids.
    -- Only called for values containing `%` or `+`.
    create or replace function {{ function_schema() }}.mbuzz_url_decode(value text) returns text
    language plpgsql immutable parallel unsafe as $fn$
    begin
        if value is null then
            return null;
        end if;
        value := replace(value, '+', ' ');
        if position('%' in value) = 0 then
            return value;
        end if;
        begin
            return convert_from(
                (select string_agg(
                            case when token[1] ~ '^%[0-9A-Fa-f]{2}$' then decode(substr(token[1], 2), 'hex')
                                 else convert_to(token[1], 'UTF8') end,
                            ''::bytea order by ordinal)
                 from regexp_matches(value, '(%[0-9A-Fa-f]{2}|[^%]+|%)', 'g') with ordinality as t(token, ordinal)),
                'UTF8');
        exception when others then
            return value;  -- not valid UTF-8 once decoded: keep the text as sent
        end;
    end;
    $fn$;
{%- endmacro %}


{#- Spark: no functions (url_host / url_param are inline); the sources are the lake's Parquet
    folders (MBUZZ_LAKE, docs/operations.md "The lake") as tables of database `raw`, their
    partitions (account_id, day) recovered on every run so newly landed days are read. The
    columns are the lake's (mbuzz/lake.py TABLES: text and json as string, ts as timestamp,
    money as decimal(18,4)); given, not inferred, so a table with nothing landed yet reads as
    empty. One statement per call: Thrift runs one at a time. -#}
{% macro spark__create_mbuzz_functions() -%}
    {%- set tables = {
        'events': 'event_id string, environment string, event_type string, visitor_id string, user_id string, session_id string, occurred_at timestamp, received_at timestamp, sent_at timestamp, original_timestamp timestamp, properties string, context string, source string',
        'conversions': 'conversion_id string, environment string, conversion_type string, visitor_id string, user_id string, event_id string, revenue decimal(18,4), currency string, converted_at timestamp, received_at timestamp, properties string',
        'ad_spend': 'environment string, channel string, utm_source string, utm_medium string, utm_campaign string, amount decimal(18,4), currency string, impressions bigint, clicks bigint, received_at timestamp',
        'fx_rates': 'currency string, quote_currency string, rate decimal(24,10), received_at timestamp',
    } -%}
    {%- if execute -%}
        {%- set lake = env_var('MBUZZ_LAKE', '') -%}
        {%- if not lake -%}
            {{ exceptions.raise_compiler_error("the spark target reads the lake: set MBUZZ_LAKE (docs/operations.md, \"The lake\")") }}
        {%- endif -%}
        {%- do run_query('create database if not exists raw') -%}
        {%- for table, columns in tables.items() -%}
            {#- dropped first: an external table keeps its files, and a changed MBUZZ_LAKE must be followed -#}
            {%- do run_query("drop table if exists raw." ~ table) -%}
            {%- do run_query("create table raw." ~ table ~ " (" ~ columns ~ ", account_id string, day date)"
                ~ " using parquet partitioned by (account_id, day) location '" ~ lake ~ "/" ~ table ~ "'") -%}
            {%- do run_query('msck repair table raw.' ~ table) -%}
        {%- endfor -%}
        {%- do run_query("drop table if exists raw.accounts") -%}
        {%- do run_query("create table raw.accounts (id string, name string, tier string, settings string, created_at timestamp)"
            ~ " using parquet location '" ~ lake ~ "/accounts'") -%}
        {%- do run_query('refresh table raw.accounts') -%}
        {%- do spark__create_attribution_credits(lake) -%}
    {%- endif -%}
    select 1
{%- endmacro %}
