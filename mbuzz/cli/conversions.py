"""`mbuzz conversions import FILE.csv`: offline and CRM conversions, with a match report."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def conversions() -> None:
    """Offline and CRM conversions (the API takes the same rows at POST /api/v1/conversions/batch)."""


def _account(conn, account_id: str | None) -> str:
    from mbuzz.accounts import get_account, list_accounts

    if account_id is not None:
        return get_account(conn, account_id).id
    accounts = list_accounts(conn)
    if len(accounts) != 1:
        raise click.UsageError(f"{len(accounts)} accounts here: name one with --account acct_… (mbuzz accounts list)")
    return accounts[0].id


@conversions.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", "account_id", help="Account id (acct_…); may be left out when there is only one.")
@click.option("--env", "environment", type=click.Choice(["test", "live"]), default="live", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the API's answer (counts, match report, rows) only.")
def import_(csv_file: Path, account_id: str | None, environment: str, as_json: bool) -> None:
    """Store the rows of CSV_FILE and print how they matched.

    Header: external_id,conversion_type,timestamp and any of user_id,visitor_id,email_sha256,
    email,revenue,currency (other columns are kept as the conversion's properties). A row whose
    external_id was imported before is a duplicate; invalid rows are listed with their line
    number and nothing of them is stored; the file is stored in one transaction. Fails (exit 1)
    when any row was rejected."""
    from mbuzz import offline_conversions as service
    from mbuzz.db import connect

    try:
        rows = service.parse_csv(csv_file.read_text(encoding="utf-8-sig"))
    except (service.BatchInputError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{csv_file}: {exc}") from None
    total = service.BatchResult()
    with connect() as conn:
        account_id = _account(conn, account_id)
        chunks = [rows[i : i + service.MAX_ROWS] for i in range(0, len(rows), service.MAX_ROWS)]
        with click.progressbar(
            chunks, label=f"importing {len(rows)} rows", file=click.get_text_stream("stderr"), show_pos=True
        ) as bar:
            for number, chunk in enumerate(bar):
                result = service.record_batch(conn, account_id, environment, chunk)
                for entry in result.results:
                    entry["index"] += number * service.MAX_ROWS
                total.results.extend(result.results)
    body = total.as_dict()
    if as_json:
        click.echo(json.dumps(body))
    else:
        report = body["match_report"]
        click.echo(
            f"{body['accepted']} conversions stored for {account_id} ({environment}), "
            f"{body['duplicates']} duplicates, {body['rejected']} rejected"
        )
        kept = sum(report.values())
        click.echo(
            "match report: "
            + ", ".join(f"{name} {count}" for name, count in report.items())
            + (f" ({(kept - report['unmatched']) / kept:.0%} matched)" if kept else "")
        )
        if report["unmatched"]:
            click.echo(
                "  unmatched rows are kept: an identify carrying their email_sha256 links them at the next pipeline run"
            )
        for entry in body["results"]:
            if entry["status"] == "rejected":
                click.echo(f"  line {entry['index'] + 2}: " + "; ".join(entry["errors"]), err=True)
    if body["rejected"]:
        raise SystemExit(1)
