"""Every macro of dbt_project/macros/ is documented in _macros.yml, with the arguments of its signature."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

MACROS = Path(__file__).resolve().parents[2] / "dbt_project" / "macros"
DEFINITION = re.compile(r"{%-?\s*(macro|test)\s+(\w+)\s*\((.*?)\)\s*-?%}", re.S)


def defined() -> dict[str, list[str]]:
    """{macro name: argument names} from the .sql files (a generic test `x` is the macro `test_x`)."""
    out = {}
    for path in sorted(MACROS.glob("*.sql")):
        for kind, name, args in DEFINITION.findall(path.read_text()):
            key = f"test_{name}" if kind == "test" else name
            assert key not in out, f"macro {key} defined twice"
            out[key] = [a.split("=")[0].strip() for a in args.split(",") if a.strip()]
    return out


def documented() -> dict[str, dict]:
    entries = yaml.safe_load((MACROS / "_macros.yml").read_text())["macros"]
    return {entry["name"]: entry for entry in entries}


def test_the_parser_sees_the_macros():
    macros = defined()
    assert macros["hypertable_post_hook"] == ["time_column", "compress_after", "segmentby", "orderby", "chunk_interval"]
    assert macros["timescaledb__day_bucket"] == ["column"]
    assert "test_unique_combination" in macros


def test_every_macro_is_documented_and_nothing_else():
    assert sorted(documented()) == sorted(defined())


def test_descriptions_and_arguments_match_the_signatures():
    docs = documented()
    for name, args in defined().items():
        entry = docs[name]
        assert len(entry.get("description", "").strip()) > 20, f"{name}: describe what it does"
        listed = entry.get("arguments") or []
        assert [a["name"] for a in listed] == args, f"{name}: arguments {args} in signature order"
        for argument in listed:
            assert argument.get("description", "").strip(), f"{name}({argument['name']}): describe it"
            assert argument.get("type", "").strip(), f"{name}({argument['name']}): give its type"
