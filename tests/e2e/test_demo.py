"""`mbuzz demo`, as a new user runs it: real server, traffic over HTTP, the pipeline, the report."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
MBUZZ = str(Path(sys.executable).parent / "mbuzz")


def demo(tmp_path: Path, database_url: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MBUZZ_HOME": str(tmp_path / "home"),
        "MBUZZ_DBT_TARGET_PATH": str(tmp_path / "dbt-target"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "COLUMNS": "160",
    }
    return subprocess.run(
        [MBUZZ, "demo", "--visitors", "500", "--days", "30", "--report-dir", str(tmp_path / "report")],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
        cwd=tmp_path,
    )


def section(report: str, name: str) -> str:
    return re.search(rf'<section id="{name}">(.*?)</section>', report, re.S).group(1)


@pytest.fixture
def demo_database(new_database):
    """A database of its own: the demo's pipeline checks every account in its database."""
    import psycopg

    with new_database() as url, psycopg.connect(url, autocommit=True) as connection:
        yield url, connection


def test_demo_end_to_end_and_rerun(tmp_path, demo_database):
    database_url, conn = demo_database
    first = demo(tmp_path, database_url)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    out = first.stdout
    assert "[6/6] report" in out and "Credited conversions" in out
    accepted = int(re.search(r"events: ([\d,]+) accepted", out).group(1).replace(",", ""))
    assert accepted > 1000
    assert "3 invalid events rejected as expected" in out
    assert "ad spend: 180 daily rows" in out  # 30 days × 6 paid campaigns
    assert "mbuzz export mmm --account acct_" in out
    assert re.search(r"ROAS \(credited revenue / spend, linear\): paid_search \d+\.\d×", out)
    spend_rows = (
        "select count(*) from raw.ad_spend s join raw.accounts a on a.id = s.account_id where a.name = 'mbuzz demo'"
    )
    assert conn.execute(spend_rows).fetchone()[0] == 180
    stored = conn.execute(
        "select count(*) from raw.events e join raw.accounts a on a.id = e.account_id where a.name = 'mbuzz demo'"
    ).fetchone()[0]
    assert stored == accepted  # every accepted event is in the database, nothing more

    report = (tmp_path / "report" / "index.html").read_text()
    assert "<svg" in report and "Markov removal effects" in report and "Top campaigns" in report
    assert "Return on ad spend" in report and "ROAS (credited revenue / spend) per paid channel" in report
    assert "failed (error)" not in report  # no blocking check failed
    assert "Where the models disagree, and why" in report and "spread" in report and " gives `" in report
    assert "Trend per day (linear)" in report and report.count('class="line-chart"') == 3  # + identity rates
    # the whole journey: CRM deals matched by hashed e-mail, people on two devices, the match rate
    deals = re.search(
        r"CRM deals \(POST /api/v1/conversions/batch\): (\d+) new, 0 duplicates; by e-mail hash (\d+), "
        r"unmatched 4 \(kept\)\s+people on two devices \(a phone that identifies too\): (\d+)",
        out,
    )
    assert deals, out[-3000:]
    new_deals, by_hash, phones = map(int, deals.groups())
    assert new_deals == by_hash + 4 and by_hash > 0 and phones > 0
    rates = re.search(r"identity: ([\d,]+) of ([\d,]+) conversions matched", out)
    matched, conversions = (int(g.replace(",", "")) for g in rates.groups())
    assert 0 < matched < conversions  # the four walk-in deals never match a session
    assert "Identity: who was recognised" in report
    stored_deals = conn.execute(
        "select count(*) from raw.conversions c join raw.accounts a on a.id = c.account_id "
        "where a.name = 'mbuzz demo' and c.conversion_type in ('closed_won', 'store_purchase')"
    ).fetchone()[0]
    assert stored_deals == new_deals
    # no plain address reached the database: identify traits carry the hash only
    plain = conn.execute("select count(*) from raw.events e where e::text like '%@people.example%'")
    assert plain.fetchone()[0] == 0
    assert "How sure: 95% intervals" in report and report.count('class="error-bar"') >= 5  # the run stored intervals

    # impressions (docs/impressions.md): ads seen, not clicked, landed through the API
    seen = re.search(r"ads seen, not clicked: ([\d,]+) impressions; ([\d,]+) people bought", out)
    assert seen, out[-3000:]
    impressions, viewers = (int(g.replace(",", "")) for g in seen.groups())
    assert impressions > 0 and viewers > 0
    landed = conn.execute(
        "select count(*), count(*) filter (where e.properties ->> 'utm_campaign' is null) from raw.events e "
        "join raw.accounts a on a.id = e.account_id where a.name = 'mbuzz demo' and e.event_type = 'impression'"
    ).fetchone()
    assert landed == (impressions, 0)
    credited = float(re.search(r"view-through \(linear\): (\d+) conversions credited to ads seen", out).group(1))
    assert credited == viewers  # each bought after one campaign's ads only: one whole conversion each
    views = section(report, "view-through")
    assert "View-through: ads seen, not clicked" in views and "<svg" in views
    rows = re.findall(r"<tr><td>(\w+)</td><td>([\d.]+)</td><td>([\d.]+)</td><td>([\d.]+)</td>", views)
    assert {r[0] for r in rows} <= {"display", "paid_social", "paid_video"} and len(rows) >= 2, rows
    for _, total, clicks, through in rows:
        assert float(through) > 0 and abs(float(clicks) + float(through) - float(total)) < 0.11
    assert abs(sum(float(r[3]) for r in rows) - viewers) < 0.2

    # B2B (docs/b2b.md): companies of several people, one deal each but the last, an account-level model
    b2b = re.search(r"B2B: (\d+) companies \(group calls\), (\d+) deals; .*\((amod_\w+)\)", out)
    assert b2b, out[-3000:]
    companies, deals, model_id = int(b2b.group(1)), int(b2b.group(2)), b2b.group(3)
    assert 5 <= companies <= 8 and 0 < deals < companies
    groups = conn.execute(
        "select count(distinct e.properties ->> 'group_id'), count(distinct e.visitor_id) from raw.events e "
        "join raw.accounts a on a.id = e.account_id where a.name = 'mbuzz demo' and e.event_type = 'group'"
    ).fetchone()
    assert groups[0] == companies and groups[1] >= 3 * companies  # several members each
    by_account = conn.execute(
        "select count(distinct conversion_id), sum(credit)::float8 from attribution.attribution_credits "
        "where model = %s",
        (model_id,),
    ).fetchone()
    assert by_account[0] == deals and abs(by_account[1] - deals) < 1e-6  # credits sum to the deal count
    stored_b2b = conn.execute(
        "select count(*) from raw.conversions c join raw.accounts a on a.id = c.account_id "
        "where a.name = 'mbuzz demo' and c.conversion_type = 'deal' and c.properties ? 'group_id'"
    ).fetchone()[0]
    assert stored_b2b == deals
    assert f"B2B ({deals} deals), W-shaped by account vs w_shaped: " in out
    accounts = section(report, "accounts")
    assert "Account-level (B2B) results" in accounts and f"{deals} deals closed with companies" in accounts
    assert "<svg" in accounts
    cells = re.findall(r"<tr><td>(\w+)</td><td>([\d.]+)</td><td>([\d.]+)</td></tr>", accounts)
    assert len(cells) >= 2
    for column in (1, 2):  # each model's credits over the same deals sum to the deal count
        assert abs(sum(float(c[column]) for c in cells) - deals) <= 0.005 * len(cells) + 1e-9, cells
    assert model_id not in section(report, "disagreement")  # the person-level comparison leaves it out

    key = re.search(r"your demo API key \(shown once\): (sk_live_\w+)", out).group(1)
    from mbuzz.accounts import digest

    assert conn.execute("select revoked_at from raw.api_keys where key_digest = %s", (digest(key),)).fetchone() == (
        None,
    )

    # a second run reuses everything: the same traffic comes back as duplicates, nothing is stored twice
    second = demo(tmp_path, database_url)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert re.search(r"events: 0 accepted, ([\d,]+) duplicates", second.stdout).group(1).replace(",", "") == str(
        accepted
    )
    assert "conversions: 0 new" in second.stdout
    assert f"CRM deals (POST /api/v1/conversions/batch): 0 new, {new_deals} duplicates" in second.stdout
    again = conn.execute(
        "select count(*) from raw.events e join raw.accounts a on a.id = e.account_id where a.name = 'mbuzz demo'"
    ).fetchone()[0]
    assert again == stored
    assert conn.execute(spend_rows).fetchone()[0] == 180  # the same days again replace, never add
    assert f"({model_id})" in second.stdout  # the account-level model is found again, not created twice
    models = "select count(*) from raw.attribution_models m join raw.accounts a on a.id = m.account_id "
    assert conn.execute(models + "where a.name = 'mbuzz demo'").fetchone()[0] == 1
