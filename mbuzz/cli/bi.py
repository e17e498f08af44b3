"""`mbuzz bi …`: read-only database logins for analysts and BI tools (docs/analysts.md, "BI tools")."""

from __future__ import annotations

import json

import click


@click.group()
def bi() -> None:
    """Grant, list and revoke read-only database logins (one account each) for BI tools."""


@bi.command("grant")
@click.option("--account", "account_id", required=True, help="Account id (acct_…) whose rows the login sees.")
@click.option("--role", "role_name", default=None, help="Role name (default: mbuzz_bi_<account id>).")
@click.option("--host", default=None, help="Host to put in the URL, as the BI tool reaches the database.")
@click.option("--json", "as_json", is_flag=True, help='Print {"role": ..., "account_id": ..., "url": ...} only.')
def grant(account_id: str, role_name: str | None, host: str | None, as_json: bool) -> None:
    """Create a PostgreSQL login that reads ACCOUNT's rows of schema bi; prints its URL once."""
    from mbuzz import bi as service
    from mbuzz.db import connect, database_url

    url = database_url()
    with connect(url) as conn:
        made = service.grant(conn, account_id, role_name, host=host, server_url=url)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "role": made.role_name,
                    "account_id": made.account_id,
                    "url": made.url,
                    "sqlalchemy_url": made.sqlalchemy_url,
                    "views": made.views,
                }
            )
        )
        return
    click.echo(f"created role {made.role_name} for account {made.account_id} ({made.views} views in schema bi)")
    if not made.views:
        click.echo("no marts yet: the views of schema bi appear with the next `mbuzz warehouse build`")
    click.echo("connection URL (shown once; the password is stored nowhere, revoke and grant again if lost):")
    click.echo(f"  {made.url}")
    click.echo(f"SQLAlchemy (Superset): {made.sqlalchemy_url}")


@bi.command("list")
@click.option("--account", "account_id", default=None, help="Only this account's roles.")
@click.option("--json", "as_json", is_flag=True)
def list_(account_id: str | None, as_json: bool) -> None:
    """List the BI roles of this database (no passwords: they are not kept)."""
    from mbuzz import bi as service
    from mbuzz.db import connect

    with connect() as conn:
        rows = service.list_roles(conn, account_id)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "role": r.role_name,
                        "account_id": r.account_id,
                        "created_at": r.created_at.isoformat(),
                        "exists": r.exists,
                        "sessions": r.sessions,
                        "last_active_at": r.last_active_at.isoformat() if r.last_active_at else None,
                    }
                    for r in rows
                ]
            )
        )
        return
    for r in rows:
        state = f"{r.sessions} open sessions" if r.exists else "role missing on the server"
        click.echo(f"{r.role_name}  {r.account_id}  {r.created_at:%Y-%m-%d %H:%M}  {state}")
    if not rows:
        click.echo("no BI roles: mbuzz bi grant --account acct_…")


@bi.command("revoke")
@click.argument("role_name")
@click.option("--json", "as_json", is_flag=True)
def revoke(role_name: str, as_json: bool) -> None:
    """End ROLE_NAME's open sessions and drop the role."""
    from mbuzz import bi as service
    from mbuzz.db import connect

    with connect() as conn:
        ended = service.revoke(conn, role_name)
    if as_json:
        click.echo(json.dumps({"role": role_name, "sessions_ended": ended}))
        return
    click.echo(f"dropped role {role_name} ({ended} open sessions ended)")
