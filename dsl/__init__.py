"""The attribution DSL: text → AST → validated → compiled model (plain dict).

    parse(text) -> Program                    syntax only (DslError on a syntax error)
    validate(program, known_channels) -> list[Diagnostic]   errors and warnings
    check(text, known_channels) -> list[Diagnostic]         both, with source context
    compile_source(text) -> list[dict]        one compiled model per `model` block

Programs are data: nothing here evaluates code, imports modules or does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from dsl.ast import Program
from dsl.compiler import compile_model, compile_program
from dsl.errors import Diagnostic, DslError
from dsl.validator import validate


def parse(text: str) -> Program:
    """dsl.parser.parse, imported on first use: Lark is loaded only when text is parsed
    (a compiled preset from attribution.models' cache needs no parser)."""
    from dsl.parser import parse as parse_text

    return parse_text(text)


def check(text: str, known_channels: Iterable[str] | None = None) -> list[Diagnostic]:
    """All diagnostics of `text` (a syntax error is the only one, if any)."""
    try:
        program = parse(text)
    except DslError as exc:
        return exc.errors
    return [d.with_context(text) for d in validate(program, known_channels)]


def compile_source(text: str, known_channels: Iterable[str] | None = None) -> list[dict]:
    """Compile every model of `text`; raise DslError listing every error."""
    program = parse(text)
    errors = [d.with_context(text) for d in validate(program, known_channels) if d.severity == "error"]
    if errors:
        raise DslError(errors)
    return compile_program(program)


__all__ = [
    "Diagnostic",
    "DslError",
    "Program",
    "check",
    "compile_model",
    "compile_program",
    "compile_source",
    "parse",
    "validate",
]
