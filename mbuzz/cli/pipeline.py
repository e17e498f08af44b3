"""`mbuzz pipeline run` and `mbuzz ui`: the Dagster graph from the command line."""

from __future__ import annotations

import click


@click.group()
def pipeline() -> None:
    """Run the pipeline: dbt warehouse → attribution → marts and aggregates."""


@pipeline.command("run")
@click.option("--partition", help="Conversion day to (re)attribute, YYYY-MM-DD (default: today, UTC).")
@click.option("--all", "all_days", is_flag=True, help="Every day that has conversions, in one run.")
@click.option("--rules-only", is_flag=True, help="Skip the data-driven models (Markov, Shapley, algorithmic).")
@click.option(
    "--hourly",
    is_flag=True,
    help="What the hourly schedule runs: incremental, rule-based models, no dbt tests (the nightly run has them).",
)
def run(partition: str | None, all_days: bool, rules_only: bool, hourly: bool) -> None:
    """Materialise the whole asset graph in-process, with its checks."""
    from rich.console import Console

    from mbuzz.pipeline import run_pipeline

    if partition and all_days:
        raise click.UsageError("use --partition DATE or --all, not both")
    console = Console()
    with console.status("running the pipeline…") as status:
        result = run_pipeline(
            partition,
            all_days,
            data_driven=not rules_only,
            hourly=hourly,
            on_event=lambda msg: (console.print(f"  {msg}"), status.update(msg)),
        )
    failed_checks = [c for c in result.checks if not c[2]]
    slowest = sorted(result.step_seconds.items(), key=lambda item: -item[1])[:3]
    console.print(
        f"{len(result.materialized)} assets materialized, {len(result.checks)} checks "
        f"({len(failed_checks)} failed); run {result.run_id}; slowest steps: "
        + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in slowest)
    )
    for failure in result.failures:
        console.print(f"[red]{failure}[/red]")
    if not result.success:
        raise SystemExit(1)


@click.command()
@click.option("--port", default=3000, show_default=True)
def ui(port: int) -> None:
    """Open the Dagster UI on the same instance `mbuzz pipeline run` records into."""
    import os
    import sys
    from pathlib import Path

    from mbuzz.paths import PROJECT_DIR
    from mbuzz.pipeline import dagster_home

    home = dagster_home()
    click.echo(f"Dagster UI on http://127.0.0.1:{port} (instance {home}); Ctrl-C stops it")
    sys.stdout.flush()
    sys.stderr.flush()
    dagster = str(Path(sys.executable).parent / "dagster")
    # this process becomes `dagster dev` (exec): a signal sent to `mbuzz ui` reaches dagster itself,
    # which stops its webserver and code servers; nothing is left behind
    os.execv(dagster, [dagster, "dev", "-p", str(port), "-h", "127.0.0.1", "-w", str(PROJECT_DIR / "workspace.yaml")])
