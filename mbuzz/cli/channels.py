"""`mbuzz channels …`: debug channel tagging with the warehouse's own rules (the dbt seeds)."""

from __future__ import annotations

import json

import click


@click.group()
def channels() -> None:
    """Explain and list the channel rules (dbt_project/seeds/channel_rules.csv)."""


@channels.command("explain")
@click.option("--url", required=True, help="Landing page URL (its UTMs and click ids are read).")
@click.option("--referrer", default=None, help="Referrer URL of the landing.")
@click.option(
    "--own-domain",
    "own_domains",
    multiple=True,
    help="An own domain (repeatable): referrals from it are self-referrals.",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"channel": ..., "rule": ..., ...} as JSON.')
def explain(url: str, referrer: str | None, own_domains: tuple[str, ...], as_json: bool) -> None:
    """Print the channel a session landing on URL from REFERRER gets, and the rule that fired."""
    from mbuzz.channels import explain as explain_landing

    result = explain_landing(url, referrer, own_domains=own_domains)
    if as_json:
        click.echo(json.dumps(result.as_dict(), sort_keys=False))
        return
    click.echo(f"channel  {result.channel}")
    click.echo(f"rule     {result.rule}")
    click.echo(f"source   {result.source}")
    click.echo(f"medium   {result.medium}")
    click.echo(f"campaign {result.campaign if result.campaign is not None else '(none)'}")
    if result.source_category:
        click.echo(f"category {result.source_category} (source_categories.csv)")
    for key, value in result.inputs.items():
        if value is not None:
            click.echo(f"  {key} = {value}")


@channels.command("rules")
@click.option("--json", "as_json", is_flag=True)
def rules(as_json: bool) -> None:
    """List the channel rules in evaluation order."""
    from mbuzz.channels import load_rules

    rule_set = load_rules()
    if as_json:
        click.echo(
            json.dumps(
                [{"priority": r.priority, "channel": r.channel, "description": r.description} for r in rule_set.rules]
            )
        )
        return
    for rule in rule_set.rules:
        click.echo(f"{rule.priority:>3}  {rule.channel:<18} {rule.description}")
