"""`mbuzz users …`: dashboard users (account admins)."""

from __future__ import annotations

import json

import click


@click.group()
def users() -> None:
    """Create and list dashboard users."""


@users.command("create")
@click.option("--account", "account_id", required=True, help="Account id (acct_…).")
@click.option("--email", required=True, help="The user's e-mail (their sign-in name).")
@click.option("--setup-link", is_flag=True, help="Print a one-time link to choose a password instead of prompting.")
@click.option(
    "--base-url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Where the dashboard is served (`mbuzz serve`), for the setup link.",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"id": ..., "email": ...[, "setup_url": ...]} only.')
def create(account_id: str, email: str, setup_link: bool, base_url: str, as_json: bool) -> None:
    """Create a user of ACCOUNT; the password is asked for (hidden, twice) unless --setup-link."""
    from mbuzz import users as service
    from mbuzz.db import connect

    password = None
    if not setup_link:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        service.check_password_strength(password)
    with connect() as conn:
        user = service.create_user(conn, account_id, email, password)
        url = service.setup_url(base_url, service.setup_token(conn, user.id)) if setup_link else None
    if as_json:
        click.echo(json.dumps({"id": user.id, "email": user.email, **({"setup_url": url} if url else {})}))
        return
    click.echo(f"created user {user.id} ({user.email}) in account {user.account_id}")
    if url:
        hours = service.SETUP_TOKEN_MAX_AGE // 3600
        click.echo(f"setup link (works once, for {hours} hours): {url}")
    else:
        click.echo(f"sign in at {base_url.rstrip('/')}/dashboard/login")


@users.command("list")
@click.option("--account", "account_id", required=True)
@click.option("--json", "as_json", is_flag=True)
def list_(account_id: str, as_json: bool) -> None:
    """List an account's dashboard users."""
    from mbuzz import users as service
    from mbuzz.db import connect

    with connect() as conn:
        rows = service.list_users(conn, account_id)
    if as_json:
        click.echo(json.dumps([{"id": u.id, "email": u.email, "has_password": u.has_password} for u in rows]))
        return
    for u in rows:
        click.echo(f"{u.id}  {u.email}  {'password set' if u.has_password else 'waiting for setup'}")
    if not rows:
        click.echo(f"no users: mbuzz users create --account {account_id} --email you@example.com")
