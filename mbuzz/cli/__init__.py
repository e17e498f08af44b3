"""The `mbuzz` command line: one click group, sub-commands loaded lazily.

Each entry of COMMANDS is "module:attribute"; the module is imported only when
its command runs, so `mbuzz --help` stays fast (no pandas, dbt or Dagster).
"""

from __future__ import annotations

import importlib
import sys

import click

from mbuzz.errors import MbuzzError

COMMANDS: dict[str, str] = {
    "db": "mbuzz.cli.db:db",
    "accounts": "mbuzz.cli.accounts:accounts",
    "keys": "mbuzz.cli.keys:keys",
    "users": "mbuzz.cli.users:users",
    "dsl": "mbuzz.cli.dsl:dsl",
    "attribute": "mbuzz.cli.attribute:attribute",
    "demo": "mbuzz.cli.demo:demo",
    "serve": "mbuzz.cli.serve:serve",
    "pipeline": "mbuzz.cli.pipeline:pipeline",
    "ui": "mbuzz.cli.pipeline:ui",
    "channels": "mbuzz.cli.channels:channels",
    "warehouse": "mbuzz.cli.warehouse:warehouse",
    "spend": "mbuzz.cli.spend:spend",
    "runs": "mbuzz.cli.runs:runs",
    "export": "mbuzz.cli.export:export",
    "lake": "mbuzz.cli.lake:lake",
    "conversions": "mbuzz.cli.conversions:conversions",
    "bi": "mbuzz.cli.bi:bi",
    "fx": "mbuzz.cli.fx:fx",
}

HELP = {
    "db": "Start, stop, inspect and migrate the database.",
    "accounts": "Create and list accounts.",
    "keys": "Create, list and revoke API keys.",
    "users": "Create and list dashboard users (account admins).",
    "dsl": "Check attribution DSL files.",
    "attribute": "Run an attribution model on a touchpoints CSV or Parquet file (offline).",
    "demo": "Run the end-to-end demo.",
    "serve": "Serve the ingestion API (gunicorn; --dev for Flask's server).",
    "pipeline": "Run the Dagster pipeline in-process.",
    "ui": "Open the Dagster UI (dagster dev) on mbuzz's instance.",
    "channels": "Explain which channel a landing gets and which rule fired.",
    "warehouse": "Build the dbt warehouse, serve its docs, query its metrics (MetricFlow).",
    "spend": "Upload ad spend (CSV) for ROAS and cost per conversion.",
    "runs": "Show the attribution run history (status, window, counts).",
    "export": "Export for other tools: media-mix model input (mbuzz export mmm).",
    "lake": "Copy new raw rows to the lake (Parquet under MBUZZ_LAKE) for Spark.",
    "conversions": "Import offline and CRM conversions (CSV), with a match report.",
    "bi": "Read-only database logins for analysts and BI tools (one account each).",
    "fx": "Import daily exchange rates (CSV) into the account's reporting currency.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(package_name="mbuzz")
def cli() -> None:
    """mbuzz: self-hosted multi-touch marketing attribution warehouse."""


def main() -> None:
    """Console entry point: user-facing errors become one line and exit code 1."""
    try:
        cli.main(standalone_mode=False)
    except MbuzzError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
