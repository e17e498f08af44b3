"""`mbuzz runs list`: the attribution run history (attribution.attribution_runs)."""

from __future__ import annotations

import json

import click


@click.group()
def runs() -> None:
    """Show the attribution run history."""


@runs.command("list")
@click.option("--limit", default=20, show_default=True, help="How many runs, newest first.")
@click.option("--json", "as_json", is_flag=True)
def list_(limit: int, as_json: bool) -> None:
    """List the latest attribution runs: window, status, counts, error."""
    from mbuzz.attribution_runs import list_runs
    from mbuzz.db import connect

    with connect() as conn:
        rows = list_runs(conn, limit)
    if as_json:
        click.echo(json.dumps(rows, default=str))
        return
    for r in rows:
        window = f"{r['window_start']:%Y-%m-%d %H:%M} .. {r['window_end']:%Y-%m-%d %H:%M}" if r["window_start"] else "-"
        counts = f"{r['conversions']} conversions, {r['credits_written']} credits" if r["status"] == "succeeded" else ""
        click.echo(
            f"{r['run_id']}  {r['status']:<9}  {r['started_at']:%Y-%m-%d %H:%M:%S}  {window}  {counts}"
            + (f"  {r['error']}" if r["error"] else "")
        )
