{#- URL and referrer parsing shared by the staging and channel models. The Python explain
    function (mbuzz/channels.py) applies the same regular expressions. -#}

{#- The host of a URL, lower-cased, without a leading `www.`. -#}
{% macro url_host(column) -%}
    nullif(regexp_replace(lower(substring({{ column }} from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/@?#]*@)?([^/:?#]+)')), '^www\.', ''), '')
{%- endmacro %}


{#- The value of a query-string parameter of a URL, percent-decoded (`+` is a space). -#}
{% macro url_param(column, name) -%}
    nullif(btrim({{ function_schema() }}.mbuzz_url_decode(substring({{ column }} from '[?&]{{ name }}=([^&#]*)'))), '')
{%- endmacro %}


{#- A registered domain, approximately (no public-suffix list): the last two labels, or the
    last three under a two-level country suffix such as co.uk / com.au. -#}
{% macro registered_domain(column) -%}
    substring({{ column }} from '([^.]+\.(?:co|com|org|net|gov|ac|edu|ne|or)\.[a-z]{2}|[^.]+\.[^.]+)$')
{%- endmacro %}


{#- The brand label of a host: the first label of its registered domain (google.co.uk → google). -#}
{% macro domain_brand(column) -%}
    split_part({{ registered_domain(column) }}, '.', 1)
{%- endmacro %}


{% macro function_schema() -%}staging{%- endmacro %}


{#- on-run-start: the small SQL functions the models call. Idempotent. -#}
{% macro create_mbuzz_functions() -%}
    create schema if not exists {{ function_schema() }};
    create or replace function {{ function_schema() }}.mbuzz_url_decode(value text) returns text
    language plpgsql immutable parallel safe as $fn$
    begin
        if value is null then
            return null;
        end if;
        value := replace(value, '+', ' ');
        if position('%' in value) = 0 then
            return value;
        end if;
        return convert_from(
            (select string_agg(
                        case when token[1] ~ '^%[0-9A-Fa-f]{2}$' then decode(substr(token[1], 2), 'hex')
                             else convert_to(token[1], 'UTF8') end,
                        ''::bytea order by ordinal)
             from regexp_matches(value, '(%[0-9A-Fa-f]{2}|[^%]+|%)', 'g') with ordinality as t(token, ordinal)),
            'UTF8');
    exception when others then
        return value;
    end;
    $fn$;
{%- endmacro %}
