"""`mbuzz accounts …`."""

from __future__ import annotations

import json

import click


@click.group()
def accounts() -> None:
    """Create and list accounts."""


@accounts.command("create")
@click.argument("name")
@click.option("--tier", default="standard", show_default=True, help="Rate-limit tier.")
@click.option(
    "--currency",
    default=None,
    metavar="CODE",
    help="Reporting currency (ISO 4217): revenue and spend are converted into it; also the default "
    "currency of conversions sent with revenue but no currency.",
)
@click.option(
    "--timezone",
    default=None,
    metavar="ZONE",
    help="IANA time zone (e.g. America/Los_Angeles) whose days the reports use; default UTC.",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"id": ...} only.')
def create(name: str, tier: str, currency: str | None, timezone: str | None, as_json: bool) -> None:
    """Create an account called NAME."""
    from mbuzz import accounts as service
    from mbuzz.db import connect

    with connect() as conn:
        account = service.create_account(conn, name, tier, currency, timezone)
    if as_json:
        click.echo(json.dumps({"id": account.id, "name": account.name}))
    else:
        click.echo(f"created account {account.id} ({account.name})")
        click.echo(f"next: mbuzz keys create --account {account.id} --env test")


@accounts.command("update")
@click.argument("account_id")
@click.option(
    "--currency",
    default=None,
    metavar="CODE",
    help="Reporting currency (ISO 4217), also the default of conversions sent with revenue but no currency.",
)
@click.option("--timezone", default=None, metavar="ZONE", help="IANA time zone whose days the reports use.")
def update(account_id: str, currency: str | None, timezone: str | None) -> None:
    """Change an account's settings (reporting currency, time zone)."""
    from mbuzz import accounts as service
    from mbuzz.db import connect

    if currency is None and timezone is None:
        raise click.UsageError("give --currency CODE and/or --timezone ZONE")
    with connect() as conn:
        if currency is not None:
            code = service.set_default_currency(conn, account_id, currency)
            click.echo(f"{account_id}: reports in {code}; conversions with revenue but no currency are in {code}")
        if timezone is not None:
            zone = service.set_timezone(conn, account_id, timezone)
            click.echo(f"{account_id}: days are {zone} days")


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """List accounts."""
    from mbuzz import accounts as service
    from mbuzz.db import connect

    with connect() as conn:
        rows = service.list_accounts(conn)
    if as_json:
        click.echo(json.dumps([{"id": a.id, "name": a.name, "tier": a.tier} for a in rows]))
        return
    for a in rows:
        click.echo(f"{a.id}  {a.name}  ({a.tier})")
    if not rows:
        click.echo("no accounts yet: mbuzz accounts create NAME")
