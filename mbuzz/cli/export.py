"""`mbuzz export …`: what attribution learned, for other tools (docs/mmm.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click


@click.group()
def export() -> None:
    """Export the warehouse's numbers for other tools."""


@export.command("mmm")
@click.option("--account", "account_id", required=True, help="Account id (acct_…).")
@click.option("--model", required=True, help="The attribution model whose credits become conversions/revenue.")
@click.option("--env", "environment", type=click.Choice(["test", "live"]), default="live", show_default=True)
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First day (default: the first with data).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: the last with data).")
@click.option(
    "--grain",
    type=click.Choice(["day", "week"]),
    default="day",
    show_default=True,
    help="Days, or ISO weeks starting Monday.",
)
@click.option(
    "--shape",
    type=click.Choice(["long", "wide"]),
    default="wide",
    show_default=True,
    help="wide: a row per period with <channel>_<measure> columns (pymc-marketing, Meridian); "
    "long: a row per period and channel.",
)
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), help="Default: the output's extension.")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write (.csv or .parquet).",
)
def mmm(
    account_id: str, model: str, environment: str, start, end, grain: str, shape: str, fmt: str | None, output: Path
) -> None:
    """Write media-mix model input: per period and channel, spend, impressions, clicks, visits and the
    model's credited conversions and revenue, over a complete calendar (quiet periods are zeros)."""
    from mbuzz import mmm as service
    from mbuzz.accounts import get_account
    from mbuzz.db import connect

    fmt = service.file_format(output, fmt)
    start_day: date | None = start.date() if start else None
    end_day: date | None = end.date() if end else None
    with connect() as conn:
        get_account(conn, account_id)
        result = service.build(conn, account_id, environment, model, start_day, end_day, grain)
    rows = result.table(shape)
    service.write(rows, output, fmt)
    first, last = result.periods[0], result.periods[-1]
    click.echo(
        f"{output}: {len(rows)} rows ({shape}, {fmt}), {len(result.periods)} {grain}s {first} … {last}, "
        f"{len(result.channels)} channels, model {model}"
    )
    total = {measure: sum(row[measure] or 0 for row in result.rows) for measure in ("spend", "conversions", "revenue")}
    click.echo(
        f"  spend {total['spend']:,.2f} {'/'.join(result.currencies) or ''}  ·  credited conversions "
        f"{total['conversions']:,.1f}  ·  credited revenue {total['revenue']:,.2f}"
    )
    unreported = [
        channel
        for channel in result.channels
        if any(row["spend"] for row in result.rows if row["channel"] == channel)
        and all(row["impressions"] is None for row in result.rows if row["channel"] == channel)
    ]
    if unreported:
        click.echo(
            f"  note: no impressions were uploaded for {', '.join(unreported)}: their impressions are empty "
            "(add impressions to the spend rows, docs/api/spend.md)"
        )
    if len(result.currencies) > 1:
        click.echo(f"  warning: the spend mixes currencies ({', '.join(result.currencies)}): convert before modelling")
