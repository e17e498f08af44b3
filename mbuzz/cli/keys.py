"""`mbuzz keys …`: API keys. Secret keys (sk_…) are shown once; publishable keys (pk_…, for web
pages: they may only send, from their allowed origins) are public and shown in `keys list`."""

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
@click.option(
    "--publishable",
    is_flag=True,
    help="A publishable key (pk_…) for web pages: it may only send events and conversions.",
)
@click.option(
    "--origin",
    "origins",
    multiple=True,
    metavar="ORIGIN",
    help="With --publishable: a site allowed to send with the key (https://shop.example, or "
    "https://*.shop.example for its subdomains). Repeat for several.",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"id": ..., "key": ...} only.')
def create(
    account_id: str, environment: str, name: str, publishable: bool, origins: tuple[str, ...], as_json: bool
) -> None:
    """Create a key. A secret key's plaintext is printed once and cannot be shown again."""
    from mbuzz import accounts as service
    from mbuzz.db import connect

    if origins and not publishable:
        raise click.UsageError("--origin is for publishable keys: add --publishable")
    with connect() as conn:
        new = service.create_key(conn, account_id, environment, name, publishable=publishable, origins=origins)
    if as_json:
        out = {"id": new.key.id, "key": new.plaintext, "kind": new.key.kind}
        if publishable:
            out["allowed_origins"] = list(new.key.allowed_origins)
        click.echo(json.dumps(out))
    elif publishable:
        click.echo(f"created publishable {environment} key {new.key.id}")
        click.echo(f"key: {new.plaintext}")
        click.echo(f"allowed origins: {', '.join(new.key.allowed_origins)}")
        click.echo("it is public by design: put it in your pages (mbuzz.js or analytics.js); it can only send")
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
        click.echo(
            json.dumps(
                [
                    {
                        "id": k.id,
                        "key": k.display,
                        "kind": k.kind,
                        "environment": k.environment,
                        "name": k.name,
                        "allowed_origins": list(k.allowed_origins),
                        "active": k.active,
                        "last_used_at": k.last_used_at and k.last_used_at.isoformat(),
                    }
                    for k in rows
                ]
            )
        )
        return
    for k in rows:
        state = "active" if k.active else "revoked"
        used = k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "never used"
        origins = f"  origins: {', '.join(k.allowed_origins)}" if k.publishable else ""
        click.echo(f"{k.id}  {k.display}  {k.kind}  {k.environment}  {state}  {used}  {k.name}{origins}")
    if not rows:
        click.echo(f"no keys: mbuzz keys create --account {account_id} --env test")


@keys.command("origins")
@click.argument("key_id")
@click.option("--add", "add", multiple=True, metavar="ORIGIN", help="An origin to allow (repeatable).")
@click.option("--remove", "remove", multiple=True, metavar="ORIGIN", help="An origin to stop allowing (repeatable).")
def origins(key_id: str, add: tuple[str, ...], remove: tuple[str, ...]) -> None:
    """Show, add or remove the allowed origins of publishable key KEY_ID."""
    from mbuzz import accounts as service
    from mbuzz.db import connect

    with connect() as conn:
        key = service.set_origins(conn, key_id, add=add, remove=remove)
    click.echo(f"{key.id} may send from: {', '.join(key.allowed_origins)}")


@keys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke KEY_ID at once (requests with it get 401)."""
    from mbuzz import accounts as service
    from mbuzz.db import connect

    with connect() as conn:
        key = service.revoke_key(conn, key_id)
    click.echo(f"revoked {key.id} ({key.masked})")
