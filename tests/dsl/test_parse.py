"""Parsing, the AST, compilation; programs are data and never code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import dsl
from dsl import DslError, ast, compile_source, parse

ORIGINAL = """
model "U-Shaped Attribution"
  credit first_touch with 0.4
  credit last_touch with 0.4
  credit middle_touches with 0.2 equally
end

model "Channel Weighted"
  weight channel("paid_search") by 1.5
  weight channel("email") by 1.2
  distribute proportionally
end
"""


def test_original_programs_parse_with_positions():
    program = parse(ORIGINAL)
    u, w = program.models
    assert (u.name, u.line, u.column) == ("U-Shaped Attribution", 2, 1)
    first = u.statements[0]
    assert isinstance(first, ast.Credit) and (first.line, first.column) == (3, 3)
    assert first.selector == ast.Selector("first_touch", line=3, column=10)
    assert first.share.value == 0.4 and first.share.column == 27
    assert isinstance(w.statements[0], ast.Weight) and w.statements[0].factor == 1.5


def test_ast_is_frozen():
    model = parse(ORIGINAL).models[0]
    with pytest.raises(AttributeError):
        model.name = "x"


def test_compiled_models_are_json():
    u, w = compile_source(ORIGINAL)
    assert json.loads(json.dumps(u)) == u
    assert [r["share"] for r in u["rules"]] == [0.4, 0.4, 0.2]
    assert w["weights"] == {"paid_search": 1.5, "email": 1.2}
    assert w["rules"] == [
        {
            "selector": "all_touches",
            "milestone": None,
            "channels": None,
            "exclude": False,
            "share": 1.0,
            "distribution": "proportionally",
            "half_life_days": None,
        }
    ]


def test_percent_shares_comments_and_free_layout():
    text = """# a comment
    model "p" credit first_touch with 40%   # forty percent
      credit last_touch
        with 60 %
    end"""
    assert [r["share"] for r in compile_source(text)[0]["rules"]] == [0.4, 0.6]


def test_filters_milestones_and_time_decay_compile():
    text = """model "m"
      lookback 14 days
      credit last_touch where channel not in ("direct", "email") with 0.5
      credit milestone_touch("mql") with 0.25 by time_decay(half_life 3.5 days)
      credit touches where channel in ("social") with 0.25 proportionally
    end"""
    model = compile_source(text)[0]
    assert model["lookback_days"] == 14
    last, mql, social = model["rules"]
    assert (last["channels"], last["exclude"]) == (["direct", "email"], True)
    assert (mql["selector"], mql["milestone"], mql["half_life_days"]) == ("milestone_touch", "mql", 3.5)
    assert (social["channels"], social["exclude"], social["distribution"]) == (["social"], False, "proportionally")


def test_keywords_are_case_sensitive():
    with pytest.raises(DslError):
        parse('Model "m" credit first_touch with 1 end')


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('ls')",
        'model "m" credit __import__("os") with 1.0 end',
        'model "m" credit first_touch with 1.0 end\nopen("/etc/passwd")',
        'model "m" credit first_touch with eval("1") end',
        'model "m" weight channel("a") by 1.5 + 1 distribute proportionally end',
        'model "m" lookback /etc/passwd days credit first_touch with 1.0 end',
        'model "m" credit first_touch with 1.0 end; import os',
    ],
)
def test_code_and_paths_are_syntax_errors(text):
    with pytest.raises(DslError):
        compile_source(text)


def test_a_name_that_looks_like_code_is_only_data():
    # a selector name is checked against a fixed list, never looked up or called
    with pytest.raises(DslError, match="unknown selector `__import__`"):
        compile_source('model "m" credit __import__ with 1.0 end')
    # channel names are opaque strings compared for equality
    model = compile_source('model "m" credit touches where channel in ("__import__(\'os\')") with 1.0 end')[0]
    assert model["rules"][0]["channels"] == ["__import__('os')"]


def test_no_eval_exec_or_dynamic_lookup_in_dsl_or_engine():
    root = Path(__file__).resolve().parents[2]
    banned = re.compile(r"(?<![.\w])(eval|exec|getattr|compile|__import__|open)\(|importlib|subprocess")
    for package in ("dsl", "attribution"):
        for path in (root / package).rglob("*.py"):
            assert not banned.search(path.read_text()), f"{path.name}: {banned.search(path.read_text())}"


def test_check_reports_warnings_with_context():
    diags = dsl.check(
        'model "m"\n  weight channel("emial") by 2\n  distribute proportionally\nend', known_channels={"email"}
    )
    assert [(d.severity, d.line, d.column) for d in diags] == [("warning", 2, 3)]
    assert 'unknown channel "emial"; did you mean email?' in diags[0].message
    assert diags[0].context == '      weight channel("emial") by 2\n      ^'


def test_journey_by_account_compiles_into_the_model():
    [model] = compile_source('model "deals"\n  journey_by account\n  credit first_touch with 1.0\nend')
    assert model["journey_by"] == "account"
    [person] = compile_source('model "p"\n  journey_by person\n  credit first_touch with 1.0\nend')
    assert "journey_by" not in person  # person-level models compile as they always did
