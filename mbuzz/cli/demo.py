"""`mbuzz demo`: the main job. Database up, schema migrated, a demo account and key."""
from __future__ import annotations

import click


@click.command()
def demo() -> None:
    """Start the database, migrate it, create the demo account and an API key."""
    from mbuzz import accounts as service
    from mbuzz.db import connect, database_url
    from mbuzz.db.migrate import upgrade
    from mbuzz.settings import mask_url

    url = database_url(start=True)
    click.echo(f"[1/3] database: {mask_url(url)}")
    upgrade(url)
    click.echo("[2/3] schema migrated")
    with connect(url) as conn:
        account = next((a for a in service.list_accounts(conn) if a.name == "mbuzz demo"), None)
        if account is None:
            account = service.create_account(conn, "mbuzz demo")
        new = service.create_key(conn, account.id, "test", name="demo")
    click.echo(f"[3/3] account {account.id} with a new test key {new.key.id}")
    click.echo(f"\n  API key (shown once): {new.plaintext}\n")
    click.echo("next: mbuzz keys list --account " + account.id)
