"""`mbuzz spend …`: upload ad spend from a CSV file (the API takes the same rows as JSON or CSV)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def spend() -> None:
    """Ad spend per channel (or campaign) and day, for ROAS and cost per conversion."""


@spend.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", "account_id", required=True, help="Account id (acct_…).")
@click.option("--env", "environment", type=click.Choice(["test", "live"]), default="live", show_default=True)
@click.option("--json", "as_json", is_flag=True, help='Print {"accepted": n, "rejected": [...]} only.')
def import_(csv_file: Path, account_id: str, environment: str, as_json: bool) -> None:
    """Store the rows of CSV_FILE (header: date,channel,utm_source,utm_medium,utm_campaign,amount,currency[,impressions,clicks]).

    Valid rows are stored (a day already uploaded is replaced), invalid ones are listed with
    their line number; the command fails when any row was rejected."""
    from mbuzz import spend as service
    from mbuzz.accounts import get_account
    from mbuzz.db import connect

    try:
        rows = service.parse_csv(csv_file.read_text(encoding="utf-8-sig"))
    except service.SpendInputError as exc:
        raise click.ClickException(f"{csv_file}: {exc}") from None
    with connect() as conn:
        get_account(conn, account_id)
        result = service.record_spend(conn, account_id, environment, rows)
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        click.echo(f"{result.accepted} rows stored for {account_id} ({environment}), {len(result.rejected)} rejected")
        for rejected in result.rejected:
            # line 1 is the header
            click.echo(f"  line {rejected['index'] + 2}: " + "; ".join(rejected["errors"]), err=True)
    if result.rejected:
        raise SystemExit(1)
