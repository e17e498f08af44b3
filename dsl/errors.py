"""Diagnostics and the one exception the DSL raises.

A Diagnostic is a finding at a line and column (1-based) of the source; the
context is the source line with a caret under the column, so a CLI or the API
can show it without holding the text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    line: int
    column: int
    message: str
    severity: str = "error"  # "error" | "warning"
    context: str = ""

    def with_context(self, text: str) -> "Diagnostic":
        return Diagnostic(
            self.line, self.column, self.message, self.severity, source_context(text, self.line, self.column)
        )

    def format(self, filename: str | None = None) -> str:
        where = f"{filename}:" if filename else ""
        head = f"{where}{self.line}:{self.column}: {self.severity}: {self.message}"
        return f"{head}\n{self.context}" if self.context else head


def source_context(text: str, line: int, column: int) -> str:
    """The source line `line` and a caret under `column` (both 1-based)."""
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    source = lines[line - 1].expandtabs(1)
    return f"    {source}\n    {' ' * max(column - 1, 0)}^"


class DslError(ValueError):
    """A program that cannot run. `.errors` holds every error Diagnostic."""

    def __init__(self, errors: list[Diagnostic]):
        self.errors = list(errors)
        super().__init__("\n".join(e.format() for e in self.errors))
