"""`mbuzz warehouse …`: run the dbt warehouse against mbuzz's database."""

from __future__ import annotations

import click


@click.group()
def warehouse() -> None:
    """Build the dbt warehouse (sessions, channels, journeys, marts, aggregates)."""


@warehouse.command("build", context_settings={"ignore_unknown_options": True})
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option(
    "--target",
    type=click.Choice(["postgres", "timescaledb"]),
    default=None,
    help="dbt target (default: detected from the database).",
)
@click.option("--threads", type=int, default=None, help="dbt threads (default 4; 1 for single-connection servers).")
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
def build(full_refresh: bool, target: str | None, threads: int | None, dbt_args: tuple[str, ...]) -> None:
    """Run `dbt build` (extra arguments go to dbt, e.g. `-s marts`)."""
    from mbuzz.warehouse import run_dbt

    args = ["build", *dbt_args] + (["--full-refresh"] if full_refresh else [])
    result = run_dbt(args, target=target, threads=threads)
    click.echo(f"dbt build finished on target {result.target}: {len(result.results)} nodes")


@warehouse.command("parse")
def parse() -> None:
    """Write the dbt manifest the Dagster definitions load (no database needed)."""
    from mbuzz.warehouse import parse_project

    click.echo(f"dbt manifest written: {parse_project()}")


@warehouse.command("dbt", context_settings={"ignore_unknown_options": True})
@click.argument("dbt_args", nargs=-1, required=True, type=click.UNPROCESSED)
def dbt(dbt_args: tuple[str, ...]) -> None:
    """Run any dbt command with mbuzz's profile (e.g. `mbuzz warehouse dbt source freshness`)."""
    from mbuzz.warehouse import run_dbt

    run_dbt(list(dbt_args))


@warehouse.command("env")
def env() -> None:
    """Print the environment dbt needs (for running `dbt` by hand: eval "$(mbuzz warehouse env)")."""
    import shlex

    from mbuzz.warehouse import dbt_env

    for key, value in sorted(dbt_env().items()):
        click.echo(f"export {key}={shlex.quote(value)}")


@warehouse.command("docs")
@click.option("--port", type=int, default=8580, show_default=True, help="Port on 127.0.0.1 (0: any free port).")
@click.option("--no-serve", is_flag=True, help="Generate the docs site and exit.")
@click.option(
    "--no-generate", is_flag=True, help="Serve the last generated site (the nightly run refreshes its catalog)."
)
def docs(port: int, no_serve: bool, no_generate: bool) -> None:
    """Generate dbt's docs site (models, columns, types, lineage) and serve it on 127.0.0.1."""
    import time

    from mbuzz.warehouse import DOCS_FILES, docs_server, generate_docs, target_dir

    if no_generate:
        folder = target_dir()
        missing = [name for name in DOCS_FILES if not (folder / name).exists()]
        if missing:
            raise click.ClickException(
                f"no {', '.join(missing)} in {folder}: run `mbuzz warehouse docs` without --no-generate"
            )
    else:
        click.echo("[1/2] dbt docs generate: compiling the project and reading column types from the database…")
        started = time.monotonic()
        folder = generate_docs()
        click.echo(f"      wrote {', '.join(DOCS_FILES)} in {folder} ({time.monotonic() - started:.0f} s)")
    if no_serve:
        return
    try:
        server = docs_server(folder, port=port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): pick another with --port")
    click.echo(
        f"[2/2] serving the docs at http://127.0.0.1:{server.server_address[1]}/ (Ctrl+C stops)",
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()


def _csv_list(value: tuple[str, ...]) -> list[str]:
    return [item.strip() for chunk in value for item in chunk.split(",") if item.strip()]


@warehouse.command("metrics")
@click.option("--account", "account_id", required=True, help="The account (every answer is scoped to it).")
@click.option(
    "--metrics",
    "metric_names",
    multiple=True,
    required=True,
    help="Comma-separated: credited_conversions, attributed_revenue, spend, roas, cost_per_conversion, touch_count.",
)
@click.option(
    "--group-by",
    multiple=True,
    help="Comma-separated: channel, model__name, attribution__utm_source / __utm_medium / "
    "__utm_campaign, metric_time__day / __week / __month.",
)
@click.option("--model", default=None, help="One attribution model (e.g. markov).")
@click.option("--environment", type=click.Choice(["live", "test"]), default="live", show_default=True)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day (UTC), inclusive.")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day (UTC), inclusive.")
@click.option("--last-weeks", type=int, default=None, help="The last N weeks up to today (sets --start).")
@click.option(
    "--where",
    multiple=True,
    help="Another MetricFlow filter, e.g. \"{{ Dimension('attribution__utm_campaign') }} != ''\".",
)
@click.option("--order", multiple=True, help="Order by these (prefix - for descending).")
@click.option("--limit", type=int, default=None)
@click.option("--json", "as_json", is_flag=True, help="Rows as JSON objects (with the note, if any).")
@click.option("--sql", "show_sql", is_flag=True, help="Print the SQL MetricFlow ran.")
def metrics(
    account_id: str,
    metric_names: tuple[str, ...],
    group_by: tuple[str, ...],
    model: str | None,
    environment: str,
    start,
    end,
    last_weeks: int | None,
    where: tuple[str, ...],
    order: tuple[str, ...],
    limit: int | None,
    as_json: bool,
    show_sql: bool,
) -> None:
    """Query the semantic layer's metrics for one account (MetricFlow, docs/analysts.md)."""
    import json
    from datetime import date, timedelta

    from mbuzz.semantic import query_metrics

    if last_weeks is not None:
        start = date.today() - timedelta(weeks=last_weeks)
    if not as_json:
        click.echo("querying MetricFlow…", err=True)
    answer = query_metrics(
        account_id,
        _csv_list(metric_names),
        _csv_list(group_by),
        model=model,
        environment=environment,
        start=start,
        end=end,
        where=list(where),
        order=_csv_list(order),
        limit=limit,
    )
    if as_json:
        click.echo(
            json.dumps(
                {"columns": answer.columns, "rows": answer.as_dicts(), "note": answer.note},
                default=_json_value,
                indent=2,
            )
        )
        return
    if show_sql:
        click.echo(answer.sql)
    widths = [max([len(c)] + [len(_cell(r[i])) for r in answer.rows]) for i, c in enumerate(answer.columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(answer.columns, widths)))
    click.echo("  ".join("-" * w for w in widths))
    for row in answer.rows:
        click.echo("  ".join(_cell(v).ljust(w) for v, w in zip(row, widths)))
    if answer.note:
        click.echo(f"note: {answer.note}", err=True)


def _json_value(value):
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    return str(value)
