"""`mbuzz lake land`: copy the raw rows received since the last run to MBUZZ_LAKE (mbuzz/lake.py)."""

from __future__ import annotations

import json

import click


@click.group()
def lake() -> None:
    """The lake landing: raw rows as Parquet, for engines such as Spark."""


@lake.command("land")
@click.option("--lake", "target", envvar="MBUZZ_LAKE", help="A folder or object-store URL (default: $MBUZZ_LAKE).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON only.")
def land(target: str | None, as_json: bool) -> None:
    """Copy the raw events, conversions, spend and accounts received since the last run (exactly once)."""
    from mbuzz import lake as service
    from mbuzz.db import connect

    if not target:
        raise click.UsageError("no lake: set MBUZZ_LAKE (a folder, or s3://bucket/prefix) or pass --lake")
    with connect() as conn:
        result = service.land(
            conn,
            target,
            on_progress=(lambda message: None) if as_json else (lambda message: click.echo(f"  {message}", err=True)),
        )
    if as_json:
        click.echo(json.dumps({"copied": result.copied, "redone": result.redone, "accounts": result.accounts}))
        return
    copied = ", ".join(f"{rows:,} {table}" for table, rows in result.copied.items())
    click.echo(
        f"{target}: copied {copied}; {result.accounts} accounts in the snapshot"
        + (f"; redid the unfinished window of {', '.join(result.redone)}" if result.redone else "")
    )
