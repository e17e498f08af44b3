"""`mbuzz demo`: the main job (see mbuzz/demo/run.py)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--visitors", default=3000, show_default=True, help="Synthetic visitors to send.")
@click.option("--days", default=45, show_default=True, help="Days of traffic history.")
@click.option(
    "--report-dir",
    default="mbuzz-report",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder the HTML report is written to.",
)
def demo(visitors: int, days: int, report_dir: Path) -> None:
    """Database, account and key, API, traffic over HTTP, pipeline, report."""
    from rich.console import Console

    from mbuzz.demo.run import run_demo

    raise SystemExit(run_demo(visitors, days, report_dir, Console()))
