"""`mbuzz fx …`: an account's daily exchange rates into its reporting currency (docs/money.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def fx() -> None:
    """Exchange rates: revenue and spend are converted into the account's reporting currency."""


@fx.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", "account_id", required=True, help="Account id (acct_…).")
@click.option("--json", "as_json", is_flag=True, help='Print {"stored": n} only.')
def import_(csv_file: Path, account_id: str, as_json: bool) -> None:
    """Store the rates of CSV_FILE (header: date,currency,quote_currency,rate; rate = units of
    quote_currency per 1 currency). All or nothing: any bad row is listed with its line number
    and nothing is stored."""
    from mbuzz import fx as service
    from mbuzz.accounts import get_account
    from mbuzz.db import connect

    try:
        rows = service.parse_csv(csv_file.read_text(encoding="utf-8-sig"))
        with connect() as conn:
            get_account(conn, account_id)
            stored = service.record_rates(conn, account_id, rows)
    except service.FxInputError as exc:
        for rejected in exc.rejected:
            # line 1 is the header
            click.echo(f"  line {rejected['index'] + 2}: " + "; ".join(rejected["errors"]), err=True)
        raise click.ClickException(f"{csv_file}: {exc}") from None
    if as_json:
        click.echo(json.dumps({"stored": stored}))
    else:
        click.echo(f"{stored} rates stored for {account_id}")
