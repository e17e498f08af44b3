"""`mbuzz keys …`: API keys, plaintext shown once."""
from __future__ import annotations

import json

import click


@click.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--account", "account_id", required=True, help="Account id (acct_…).")
@click.option("--env", "environment", type=click.Choice(["test", "live"]), required=True)
@click.option("--name", default="", help="A label for the key.")
@click.option("--json", "as_json", is_flag=True, help='Print {"id": ..., "key": ...} only.')
def create(account_id: str, environment: str, name: str, as_json: bool) -> None:
    """Create a key; its plaintext is printed once and cannot be shown again."""
    from mbuzz import accounts as service
    from mbuzz.db import connect

    with connect() as conn:
        new = service.create_key(conn, account_id, environment, name)
    if as_json:
        click.echo(json.dumps({"id": new.key.id, "key": new.plaintext}))
    else:
        click.echo(f"created {environment} key {new.key.id}")
        click.echo(f"key: {new.plaintext}")
        click.echo("store it now: it is shown only once (mbuzz keeps only its SHA-256 digest)")


@keys.command("list")
@click.option("--account", "account_id", required=True)
@click.option("--json", "as_json", is_flag=True)
def list_(account_id: str, as_json: bool) -> None:
    """List an account's keys, masked."""
    from mbuzz import accounts as service
    from mbuzz.db import connect

    with connect() as conn:
        rows = service.list_keys(conn, account_id)
    if as_json:
        click.echo(json.dumps([
            {"id": k.id, "key": k.masked, "environment": k.environment, "name": k.name,
             "active": k.active, "last_used_at": k.last_used_at and k.last_used_at.isoformat()}
            for k in rows
        ]))
        return
    for k in rows:
        state = "active" if k.active else "revoked"
        used = k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "never used"
        click.echo(f"{k.id}  {k.masked}  {k.environment}  {state}  {used}  {k.name}")
    if not rows:
        click.echo(f"no keys: mbuzz keys create --account {account_id} --env test")


@keys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke KEY_ID at once (requests with it get 401)."""
    from mbuzz import accounts as service
    from mbuzz.db import connect

    with connect() as conn:
        key = service.revoke_key(conn, key_id)
    click.echo(f"revoked {key.id} ({key.masked})")
