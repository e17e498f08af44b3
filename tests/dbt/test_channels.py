"""`mbuzz channels explain` and mbuzz/channels.py on the channel parity table.

The parity table (dbt_project/tests/fixtures/channel_parity_*.csv) is the fixture of the dbt
unit test `channel_rules_parity_table`; here the Python rules must give the same answers from
the landing URL and referrer alone, and parse them into the same UTMs and hosts the unit test
was given. (tests/dbt/test_warehouse.py compares both on every session of a real build.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mbuzz.channels import explain, load_rules, url_host, url_param
from mbuzz.cli import cli
from tests.dbt.dataset import OWN_DOMAIN, parity_cases

CASES = parity_cases()
MBUZZ = str(Path(sys.executable).parent / "mbuzz")


def previous_of(case: dict) -> dict | None:
    """The visitor's previous parity session, classified (a self-referral keeps its source)."""
    earlier = [c for c in CASES if c["visitor_id"] == case["visitor_id"] and c["started_at"] < case["started_at"]]
    if not earlier:
        return None
    before = explain(earlier[-1]["landing_url"], earlier[-1]["referrer"] or None, own_domains=[OWN_DOMAIN])
    return {"source": before.source, "medium": before.medium, "campaign": before.campaign}


@pytest.mark.parametrize("case", CASES, ids=[c["session_id"] for c in CASES])
def test_python_rules_match_the_parity_table(case):
    result = explain(
        case["landing_url"], case["referrer"] or None, own_domains=[OWN_DOMAIN], previous=previous_of(case)
    )
    assert (result.channel, result.priority) == (case["channel"], case["channel_rule"])
    # the unit test's given columns are what staging parses from the URL and referrer
    for name in ("utm_source", "utm_medium", "utm_campaign", "gclid", "msclkid", "fbclid"):
        assert url_param(case["landing_url"], name) == (case[name] or None), name
    assert url_host(case["landing_url"]) == (case["landing_host"] or None)
    assert url_host(case["referrer"] or None) == (case["referrer_host"] or None)


@pytest.mark.parametrize("case", [c for c in CASES if previous_of(c) is None], ids=lambda c: c["session_id"])
def test_cli_explain_json_matches_the_parity_table(case):
    args = ["channels", "explain", "--url", case["landing_url"], "--own-domain", OWN_DOMAIN, "--json"]
    if case["referrer"]:
        args += ["--referrer", case["referrer"]]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["channel"] == case["channel"]
    assert payload["rule"].startswith(f"{case['channel_rule']}. {case['channel']}")


def test_cli_explain_as_a_user_runs_it():
    out = subprocess.run(
        [MBUZZ, "channels", "explain", "--url", "https://shop.example/?gclid=abc", "--json"],
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["channel"] == "paid_search"
    human = subprocess.run(
        [MBUZZ, "channels", "explain", "--url", "https://shop.example/", "--referrer", "https://mail.google.com/"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "channel  referral" in human.stdout and "rule     13." in human.stdout


def test_every_rule_of_the_seed_is_in_the_parity_table():
    assert {r.priority for r in load_rules().rules} == {c["channel_rule"] for c in CASES}


def test_a_self_referral_without_history_is_direct_and_says_why():
    result = explain("https://mysite.com/pricing", "https://blog.mysite.com/", own_domains=["mysite.com"])
    assert result.self_referral and result.channel == "direct" and "self-referral" in result.rule
