"""`mbuzz dsl check FILE...`: parse and validate attribution DSL files."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def dsl() -> None:
    """Check attribution DSL files."""


@dsl.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--channels", default=None, help="Comma-separated known channels; other channel names are warned about.")
def check(files: tuple[Path, ...], channels: str | None) -> None:
    """Print `OK FILE`, or each error with line:column, the source line and a caret.
    Exits 1 if any file has an error (warnings alone do not fail)."""
    from dsl import check as check_source

    known = {c.strip() for c in channels.split(",") if c.strip()} if channels else None
    failed = False
    for path in files:
        diagnostics = check_source(path.read_text(), known)
        for d in diagnostics:
            click.echo(d.format(str(path)), err=d.severity == "error")
        if any(d.severity == "error" for d in diagnostics):
            failed = True
        else:
            click.echo(f"OK {path}")
    if failed:
        raise SystemExit(1)
