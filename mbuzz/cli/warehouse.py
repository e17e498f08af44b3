"""`mbuzz warehouse …`: run the dbt warehouse against mbuzz's database."""
from __future__ import annotations

import click


@click.group()
def warehouse() -> None:
    """Build the dbt warehouse (sessions, channels, journeys, marts, aggregates)."""


@warehouse.command("build", context_settings={"ignore_unknown_options": True})
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option("--target", type=click.Choice(["postgres", "timescaledb"]), default=None,
              help="dbt target (default: detected from the database).")
@click.option("--threads", type=int, default=None, help="dbt threads (default 4; 1 for single-connection servers).")
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
def build(full_refresh: bool, target: str | None, threads: int | None, dbt_args: tuple[str, ...]) -> None:
    """Run `dbt build` (extra arguments go to dbt, e.g. `-s marts`)."""
    from mbuzz.warehouse import run_dbt

    args = ["build", *dbt_args] + (["--full-refresh"] if full_refresh else [])
    result = run_dbt(args, target=target, threads=threads)
    click.echo(f"dbt build finished on target {result.target}: {len(result.results)} nodes")


@warehouse.command("parse")
def parse() -> None:
    """Write the dbt manifest the Dagster definitions load (no database needed)."""
    from mbuzz.warehouse import parse_project

    click.echo(f"dbt manifest written: {parse_project()}")


@warehouse.command("dbt", context_settings={"ignore_unknown_options": True})
@click.argument("dbt_args", nargs=-1, required=True, type=click.UNPROCESSED)
def dbt(dbt_args: tuple[str, ...]) -> None:
    """Run any dbt command with mbuzz's profile (e.g. `mbuzz warehouse dbt source freshness`)."""
    from mbuzz.warehouse import run_dbt

    run_dbt(list(dbt_args))


@warehouse.command("env")
def env() -> None:
    """Print the environment dbt needs (for running `dbt` by hand: eval "$(mbuzz warehouse env)")."""
    import shlex

    from mbuzz.warehouse import dbt_env

    for key, value in sorted(dbt_env().items()):
        click.echo(f"export {key}={shlex.quote(value)}")
