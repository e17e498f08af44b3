"""`mbuzz db …`: the embedded server's life cycle and migrations."""

from __future__ import annotations

import click

from mbuzz.settings import get_settings, mask_url


@click.group()
def db() -> None:
    """Start, stop, inspect and migrate the database."""


@db.command()
@click.option("--no-migrate", is_flag=True, help="Only start the server.")
def up(no_migrate: bool) -> None:
    """Start the embedded PostgreSQL (or check DATABASE_URL) and migrate it."""
    from mbuzz.db import connect, database_url
    from mbuzz.db.migrate import upgrade

    url = database_url(start=True)
    connect(url).close()
    where = "DATABASE_URL" if get_settings().database_url else f"embedded server in {get_settings().home}"
    click.echo(f"database up: {mask_url(url)} ({where})")
    if not no_migrate:
        upgrade(url)
        click.echo("schema migrated to head")


@db.command()
def down() -> None:
    """Stop the embedded PostgreSQL."""
    settings = get_settings()
    if settings.database_url:
        click.echo("DATABASE_URL is set: mbuzz does not manage that server; nothing to stop.")
        return
    from mbuzz.db.embedded import EmbeddedServer

    stopped = EmbeddedServer(settings.home).down()
    click.echo("embedded database stopped" if stopped else "embedded database was not running")


@db.command()
def status() -> None:
    """Where the database is, whether it answers, and its schema revision."""
    from mbuzz.db import connect, database_url, timescale_available, timescale_enabled
    from mbuzz.db.migrate import current_revision, head_revision

    settings = get_settings()
    if settings.embedded:
        from mbuzz.db.embedded import EmbeddedServer

        server = EmbeddedServer(settings.home)
        pid = server.running_pid()
        click.echo(f"mode:      embedded ({settings.home})")
        click.echo(f"server:    {'running, pid ' + str(pid) if pid else 'stopped (start it with `mbuzz db up`)'}")
        if not pid:
            raise SystemExit(1)
    else:
        click.echo("mode:      DATABASE_URL")
    url = database_url(start=False)
    with connect(url) as conn:
        version = conn.execute("show server_version").fetchone()[0]
        ts = "enabled" if timescale_enabled(conn) else ("available" if timescale_available(conn) else "not available")
    click.echo(f"url:       {mask_url(url)}")
    click.echo(f"postgres:  {version}")
    click.echo(f"timescale: {ts}")
    revision, head = current_revision(url), head_revision()
    state = "up to date" if revision == head else f"behind (head is {head}; run `mbuzz db migrate`)"
    click.echo(f"schema:    {revision or 'not migrated'} {state}")


@db.command()
def migrate() -> None:
    """Apply the Alembic migrations (a no-op when up to date)."""
    from mbuzz.db import connect, database_url
    from mbuzz.db.migrate import current_revision, upgrade

    url = database_url()
    connect(url).close()
    before = current_revision(url)
    upgrade(url)
    after = current_revision(url)
    click.echo(f"schema at {after}" + ("" if before != after else " (already up to date)"))


@db.command()
def url() -> None:
    """Print the database URL in use."""
    from mbuzz.db import database_url

    click.echo(database_url())
