"""`mbuzz demo`: the whole product in about a minute.

Database up and migrated → demo account and a live key → the API started as a
real server → a deterministic synthetic traffic history sent over HTTP →
the Dagster pipeline run in-process → a channel × model table in the terminal
and an HTML report with charts. A second run reuses everything: the same
events and conversions come back as duplicates.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from attribution.models import DATA_DRIVEN
from mbuzz.demo.traffic import Traffic, ad_impressions, batches, companies, crm_deals, generate, spend
from mbuzz.settings import get_settings

ACCOUNT_NAME = "mbuzz demo"
# column headers narrow enough for an 80-column terminal
SHORT_NAMES = {
    "first_touch": "first",
    "last_touch": "last",
    "last_non_direct": "lnd",
    "linear": "lin",
    "time_decay": "decay",
    "u_shaped": "U",
    "w_shaped": "W",
    "z_shaped": "Z",
    "algorithmic": "algo",
    "markov": "mark",
    "shapley": "shap",
    "ordered_shapley": "oshap",
}
BATCH = 250
# the demo's account-level (B2B) model (docs/b2b.md), registered over the API like any custom model,
# and the preset it is compared with: the same rules over the converter's own journey
ACCOUNT_MODEL_NAME = "W-shaped by account"
ACCOUNT_MODEL = f"""model "{ACCOUNT_MODEL_NAME}"
  journey_by account
  credit first_touch with 0.3
  credit milestone_touch("mql") with 0.3
  credit last_touch with 0.3
  credit other_touches with 0.1 equally
end
"""
PERSON_MODEL = "w_shaped"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiServer:
    """`mbuzz serve` in a child process, for the length of the demo."""

    def __init__(self, workers: int = 2) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        mbuzz = Path(sys.executable).parent / "mbuzz"
        self.log = open(get_settings().home / "demo-api.log", "w")
        self.proc = subprocess.Popen(
            [str(mbuzz), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait(self, timeout: float = 120) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the API server exited early; see {self.log.name}")
            try:
                if requests.get(self.base + "/api/v1/health", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API server did not answer within {timeout:.0f}s; see {self.log.name}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def send_traffic(base: str, key: str, traffic: Traffic, console: Console) -> dict:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "conversions_new": 0, "conversions_repeat": 0}
    chunks = list(batches(traffic.events, BATCH))

    def post_events(chunk: list[dict]) -> dict:
        for attempt in range(5):
            r = session.post(base + "/api/v1/events", json={"events": chunk}, timeout=30)
            if r.status_code == 429:
                time.sleep(float(r.headers.get("Retry-After", 1)))
                continue
            r.raise_for_status()
            return r.json()
        raise RuntimeError("rate limited five times in a row")

    def post_conversion(conversion: dict) -> int:
        for attempt in range(5):
            r = session.post(base + "/api/v1/conversions", json=conversion, timeout=30)
            if r.status_code == 429:
                time.sleep(float(r.headers.get("Retry-After", 1)))
                continue
            if r.status_code not in (200, 201):
                raise RuntimeError(f"POST /conversions answered {r.status_code}: {r.text[:300]}")
            return r.status_code
        raise RuntimeError("rate limited five times in a row")

    with _progress(console) as progress, ThreadPoolExecutor(max_workers=6) as pool:
        task = progress.add_task("events", total=len(traffic.events))
        for chunk, body in zip(chunks, pool.map(post_events, chunks)):
            for k in ("accepted", "duplicates"):
                totals[k] += body[k]
            totals["rejected"] += len(body["rejected"])
            progress.advance(task, len(chunk))
        conversions = traffic.conversions + traffic.visitor_conversions
        task = progress.add_task("conversions", total=len(conversions))
        for status in pool.map(post_conversion, conversions):
            totals["conversions_new" if status == 201 else "conversions_repeat"] += 1
            progress.advance(task)

    def post_offline(rows: list[dict]) -> dict:
        for attempt in range(5):
            r = session.post(base + "/api/v1/conversions/batch", json={"conversions": rows}, timeout=60)
            if r.status_code == 429:
                time.sleep(float(r.headers.get("Retry-After", 1)))
                continue
            if r.status_code != 200:
                raise RuntimeError(f"POST /conversions/batch answered {r.status_code}: {r.text[:300]}")
            return r.json()
        raise RuntimeError("rate limited five times in a row")

    offline = {"accepted": 0, "duplicates": 0, "rejected": 0, "match_report": {}}
    for rows in batches(traffic.offline, 1000):
        body = post_offline(rows)
        for k in ("accepted", "duplicates", "rejected"):
            offline[k] += body[k]
        for k, v in body["match_report"].items():
            offline["match_report"][k] = offline["match_report"].get(k, 0) + v
    totals["offline"] = offline
    r = session.post(base + "/api/v1/spend", json={"spend": traffic.spend}, timeout=30)
    if r.status_code != 200:
        raise RuntimeError(f"POST /spend answered {r.status_code}: {r.text[:300]}")
    totals["spend_rows"] = r.json()["accepted"]
    bad = post_events(traffic.invalid_events)
    totals["invalid_rejected"] = len(bad["rejected"])
    totals["invalid_reasons"] = [err for item in bad["rejected"] for err in item["errors"]][:3]
    return totals


def account_model(base: str, key: str) -> str:
    """The id of the demo's `journey_by account` model: created with `POST /api/v1/attribution_models`,
    or (a second run: 409, the name is taken) found in `GET /api/v1/attribution_models`."""
    import requests

    headers = {"Authorization": f"Bearer {key}"}
    r = requests.post(base + "/api/v1/attribution_models", json={"source": ACCOUNT_MODEL}, headers=headers, timeout=30)
    if r.status_code == 201:
        return r.json()["id"]
    if r.status_code != 409:
        raise RuntimeError(f"POST /attribution_models answered {r.status_code}: {r.text[:300]}")
    r = requests.get(base + "/api/v1/attribution_models", headers=headers, timeout=30)
    r.raise_for_status()
    return next(m["id"] for m in r.json()["models"] if m["name"] == ACCOUNT_MODEL_NAME)


def channel_table(
    conn, account_id: str, start: date, end: date, exclude: tuple[str, ...] = ()
) -> tuple[Table, dict, list[str], list[str]]:
    """The person-level models side by side; `exclude` (the account-level model) has its own section."""
    from mbuzz.reports import model_comparison

    comparison = model_comparison(conn, account_id, start, end)
    comparison = {
        c: kept for c, row in comparison.items() if (kept := {m: v for m, v in row.items() if m not in exclude})
    }
    models = sorted({m for row in comparison.values() for m in row}, key=lambda m: (m in DATA_DRIVEN, m))
    channels = sorted(comparison, key=lambda c: -comparison[c].get("linear", 0))
    table = Table(
        title="Credited conversions: channel × model",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("channel", no_wrap=True)
    for m in models:
        table.add_column(SHORT_NAMES.get(m, m), justify="right", no_wrap=True)
    for c in channels:
        table.add_row(c, *(f"{comparison[c].get(m, 0):.0f}" for m in models))
    return table, comparison, models, channels


def write_report(
    folder: Path,
    conn,
    account,
    start: date,
    end: date,
    pipeline_result,
    channel_data: tuple,
    roas: list,
    account_model_id: str | None = None,
) -> Path:
    """The HTML report; `channel_data` is `channel_table(...)` and `roas` is `channel_roas(...)` for the
    same account and days, as the console already showed them; `account_model_id` is the demo's
    `journey_by account` model (its own section, left out of the person-level comparisons)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from mbuzz.attribution_runs import skipped_models
    from mbuzz.charts import bars, grouped_bars, lines
    from mbuzz.reports import (
        account_level_comparison,
        attribution_report,
        channel_intervals,
        channel_trend,
        comparison_view,
        group_deals,
        identity_match,
        identity_totals,
        removal_effects,
        trend_series,
        view_through,
    )

    _, comparison, models, channels = channel_data
    interval_charts = []
    for m in [m for m in ("linear", "markov", "shapley") if m in models]:
        bounds = channel_intervals(conn, account.id, m, start, end)
        reason = next((b.reason for b in bounds.values() if b.reason), None) or (None if bounds else "none stored")
        by_model = sorted(channels, key=lambda c: -comparison[c].get(m, 0))
        interval_charts.append(
            (
                m,
                None
                if reason
                else bars(
                    by_model,
                    [comparison[c].get(m, 0) for c in by_model],
                    f"Credited conversions under {m}, 95% intervals",
                    errors=[
                        (bounds[c].conversions_lower, bounds[c].conversions_upper) if c in bounds else None
                        for c in by_model
                    ],
                ),
                reason,
            )
        )
    campaigns = attribution_report(conn, account.id, "linear", start, end, group_by="campaign")[:10]
    removal = removal_effects(conn, account.id)
    exclude = (account_model_id,) if account_model_id else ()
    disagreement = comparison_view(conn, account.id, start, end, exclude=exclude)
    trend_model = "linear"
    points = channel_trend(conn, account.id, trend_model, start, end, "day")
    trend_charts = []
    for value, what in (("conversions", "Credited conversions"), ("revenue", "Credited revenue")):
        periods, series = trend_series(points, start, end, "day", value)
        trend_charts.append(
            lines(
                [p.isoformat() for p in periods],
                dict(list(series.items())[:8]),
                f"{what} per channel per day ({trend_model})",
            )
            if points
            else None
        )
    identity_days = identity_match(conn, account.id, start, end)
    identity_chart = (
        lines(
            [d.day.isoformat() for d in identity_days],
            {
                "conversions matched to a session (%)": [100 * (d.match_rate or 0) for d in identity_days],
                "sessions stitched to a known user (%)": [100 * (d.stitch_rate or 0) for d in identity_days],
            },
            "Identity match rates per day",
            fmt="{:.0f}%",
        )
        if identity_days
        else None
    )
    # ads seen, not clicked: the channels some view-through conversion credited (docs/impressions.md)
    views = [r for r in view_through(conn, account.id, "linear") if r.view_through > 0]
    views_chart = (
        grouped_bars(
            [r.channel for r in views],
            {
                "clicks (visits)": [r.clicks for r in views],
                "view-through (ads seen)": [r.view_through for r in views],
            },
            "Credited conversions per channel: clicks vs view-through (linear)",
            bar_height=12,
        )
        if views
        else None
    )
    # B2B: the account-level model beside the person-level preset, over the same deals (docs/b2b.md)
    account_models = (account_model_id, PERSON_MODEL) if account_model_id else ()
    b2b = account_level_comparison(conn, account.id, account_models) if account_models else {}
    b2b_channels = sorted(b2b, key=lambda c: (-b2b[c].get(account_model_id, 0), c))
    b2b_chart = (
        grouped_bars(
            b2b_channels,
            {
                "by account (every member)": [b2b[c].get(account_model_id, 0) for c in b2b_channels],
                f"{PERSON_MODEL} (the converter)": [b2b[c].get(PERSON_MODEL, 0) for c in b2b_channels],
            },
            "Credited deals per channel: account-level vs person-level",
            bar_height=12,
        )
        if b2b
        else None
    )
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape())
    html = env.get_template("report.html").render(
        account_name=account.name,
        start=start,
        end=end,
        run_id=pipeline_result.run_id,
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        models=models,
        channels=channels,
        comparison=comparison,
        interval_charts=interval_charts,
        comparison_chart=grouped_bars(
            channels,
            {m: [comparison[c].get(m, 0) for c in channels] for m in models},
            "Credited conversions per channel, each model",
        ),
        campaign_model="linear",
        campaigns=campaigns,
        campaign_chart=bars(
            [f"{r.key['utm_source']} / {r.key['utm_campaign']}" for r in campaigns],
            [r.conversions for r in campaigns],
            "Top campaigns by credited conversions (linear)",
        ),
        roas=roas,
        roas_chart=grouped_bars(
            [r.channel for r in roas],
            {m: [r.roas(m) or 0 for r in roas] for m in models},
            "ROAS (credited revenue / spend) per paid channel, each model",
        ),
        removal=removal,
        markov_note="the Markov model needs more paths (see the pipeline's log)",
        removal_chart=bars([r[0] for r in removal], [r[1] for r in removal], "Markov removal effects", fmt="{:.3f}"),
        checks=pipeline_result.checks,
        disagreement=disagreement,
        skipped=skipped_models(conn, account.id),
        disagreement_chart=grouped_bars(
            [d.channel for d in disagreement["rows"]],
            {m: [100 * d.shares[m] for d in disagreement["rows"]] for m in disagreement["models"]},
            "Share of credited conversions (%) per channel, each model",
        ),
        trend_model=trend_model,
        trend_charts=trend_charts,
        identity=identity_totals(identity_days),
        identity_chart=identity_chart,
        views=views,
        views_chart=views_chart,
        account_model_id=account_model_id,
        account_model_name=ACCOUNT_MODEL_NAME,
        person_model=PERSON_MODEL,
        deals=group_deals(conn, account.id),
        b2b=b2b,
        b2b_channels=b2b_channels,
        b2b_chart=b2b_chart,
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    path.write_text(html)
    return path


def run_demo(visitors: int, days: int, report_dir: Path, console: Console) -> int:
    from mbuzz import accounts as service
    from mbuzz.db import connect, database_url
    from mbuzz.db.migrate import upgrade
    from mbuzz.pipeline import dagster_home, run_pipeline
    from mbuzz.reports import (
        account_level_comparison,
        channel_roas,
        group_deals,
        identity_match,
        identity_totals,
        view_through,
    )
    from mbuzz.settings import mask_url
    from mbuzz.users import ensure_demo_user

    started = time.monotonic()
    console.print("[bold][1/6][/bold] database")
    url = database_url(start=True)
    upgrade(url)
    home = get_settings().home
    os.environ["MBUZZ_HOME"] = str(home)  # the API server and the pipeline share it
    home.mkdir(exist_ok=True)
    console.print(f"  {mask_url(url)}, schema migrated")

    console.print("[bold][2/6][/bold] demo account and a live API key")
    with connect(url, autocommit=True) as conn:
        account = next(
            (a for a in service.list_accounts(conn) if a.name == ACCOUNT_NAME), None
        ) or service.create_account(conn, ACCOUNT_NAME, tier="enterprise")
        new = service.create_key(conn, account.id, "live", name=f"demo {datetime.now(timezone.utc):%Y-%m-%d %H:%M}")
        email, password = ensure_demo_user(conn, account.id)
    console.print(f"  account {account.id}, key {new.key.id} ({new.key.masked}), dashboard user {email}")

    console.print("[bold][3/6][/bold] API server")
    server = ApiServer()
    try:
        server.wait()
        console.print(f"  listening on {server.base}")
        console.print(f"[bold][4/6][/bold] sending {visitors:,} visitors' traffic over HTTP")
        end = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        traffic = generate(visitors=visitors, days=days, end=end, crm=True)
        traffic.spend = spend(days=days, end=end)
        traffic.offline = crm_deals(traffic, end)
        ad_impressions(traffic, end, days=days, viewers=max(20, visitors // 10))
        companies(traffic, end, days=days)
        totals = send_traffic(server.base, new.plaintext, traffic, console)
        account_model_id = account_model(server.base, new.plaintext)
    finally:
        server.stop()
    console.print(
        f"  events: {totals['accepted']:,} accepted, {totals['duplicates']:,} duplicates (already sent); "
        f"conversions: {totals['conversions_new']:,} new, {totals['conversions_repeat']:,} repeats"
    )
    offline = totals["offline"]
    matched = offline["match_report"]
    console.print(
        f"  CRM deals (POST /api/v1/conversions/batch): {offline['accepted']:,} new, "
        f"{offline['duplicates']:,} duplicates; by e-mail hash {matched.get('email_sha256', 0):,}, "
        f"unmatched {matched.get('unmatched', 0):,} (kept)"
    )
    console.print(f"  people on two devices (a phone that identifies too): {traffic.devices:,}")
    console.print(
        f"  ads seen, not clicked: {traffic.impressions:,} impressions; {traffic.view_through:,} people bought "
        "within a day of an ad without any visit (view-through)"
    )
    console.print(
        f"  B2B: {traffic.companies} companies (group calls), {traffic.deals} deals; "
        f'account-level model "{ACCOUNT_MODEL_NAME}" ({account_model_id})'
    )
    console.print(f"  ad spend: {totals['spend_rows']:,} daily rows for the paid campaigns (POST /api/v1/spend)")
    console.print(
        f"  {totals['invalid_rejected']} invalid events rejected as expected, e.g. "
        f"{escape(str(totals['invalid_reasons'][:1]))}"
    )

    console.print("[bold][5/6][/bold] pipeline: dbt warehouse → attribution (all models) → marts, with checks")
    log_path = home / "demo-pipeline.log"
    with (
        console.status("pipeline") as status,
        open(log_path, "w") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        # dbt's and Dagster's own output goes to the log file; the status line shows each step and check
        result = run_pipeline(all_days=True, on_event=lambda msg: status.update(f"  {msg}"))
    failed = [c for c in result.checks if not c[2]]
    console.print(f"  {len(result.materialized)} assets, {len(result.checks)} checks, {len(failed)} failed")
    for failure in result.failures:
        console.print(f"  [red]{failure}[/red]")
    if not result.success:
        console.print(f"[red]the pipeline failed; see {log_path} or the Dagster UI: .venv/bin/mbuzz ui[/red]")
        return 1

    console.print("[bold][6/6][/bold] report")
    start_day, end_day = (end.date().fromordinal(end.date().toordinal() - days)), end.date()
    with connect(url) as conn:
        channel_data = channel_table(conn, account.id, start_day, end_day, exclude=(account_model_id,))
        console.print(channel_data[0])
        console.print(
            "  first/last = first/last touch, lnd = last non-direct, lin = linear, U/W/Z = position-based, "
            "algo = algorithmic (logistic), mark = Markov, shap = Shapley; the report has decimals"
        )
        identity = identity_totals(identity_match(conn, account.id, start_day, end_day))
        if identity:
            console.print(
                f"  identity: {identity.matched_conversions:,} of {identity.conversions:,} conversions "
                "matched a session "
                f"({identity.match_rate or 0:.0%}), {identity.stitched_sessions:,} of {identity.sessions:,} "
                f"sessions stitched to a known user ({identity.stitch_rate or 0:.0%})"
            )
        views = [r for r in view_through(conn, account.id, "linear") if r.view_through > 0]
        console.print(
            f"  view-through (linear): {sum(r.view_through for r in views):.0f} conversions credited to ads seen, "
            "not clicked: " + ", ".join(f"{r.channel} {r.view_through:.0f}" for r in views)
        )
        b2b = account_level_comparison(conn, account.id, (account_model_id, PERSON_MODEL))
        by_account = sorted(b2b, key=lambda c: -b2b[c].get(account_model_id, 0))[:3]
        console.print(
            f"  B2B ({group_deals(conn, account.id)} deals), {ACCOUNT_MODEL_NAME} vs {PERSON_MODEL}: "
            + ", ".join(
                f"{c} {b2b[c].get(account_model_id, 0):.2f} vs {b2b[c].get(PERSON_MODEL, 0):.2f}" for c in by_account
            )
        )
        roas = channel_roas(conn, account.id, start_day, end_day)
        console.print(
            "  ROAS (credited revenue / spend, linear): "
            + ", ".join(f"{r.channel} {r.roas('linear'):.1f}×" for r in roas if r.roas("linear") is not None)
        )
        path = write_report(report_dir, conn, account, start_day, end_day, result, channel_data, roas, account_model_id)
    console.print(f"\nreport: [bold]{path.resolve()}[/bold] (open it in a browser)")
    console.print(f"Dagster UI: [bold].venv/bin/mbuzz ui[/bold] → http://127.0.0.1:3000 (instance {dagster_home()})")
    console.print(
        f"media-mix model input: [bold].venv/bin/mbuzz export mmm --account {account.id} --model linear "
        "--grain week -o mmm.csv[/bold] (docs/mmm.md)"
    )
    console.print(
        "dashboard: [bold].venv/bin/mbuzz serve[/bold] → http://127.0.0.1:8000/dashboard, "
        f"sign in as {email} / {password} (a new password each demo run)"
    )
    console.print(f"your demo API key (shown once): {new.plaintext}")
    console.print(f"done in {time.monotonic() - started:.0f} s")
    return 0
