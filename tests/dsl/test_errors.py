"""Every syntax-error label and every validator message, with line and column."""

from __future__ import annotations

import pytest

from dsl import DslError, check, compile_source
from dsl.parser import CATALOGUE, MESSAGES, syntax_label

# (label, program, line, column) — the error sits on the second line or later.
SYNTAX = [
    ("missing_model", "# my model\ncredit first_touch with 1.0", 2, 1),
    ("unquoted_model_name", "\nmodel U_shaped\n  credit first_touch with 1.0\nend", 2, 7),
    ("missing_end", 'model "m"\n  credit first_touch with 0.4\n  credit last_touch with 0.6\n', 3, 29),
    ("unknown_statement", 'model "m"\n  Credit first_touch with 1.0\nend', 2, 3),
    ("after_share", 'model "m"\n  credit first_touch with 1.0 evenly\nend', 2, 31),
    ("after_end", 'model "m" credit first_touch with 1.0 end\nend', 2, 1),
    ("missing_with", 'model "m"\n  credit first_touch 1.0\nend', 2, 22),
    ("missing_share", 'model "m"\n  credit first_touch with equally\nend', 2, 27),
    ("unknown_distribution", 'model "m"\n  distribute evenly\nend', 2, 14),
    ("bad_time_decay", 'model "m"\n  distribute by time_decay(7 days)\nend', 2, 28),
    ("unquoted_channel", 'model "m"\n  weight channel(email) by 2\n  distribute proportionally\nend', 2, 18),
    ("missing_by", 'model "m"\n  weight channel("email") 2\n  distribute proportionally\nend', 2, 27),
    ("missing_factor", 'model "m"\n  weight channel("email") by\nend', 3, 1),
    ("missing_days", 'model "m"\n  lookback 30\n  credit first_touch with 1.0\nend', 3, 3),
    ("missing_journey_unit", 'model "m"\n  journey_by "account"\n  credit first_touch with 1.0\nend', 2, 14),
    ("bad_filter", 'model "m"\n  credit touches where channel = "email" with 1.0\nend', 2, 32),
    ("missing_comma", 'model "m"\n  credit touches where channel in ("a" "b") with 1.0\nend', 2, 40),
    ("unclosed_paren", 'model "m"\n  credit touches where channel in ("a" with 1.0\nend', 2, 40),
    ("single_quotes", "model \"m\"\n  credit touches where channel in ('a') with 1.0\nend", 2, 36),
    ("unclosed_string", 'model "m"\n  weight channel("email) by 2\nend', 2, 18),
    ("bad_character", 'model "m"\n  credit first_touch with 1.0 ;\nend', 2, 31),
]


def test_every_label_is_tested():
    assert sorted(label for label, *_ in SYNTAX) == sorted(MESSAGES)


def test_catalogue_snippets_label_themselves():
    for label, snippets in CATALOGUE.items():
        for snippet in snippets:
            assert syntax_label(snippet) == label, snippet


@pytest.mark.parametrize("label,text,line,column", SYNTAX, ids=[s[0] for s in SYNTAX])
def test_syntax_error(label, text, line, column):
    with pytest.raises(DslError) as info:
        compile_source(text)
    [error] = info.value.errors
    assert (error.line, error.column) == (line, column)
    assert error.message == MESSAGES[label]
    source_line = text.splitlines()[line - 1] if line <= len(text.splitlines()) else ""
    assert error.context.splitlines()[0].strip() == source_line.strip()
    assert error.context.splitlines()[1] == " " * (4 + column - 1) + "^"


# (program, line, column, message) for each validator error
VALIDATION = [
    (
        'model "m"\n  credit first_touch with 0.5\n  credit last_touch with 0.4\nend',
        1,
        1,
        "credits sum to 0.9; they must sum to 1.0",
    ),
    (
        'model "m"\n  credit first_touch with 1.5\nend',
        2,
        27,
        "share 1.5 is outside (0, 1]: a rule takes a fraction of the credit, e.g. 0.4 or 40%",
    ),
    (
        'model "m"\n  credit first_touch with 0\n  credit last_touch with 1.0\nend',
        2,
        27,
        "share 0 is outside (0, 1]: a rule takes a fraction of the credit, e.g. 0.4 or 40%",
    ),
    (
        'model "m"\n  weight channel("email") by 0\n  distribute proportionally\nend',
        2,
        3,
        'the weight of channel "email" must be positive, got 0',
    ),
    (
        'model "m"\n  distribute by time_decay(half_life -7 days)\nend',
        2,
        38,
        "the half-life must be a positive number of days, got -7",
    ),
    (
        'model "m"\n  credit frist_touch with 1.0\nend',
        2,
        10,
        "unknown selector `frist_touch`: did you mean first_touch? selectors are first_touch, "
        "last_touch, middle_touches, all_touches, other_touches, milestone_touch, touches, "
        "impressions, visits",
    ),
    (
        'model "m" credit first_touch with 1.0 end\n\nmodel "m" credit last_touch with 1.0 end',
        3,
        1,
        'duplicate model name "m" (first defined on line 1)',
    ),
    (
        'model "m"\n  credit first_touch with 1.0\n  distribute equally\nend',
        3,
        3,
        "`distribute` cannot be mixed with `credit` rules: use either one `distribute` or credit rules",
    ),
    (
        'model "m"\n  distribute equally\n  distribute proportionally\nend',
        3,
        3,
        "only one `distribute` statement per model",
    ),
    (
        'model "m"\n  credit other_touches with 0.5\n  credit other_touches with 0.5\nend',
        3,
        3,
        "only one `other_touches` rule per model: merge their shares",
    ),
    (
        'model "m"\n  credit milestone_touch with 1.0\nend',
        2,
        10,
        'milestone_touch needs the milestone in quotes: milestone_touch("mql")',
    ),
    ('model "m"\n  credit first_touch("mql") with 1.0\nend', 2, 10, "`first_touch` takes no argument in parentheses"),
    (
        'model "m"\n  credit touches with 1.0\nend',
        2,
        10,
        '`touches` needs a channel filter: touches where channel in ("email")',
    ),
    (
        'model "m"\n  credit other_touches where channel in ("a") with 1.0\nend',
        2,
        10,
        "`other_touches` cannot be filtered: it is whatever the other rules left",
    ),
    (
        'model "m"\n  lookback 0 days\n  distribute equally\nend',
        2,
        3,
        "the lookback must be a whole number of days, at least 1, got 0",
    ),
    (
        'model "m"\n  lookback 7 days\n  lookback 9 days\n  distribute equally\nend',
        3,
        3,
        "only one `lookback` statement per model",
    ),
    (
        'model "m"\n  journey_by company\n  distribute equally\nend',
        2,
        3,
        "journey_by takes person or account, got company: journey_by account",
    ),
    (
        'model "m"\n  journey_by account\n  journey_by person\n  distribute equally\nend',
        3,
        3,
        "only one `journey_by` statement per model",
    ),
    ('model "empty"\nend', 1, 1, 'model "empty" gives no credit: add credit rules or a `distribute` statement'),
]


@pytest.mark.parametrize("text,line,column,message", VALIDATION)
def test_validation_error(text, line, column, message):
    with pytest.raises(DslError) as info:
        compile_source(text)
    found = [(e.line, e.column, e.message) for e in info.value.errors]
    assert (line, column, message) in found
    error = next(e for e in info.value.errors if e.message == message)
    assert error.context.splitlines()[1] == " " * (4 + column - 1) + "^"


def test_share_tolerance():
    text = (
        'model "m" credit first_touch with 0.1 credit last_touch with 0.2 '
        "credit middle_touches with 0.7 end"
    )  # 0.1 + 0.2 + 0.7 != 1.0 exactly in floats
    assert compile_source(text)
    with pytest.raises(DslError, match="credits sum to 1.000001"):
        compile_source('model "m" credit first_touch with 0.500001 credit last_touch with 0.5 end')


def test_all_errors_are_reported_together():
    text = 'model "m"\n  credit frist_touch with 0.5\n  credit last_touch with 1.5\nend'
    with pytest.raises(DslError) as info:
        compile_source(text)
    assert [(e.line, e.column) for e in info.value.errors] == [(1, 1), (2, 10), (3, 26)]


@pytest.mark.parametrize(
    "text,message",
    [
        (
            'model "m"\n  weight channel("tv") by 2\n  distribute proportionally\nend',
            'unknown channel "tv" (no credit will match it)',
        ),
        (
            'model "m"\n  weight channel("email") by 2\n  distribute equally\nend',
            "weights have no effect: no rule distributes `proportionally`",
        ),
    ],
)
def test_warnings_do_not_stop_compilation(text, message):
    assert compile_source(text, known_channels={"email"})
    diags = check(text, known_channels={"email"})
    assert [(d.severity, d.message) for d in diags] == [("warning", message)]
    assert (diags[0].line, diags[0].column) == (2, 3)
