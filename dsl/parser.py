"""Source text → AST (dsl.ast). Syntax errors become DslError with a label.

The Lark parser is built once from grammar.lark (LALR, positions kept). Syntax
errors are labelled by matching them against a catalogue of typical mistakes
(Lark's `match_examples`), so the message says what to write instead of which
token was unexpected.
"""

from __future__ import annotations

from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from dsl import ast
from dsl.errors import Diagnostic, DslError, source_context

# label → message shown to the user. Each label has bad snippets in CATALOGUE.
MESSAGES: dict[str, str] = {
    "missing_model": 'statements must be inside a model block: model "My model" ... end',
    "unquoted_model_name": 'the model name must be in double quotes: model "My model"',
    "missing_end": "the model block is not closed: add `end` after its last statement",
    "unknown_statement": "unknown statement: a model holds `credit`, `weight`, "
    "`distribute`, `lookback` and `journey_by` statements, then `end`",
    "missing_with": "a credit rule needs `with` and a share after the selector: credit first_touch with 0.4",
    "missing_share": "expected a share after `with`: a decimal such as 0.4 or a percent such as 40%",
    "after_share": "expected a distribution (`equally`, `proportionally`, "
    "`by time_decay(half_life 7 days)`), the next statement or `end`",
    "after_end": 'only another model block may follow `end`: model "Next model" ... end',
    "unknown_distribution": "unknown distribution: use `equally`, `proportionally` "
    "or `by time_decay(half_life 7 days)`",
    "bad_time_decay": "time decay is written `by time_decay(half_life 7 days)`",
    "unquoted_channel": 'channel names must be in double quotes: channel("paid_search")',
    "missing_by": 'a weight needs `by` and a factor: weight channel("email") by 1.2',
    "missing_factor": 'expected a positive number after `by`: weight channel("email") by 1.2',
    "missing_days": "lookback needs a number and the unit `days`: lookback 30 days",
    "missing_journey_unit": "journey_by needs `account` or `person`: journey_by account",
    "bad_filter": 'a channel filter is written: where channel in ("email", "social") '
    'or where channel not in ("direct")',
    "missing_comma": 'separate channel names with commas: ("email", "social")',
    "unclosed_paren": "a parenthesis is not closed: add `)`",
    "single_quotes": "use double quotes for names: \"email\", not 'email'",
    "unclosed_string": "a quoted name is not closed: add the closing double quote on the same line",
    "bad_character": "this character has no meaning in a model; names are quoted, "
    "shares are numbers like 0.4 or 40%, comments start with #",
}

CATALOGUE: dict[str, list[str]] = {
    "missing_model": ["credit first_touch with 1.0", "weight", "distribute equally"],
    "unquoted_model_name": ["model U", "model 1"],
    "missing_end": [
        'model "m" credit first_touch with 1.0',
        'model "m" credit first_touch with 1.0 equally',
        'model "m"',
        'model "m" distribute equally',
        'model "m" weight channel("a") by 1',
        'model "m" lookback 3 days',
        'model "m" credit first_touch where channel in ("a") with 1.0',
        'model "m" credit first_touch with 1.0 by time_decay(half_life 7 days)',
        'model "m" credit first_touch with 40%',
    ],
    "after_share": [
        'model "m" credit first_touch with 1.0 x',
        'model "m" credit first_touch with 40% x',
        'model "m" credit first_touch where channel in ("a") with 1.0 x',
        'model "m" credit first_touch with 1.0 1',
    ],
    "after_end": [
        'model "m" end end',
        'model "m" end x',
        'model "m" end credit',
        'model "m" end 1',
        'model "m" end "x"',
    ],
    "unknown_statement": [
        'model "m" first_touch',
        'model "m" credit first_touch with 1.0 equally x',
        'model "m" distribute equally x',
        'model "m" weight channel("a") by 1 x',
        'model "m" lookback 3 days x',
        'model "m" credit first_touch with 1.0 by time_decay(half_life 7 days) x',
        'model "m" 1',
        'model "m" "x"',
        'model "m" model',
    ],
    "missing_with": [
        'model "m" credit first_touch 1.0',
        'model "m" credit first_touch end',
        'model "m" credit first_touch equally',
        'model "m" credit 1.0',
        'model "m" credit first_touch("a") 1.0',
        'model "m" credit touches where channel in ("a") 1.0',
    ],
    "missing_share": [
        'model "m" credit first_touch with end',
        'model "m" credit first_touch with equally',
        'model "m" credit first_touch with x',
    ],
    "unknown_distribution": [
        'model "m" distribute evenly',
        'model "m" distribute end',
        'model "m" distribute 1',
        'model "m" credit first_touch with 1.0 by x',
        'model "m" credit first_touch with 1.0 by end',
    ],
    "bad_time_decay": [
        'model "m" distribute by time_decay(7)',
        'model "m" distribute by time_decay(half_life 7)',
        'model "m" distribute by time_decay(half_life days)',
        'model "m" distribute by time_decay half_life',
        'model "m" distribute by time_decay(half_life 7 days',
        'model "m" distribute by time_decay(x',
        'model "m" distribute by time_decay(half_life 7 x)',
    ],
    "unquoted_channel": [
        'model "m" weight channel(email) by 1',
        'model "m" credit touches where channel in (email) with 1',
        'model "m" credit touches where channel not in (email) with 1',
        'model "m" credit milestone_touch(mql) with 1',
    ],
    "missing_by": ['model "m" weight channel("a") 1.5', 'model "m" weight channel("a") end'],
    "missing_factor": ['model "m" weight channel("a") by end', 'model "m" weight channel("a") by x'],
    "missing_days": [
        'model "m" lookback 30 end',
        'model "m" lookback end',
        'model "m" lookback 30 x',
        'model "m" lookback x',
    ],
    "missing_journey_unit": ['model "m" journey_by 3', 'model "m" journey_by "account"'],
    "bad_filter": [
        'model "m" credit touches where x',
        'model "m" credit touches where channel x',
        'model "m" credit touches where channel = "a"',
        'model "m" credit touches where channel in "a"',
        'model "m" credit touches where channel not "a"',
        'model "m" weight x',
        'model "m" weight channel "a"',
        'model "m" credit touches where channel in ("a",) with 1',
        'model "m" credit touches where channel in () with 1',
    ],
    "missing_comma": ['model "m" credit touches where channel in ("a" "b") with 1'],
    "unclosed_paren": [
        'model "m" credit touches where channel in ("a" with 1',
        'model "m" credit touches where channel in ("a", "b" with 1',
        'model "m" weight channel("a" by 1',
        'model "m" credit milestone_touch("a" with 1',
    ],
}


def _in_context(examples: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each snippet also after a first statement and inside a second model: the
    LALR states differ there, and match_examples compares states."""
    head = 'model "m" '
    out = {}
    for label, snippets in examples.items():
        extra = []
        # a distribution sits at a different parser depth after `credit ... with`
        snippets = snippets + [
            s.replace(" distribute by ", " credit first_touch with 1.0 by ") for s in snippets if " distribute by " in s
        ]
        for s in snippets:
            if s.startswith(head):
                rest = s[len(head) :]
                extra += [
                    f"{head}credit first_touch with 1.0 {rest}",
                    f'{head}weight channel("a") by 2 {rest}',
                    f'model "a" end {s}',
                    f'model "a" end {head}lookback 3 days {rest}',
                ]
        out[label] = snippets + extra
    return out


EXAMPLES = _in_context(CATALOGUE)

# Lexer errors (a character no token starts with) are labelled by the character.
CHARACTER_LABELS = {"'": "single_quotes", '"': "unclosed_string"}


@lru_cache(maxsize=1)
def _lark() -> Lark:
    # cache=True: the LALR tables are built once and kept in a temp file keyed by the grammar's
    # hash (building them is most of a small `mbuzz attribute` run's model loading)
    return Lark.open("grammar.lark", rel_to=__file__, parser="lalr", propagate_positions=True, cache=True)


def _unquote(token: Token) -> str:
    return str(token)[1:-1]


def _pos(item) -> dict:
    return {"line": item.line, "column": item.column}


class _ToAst(Transformer):
    """Lark tree → frozen dataclasses (positions from tokens or rule meta)."""

    def start(self, models):
        return ast.Program(tuple(models), line=1, column=1)

    @v_args(meta=True)
    def model(self, meta, children):
        name, *statements = children
        return ast.Model(_unquote(name), tuple(statements), **_pos(meta))

    @v_args(meta=True)
    def credit(self, meta, children):
        selector, share, *rest = children
        return ast.Credit(selector, share, rest[0] if rest else None, **_pos(meta))

    @v_args(meta=True)
    def weight(self, meta, children):
        channel, factor = children
        return ast.Weight(_unquote(channel), float(factor), **_pos(meta))

    @v_args(meta=True)
    def kind_weight(self, meta, children):
        kind, factor = children
        return ast.KindWeight(_unquote(kind), float(factor), **_pos(meta))

    @v_args(meta=True)
    def distribute(self, meta, children):
        return ast.Distribute(children[0], **_pos(meta))

    @v_args(meta=True)
    def lookback(self, meta, children):
        return ast.Lookback(float(children[0]), **_pos(meta))

    @v_args(meta=True)
    def journey_by(self, meta, children):
        return ast.JourneyBy(str(children[0]), **_pos(meta))

    def selector(self, children):
        name, *rest = children
        argument = next((c[1] for c in rest if isinstance(c, tuple)), None)
        channel_filter = next((c for c in rest if isinstance(c, ast.ChannelFilter)), None)
        return ast.Selector(str(name), argument, channel_filter, **_pos(name))

    def selector_arg(self, children):
        return ("argument", _unquote(children[0]))

    @v_args(meta=True)
    def channel_filter(self, meta, children):
        negated = bool(children) and isinstance(children[0], Token) and children[0].type == "NOT"
        names = tuple(_unquote(c) for c in children if c.type == "STRING")
        return ast.ChannelFilter(names, negated, **_pos(meta))

    def share(self, children):
        number, *percent = children
        value = float(number) / (100.0 if percent else 1.0)
        return ast.Share(value, "".join(str(c) for c in children), **_pos(number))

    # Distributions consist of keywords only, so Lark keeps no position for
    # them; the enclosing statement's position is the one users need anyway.
    def equally(self, _):
        return ast.Distribution("equally")

    def proportionally(self, _):
        return ast.Distribution("proportionally")

    def time_decay(self, children):
        return ast.Distribution("time_decay", float(children[0]), **_pos(children[0]))


def _label(text: str, exc: UnexpectedInput) -> str | None:
    if isinstance(exc, UnexpectedCharacters):
        # a character no token starts with: by the character, else only against
        # snippets that fail the same way (a state match alone would mislead)
        label = CHARACTER_LABELS.get(text[exc.pos_in_stream : exc.pos_in_stream + 1])
        return label or exc.match_examples(_lark().parse, _character_examples()) or "bad_character"
    # same parser state and kind of token first; then the same state only
    return exc.match_examples(_lark().parse, EXAMPLES, token_type_match_fallback=True) or exc.match_examples(
        _lark().parse, EXAMPLES, token_type_match_fallback=True, use_accepts=False
    )


@lru_cache(maxsize=1)
def _character_examples() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for label, snippets in EXAMPLES.items():
        for snippet in snippets:
            try:
                _lark().parse(snippet)
            except UnexpectedCharacters:
                out.setdefault(label, []).append(snippet)
            except UnexpectedInput:
                pass
    return out


def _syntax_diagnostic(text: str, exc: UnexpectedInput) -> Diagnostic:
    label = _label(text, exc)
    if label is not None:
        message = MESSAGES[label]
    else:
        found = exc.token if isinstance(exc, UnexpectedToken) else None
        message = f"unexpected `{found}`" if found is not None else MESSAGES["bad_character"]
    line, column = exc.line, exc.column
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END" or line is None or line < 1:
        # end of input: point just past the last character that is not blank
        lines = text.rstrip().splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    return Diagnostic(line, column, message, "error", source_context(text, line, column))


def syntax_label(text: str) -> str | None:
    """The catalogue label of the syntax error in `text` (None if it parses). For tests."""
    try:
        _lark().parse(text)
    except UnexpectedInput as exc:
        return _label(text, exc)
    return None


def parse(text: str) -> ast.Program:
    """Parse DSL source into a Program; raise DslError on a syntax error."""
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        raise DslError([_syntax_diagnostic(text, exc)]) from None
    try:
        return _ToAst().transform(tree)
    except VisitError as exc:  # an error inside a Transformer method
        raise exc.orig_exc from None
