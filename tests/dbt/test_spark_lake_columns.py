"""The spark target's sources are the lake's Parquet folders: the columns spark__create_mbuzz_functions
(dbt_project/macros/urls.sql) gives their tables are the ones mbuzz/lake.py writes, with the same
types (a column added to the lake and not to the macro would read as missing on Spark)."""

from __future__ import annotations

import re

from mbuzz.lake import TABLES
from mbuzz.paths import PROJECT_DIR

SPARK_TYPES = {
    "text": "string",
    "json": "string",
    "ts": "timestamp",
    "money": "decimal(18,4)",
    "rate": "decimal(24,10)",
    "int": "bigint",
}


def macro_columns() -> dict[str, list[tuple[str, str]]]:
    text = (PROJECT_DIR / "dbt_project" / "macros" / "urls.sql").read_text()
    body = text[text.index("macro spark__create_mbuzz_functions") :]
    out = {}
    for table, columns in re.findall(r"'(\w+)': '([^']+)'", body[: body.index("endmacro")]):
        out[table] = [tuple(column.strip().split(" ", 1)) for column in re.split(r",\s*(?![^()]*\))", columns)]
    return out


def test_the_spark_sources_have_the_lake_columns():
    declared = macro_columns()
    assert sorted(declared) == sorted(table.name for table in TABLES)
    for table in TABLES:
        assert declared[table.name] == [(name, SPARK_TYPES[kind]) for name, kind in table.fields()], table.name
