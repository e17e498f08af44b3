"""`mbuzz attribute`: run an attribution model on a touchpoints file (offline).

Same engine and same frames as the pipeline: attribution.attribute(). Files are
CSV, or Parquet when the name ends in `.parquet` (input and output chosen
independently); both are read and written with Arrow (attribution.io).
A rule model without --summary or --bootstrap (the common case) runs on Arrow and
numpy only, from file to credits (prepare_table + run_rule_table): pandas is not
even imported, which is a third of a Parquet run's time.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import click

LARGE_INPUT_BYTES = 20 * 2**20  # show a progress bar above this size


@click.command()
@click.option(
    "--model",
    "model_name",
    required=True,
    metavar="NAME|PATH.dsl|markov[:N]|shapley|ordered_shapley|algorithmic",
    help="A preset (first_touch, u_shaped, ...), a .dsl file (FILE.dsl#Name to pick one "
    "model), markov, markov:2..4, shapley, ordered_shapley or algorithmic.",
)
@click.option(
    "--touchpoints",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV or .parquet: journey_id, touch_ts, channel, converted, conversion_ts, revenue"
    "[, milestones][, any column to carry through].",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Credits, CSV or .parquet: journey_id, touch_index, channel, credit, revenue_credit, "
    "the carried columns. Written whole or not at all.",
)
@click.option("--summary", is_flag=True, help="Print the channel summary table.")
@click.option(
    "--ci",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Confidence level of bootstrap intervals for channel totals, e.g. 0.95.",
)
@click.option(
    "--bootstrap",
    "n_bootstrap",
    type=click.IntRange(0),
    default=0,
    help="Number of bootstrap resamples (default 200 when --ci is given).",
)
@click.option(
    "--lookback",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Lookback window in days (default 30; a model's own lookback wins).",
)
@click.option("--max-touches", type=click.IntRange(1), default=None, help="Keep the last N touches.")
@click.option(
    "--transform",
    default="unique",
    show_default=True,
    help="unique, exposure, first, remove_if_last_and_not_all(direct), remove_if_not_all(direct).",
)
@click.option("--no-cycles", is_flag=True, help="Do not cut journeys at a visitor's previous conversion.")
@click.option(
    "--impressions",
    type=click.Choice(["view_through", "include", "exclude"]),
    default="view_through",
    show_default=True,
    help="touch_kind 'impression' rows: only in journeys without a visit, all, or none (docs/impressions.md).",
)
@click.option(
    "--impression-lookback",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Lookback of impressions in days (default 1).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling and bootstrap.")
def attribute(
    model_name: str,
    touchpoints: Path,
    out: Path,
    summary: bool,
    ci: float | None,
    n_bootstrap: int,
    lookback: float | None,
    max_touches: int | None,
    transform: str,
    no_cycles: bool,
    impressions: str,
    impression_lookback: float | None,
    seed: int,
) -> None:
    """Run an attribution model on a touchpoints file (CSV or Parquet) and write per-touch credits."""
    from attribution import JourneyOptions, load_model, prepare, prepare_table, run_model
    from attribution.engine import run_rule_table, uses_milestones
    from attribution.io import read_touch_table, touch_frame, write_credits, write_table
    from attribution.journeys import DEFAULT_IMPRESSION_LOOKBACK_DAYS, DEFAULT_LOOKBACK_DAYS, OPTIONAL
    from dsl import DslError

    try:
        options = JourneyOptions(
            lookback_days=DEFAULT_LOOKBACK_DAYS if lookback is None else lookback,
            max_touches=max_touches,
            transform=transform,
            conversion_cycles=not no_cycles,
            impressions=impressions,
            impression_lookback_days=DEFAULT_IMPRESSION_LOOKBACK_DAYS
            if impression_lookback is None
            else impression_lookback,
        )
        spec = load_model(model_name)
    except DslError as exc:
        raise click.ClickException(f"{model_name} has errors:\n{exc}") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    extra = {"seed": seed} if spec.get("kind") in ("shapley", "ordered_shapley") else {}
    if ci is not None and not n_bootstrap:
        n_bootstrap = 200
    show_progress = touchpoints.stat().st_size > LARGE_INPUT_BYTES and sys.stderr.isatty()
    arrow_only = spec.get("kind", "rules") == "rules" and not n_bootstrap and not summary
    steps = 4 + n_bootstrap

    with _progress(show_progress) as progress:
        task = progress.add_task("reading touchpoints", total=steps)
        try:
            # milestones are read only for a model with a milestone rule (the frame path: always)
            table = read_touch_table(touchpoints, skip=() if not arrow_only or uses_milestones(spec) else OPTIONAL)
            progress.update(task, advance=1, description="building journeys")
            if arrow_only:
                journeys = prepare_table(table, options.with_model(spec), converting_only=True)
            else:
                touches = touch_frame(table)
                journeys = prepare(touches, options.with_model(spec))
            progress.update(task, advance=1, description=f"running {spec.get('name', model_name)}")
            if arrow_only:
                credits = run_rule_table(journeys, spec)
                write = write_table
            else:
                credits = run_model(journeys, spec, **extra)
                write = write_credits
            progress.update(task, advance=1, description="writing credits")
            write(credits, out)
            progress.update(task, advance=1, description="bootstrap")
            intervals = None
            if n_bootstrap:
                from attribution.bootstrap import bootstrap_channel_totals

                def one_run(sample):
                    progress.update(task, advance=1)
                    return run_model(prepare(sample, options.with_model(spec)), spec, **extra)

                intervals = bootstrap_channel_totals(one_run, touches, n=n_bootstrap, ci=ci or 0.95, seed=seed)
        except ValueError as exc:  # input, model and insufficient-data errors
            raise click.ClickException(str(exc)) from None
        except OSError as exc:  # e.g. the output folder does not exist or is not writable
            raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None

    if arrow_only:  # each converting journey has a row (an `unassigned` one if no touch is left)
        n_conv = journeys.converting.n_journeys
    else:
        n_conv = credits["journey_id"].nunique()
    click.echo(f"{len(credits)} credit rows for {n_conv} conversions written to {out}", err=True)
    if summary or intervals is not None:
        from attribution import channel_summary

        _print_summary(channel_summary(credits), intervals, ci or 0.95)


class _NoProgress:
    """rich.progress.Progress's calls used here, doing nothing."""

    def add_task(self, *args, **kwargs) -> int:
        return 0

    def update(self, *args, **kwargs) -> None:
        pass


@contextmanager
def _progress(show: bool):
    """A transient progress bar on stderr when `show` (a large input, stderr a terminal);
    otherwise a stand-in, and rich is not imported (a tenth of a Parquet run's start-up)."""
    if not show:
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield progress


def _print_summary(table, intervals, ci: float) -> None:
    from rich.console import Console
    from rich.table import Table

    if intervals is not None:
        table = table.merge(intervals[["channel", "lower", "upper"]], on="channel", how="left")
    view = Table(title="Channel summary")
    for column in table.columns:
        label = {"lower": f"{ci:.0%} CI low", "upper": f"{ci:.0%} CI high"}.get(column, column)
        view.add_column(label, justify="left" if column == "channel" else "right")
    for row in table.itertuples(index=False):
        view.add_row(*[f"{v:,.4f}" if isinstance(v, float) else str(v) for v in row])
    Console(width=160).print(view)
