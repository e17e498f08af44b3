"""Attribution runs against the warehouse: journeys in, credits out, recorded per run.

Reads `marts.fct_conversion_journeys` (built by dbt), runs every preset, every
account's active custom DSL models and (optionally) the data-driven models with
the one engine in `attribution/`, and replaces the credits of the conversions in
the run's window in `attribution.attribution_credits` in ONE transaction for the
whole run (every account), so a run killed half-way leaves nothing of itself
visible. Each run records a hash of its whole configuration (models, journey
options, channel rules), its window, status and counts in
`attribution.attribution_runs` (the run history; docs/operations.md#attribution-runs).

A service: no Dagster here. The asset in orchestration/assets/attribution.py is a thin call
of `run_attribution`, and so can a test or a script be; the dashboard reads journeys with
`load_journeys`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from attribution import attribute_many, prepare, run_model
from attribution.errors import InsufficientDataError
from attribution.intervals import (
    MIN_CONVERSIONS,
    SAMPLES,
    CreditIntervals,
    credit_intervals,
    journey_weights,
    merge_intervals,
)
from attribution.journeys import WAREHOUSE_JOURNEYS, JourneyOptions
from attribution.models import DATA_DRIVEN, list_presets, load_model
from attribution.paths import PathCounter, PathTable
from mbuzz.ids import new_ids
from mbuzz.paths import SEEDS_DIR
from mbuzz.settings import get_settings

FIT_WINDOW_DAYS = 90  # data-driven models learn from the paths of this window before the run's end
BOOTSTRAP_SAMPLES = 30  # resamples for the 95% intervals of Markov channel totals
INTERVAL_SAMPLES = SAMPLES  # resamples for the 95% intervals on every model's credited numbers
INTERVAL_GROUPS = ["environment", "channel", "day"]
CREDIT_COLUMNS = (
    "account_id",
    "credit_id",
    "run_id",
    "environment",
    "model",
    "conversion_id",
    "conversion_type",
    "converted_at",
    "touch_index",
    "session_id",
    "channel",
    "credit",
    "revenue_credit",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "local_day",
    "touch_kind",
)

JOURNEY_COLUMNS = (
    "account_id",
    "environment",
    "journey_id",
    "conversion_id",
    "converted",
    "conversion_ts",
    "conversion_type",
    "revenue",
    "touch_ts",
    "session_id",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "milestones",
    "touch_kind",
)

_JOURNEY_WINDOW = """
where account_id = %(account_id)s
  and (
    (converted and conversion_ts >= %(fit_start)s and conversion_ts < %(end)s)
    or (not converted and %(with_paths)s and touch_ts >= %(fit_start)s and touch_ts < %(end)s)
  )"""
# the visits of fct_conversion_journeys and the impressions of fct_journey_impressions
# (docs/impressions.md): one touch table, touch_kind telling them apart
JOURNEY_QUERY = f"""
select account_id, environment, journey_id, conversion_id, converted, conversion_ts, conversion_type,
       coalesce(revenue, 0)::float8 as revenue, touch_ts, session_id, channel,
       utm_source, utm_medium, utm_campaign, coalesce(milestones, '') as milestones,
       case when session_id is not null then 'visit' end as touch_kind
from marts.fct_conversion_journeys{_JOURNEY_WINDOW}
"""
IMPRESSIONS_QUERY = f"""
union all
select account_id, environment, journey_id, conversion_id, converted, conversion_ts, conversion_type,
       coalesce(revenue, 0)::float8, touch_ts, null, channel,
       utm_source, utm_medium, utm_campaign, '', touch_kind
from marts.fct_journey_impressions{_JOURNEY_WINDOW}
"""
JOURNEY_ORDER = "order by journey_id\n"  # whole journeys in a row: journey_chunks cuts between them


# account-level (B2B) journeys, for `journey_by account` models (docs/b2b.md)
GROUP_JOURNEY_QUERY = """
select account_id, environment, journey_id, conversion_id, converted, conversion_ts, conversion_type,
       coalesce(revenue, 0)::float8 as revenue, touch_ts, session_id, channel,
       utm_source, utm_medium, utm_campaign, coalesce(milestones, '') as milestones
from marts.fct_group_conversion_journeys
where account_id = %(account_id)s
  and converted and conversion_ts >= %(start)s and conversion_ts < %(end)s
"""
NO_GROUPS = (
    "journey_by account: this account has no company (B2B group) journeys: no `group` call put a person "
    "with sessions or conversions into a company (docs/b2b.md)"
)


@dataclass
class RunResult:
    run_id: str
    config_hash: str
    start: datetime
    end: datetime
    credits_written: int = 0
    conversions: int = 0
    models: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # model -> reason


def channel_rules_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SEEDS_DIR.glob("*.csv")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def config_of(models: dict[str, dict], options: JourneyOptions, data_driven: bool) -> dict:
    return {
        "models": {name: models[name] for name in sorted(models)},
        "data_driven": list(DATA_DRIVEN) if data_driven else [],
        "journey_options": {
            "lookback_days": options.lookback_days,
            "max_touches": options.max_touches,
            "transform": options.transform,
            "conversion_cycles": options.conversion_cycles,
            "impression_lookback_days": options.impression_lookback_days,
            "impressions": options.impressions,
        },
        "fit_window_days": FIT_WINDOW_DAYS,
        "channel_rules": channel_rules_digest(),
    }


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def accounts_with_journeys(conn) -> list[str]:
    return [r[0] for r in conn.execute("select distinct account_id from marts.fct_conversion_journeys order by 1")]


def custom_models(conn, account_id: str) -> dict[str, dict]:
    rows = conn.execute(
        "select id, compiled from raw.attribution_models where account_id = %s and is_active order by id",
        (account_id,),
    ).fetchall()
    return {model_id: compiled for model_id, compiled in rows}


def _journey_frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    return engine_frame(pd.DataFrame(rows, columns=columns))


def engine_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Journey rows (JOURNEY_QUERY's columns) in the engine's touch-table form, in place."""
    # the engine reads a zero-touch conversion as a row with empty channel and touch_ts
    frame["channel"] = frame["channel"].astype(object).where(frame["channel"].notna(), "")
    frame["converted_at"] = frame["conversion_ts"]  # carried through the engine onto each credit
    return frame


def account_level(models: dict[str, dict]) -> dict[str, dict]:
    """The models that run on account-level journeys (`journey_by account`)."""
    return {name: m for name, m in models.items() if m.get("journey_by") == "account"}


def has_group_journeys(conn, account_id: str) -> bool:
    row = conn.execute(
        "select exists (select 1 from marts.fct_group_conversion_journeys where account_id = %s)", (account_id,)
    ).fetchone()
    return bool(row[0])


def load_group_journeys(conn, account_id: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The account-level journeys of the group conversions converted in [start, end), in the
    engine's touch-table form (as `load_journeys`)."""
    cur = conn.execute(GROUP_JOURNEY_QUERY, {"account_id": account_id, "start": start, "end": end})
    frame = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    frame["channel"] = frame["channel"].astype(object).where(frame["channel"].notna(), "")
    frame["converted_at"] = frame["conversion_ts"]
    return frame


def journey_chunks(
    conn, account_id: str, start: datetime, end: datetime, with_paths: bool, rows: int
) -> Iterator[pd.DataFrame]:
    """The account's journeys (those converted in [start, end), and with_paths the fit window's
    paths too) as frames of about `rows` touches, each holding whole journeys: a server-side
    cursor read with fetchmany, cut on journey boundaries (the query orders by journey), so the
    reader's memory follows the chunk, not the history. `conn` must be in a transaction."""
    fit_start = start - timedelta(days=FIT_WINDOW_DAYS) if with_paths else start
    params = {"account_id": account_id, "fit_start": fit_start, "end": end, "with_paths": with_paths}
    # a warehouse built before impressions existed (or journeys loaded by hand) has no impressions mart
    with_impressions = conn.execute("select to_regclass('marts.fct_journey_impressions') is not null").fetchone()[0]
    query = JOURNEY_QUERY + (IMPRESSIONS_QUERY if with_impressions else "") + JOURNEY_ORDER
    with conn.cursor(name="mbuzz_journeys") as cur:
        cur.execute(query, params)
        columns = [d.name for d in cur.description]
        journey = columns.index("journey_id")
        held: list[tuple] = []
        while batch := cur.fetchmany(rows):
            held.extend(batch)
            cut = len(held)
            while cut and held[cut - 1][journey] == held[-1][journey]:
                cut -= 1  # the last journey may go on in the next batch
            if cut:
                yield _journey_frame(held[:cut], columns)
                held = held[cut:]
        if held:
            yield _journey_frame(held, columns)


def load_journeys(conn, account_id: str, start: datetime, end: datetime, with_paths: bool) -> pd.DataFrame:
    """All of the account's journeys of the window (journey_chunks) in one frame."""
    with conn.transaction():
        chunks = list(journey_chunks(conn, account_id, start, end, with_paths, get_settings().journey_chunk))
    if not chunks:
        columns = [*JOURNEY_COLUMNS]
        return _journey_frame([], columns)
    return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]


def interval_seed(account_id: str, start: datetime, end: datetime) -> int:
    """The resample seed of an account's window: runs of different windows draw independent
    weights (so their replicates add up over a date range); a re-run of a window draws the same."""
    key = f"{account_id}|{start.isoformat()}|{end.isoformat()}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


def _interval_frame(name: str, result: CreditIntervals) -> pd.DataFrame:
    table = result.table()
    table["model"] = name
    table["conversion_samples"] = (
        list(result.conversion_samples.T) if result.conversion_samples is not None else [None] * len(table)
    )
    table["revenue_samples"] = (
        list(result.revenue_samples.T) if result.revenue_samples is not None else [None] * len(table)
    )
    return table


def _with_day(credits: pd.DataFrame) -> pd.DataFrame:
    return credits.assign(day=pd.to_datetime(credits["converted_at"], utc=True).dt.date)


def run_models(
    touches: pd.DataFrame,
    models: dict[str, dict],
    options: JourneyOptions,
    start: datetime,
    end: datetime,
    data_driven: bool,
    on_model: Callable[[str], None] | None = None,
    intervals: bool = True,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, dict, pd.DataFrame]:
    """Credits of the conversions converted in [start, end) under every model, from touches held
    in memory (the account-level journeys; with data_driven, the fit window's journeys read at once:
    the whole-window computation the chunked run, _attribute_data_driven, equals).

    Returns (credits, channel summaries of data-driven models, {skipped model: reason},
    95% intervals per model, environment, channel and day (attribution/intervals.py): every
    model is judged on the same resamples of the account's journeys, drawn from `seed`)."""
    summaries, skipped = [], {}
    in_window = (
        touches["converted"].astype(bool) & (touches["conversion_ts"] >= start) & (touches["conversion_ts"] < end)
    )
    ruled = touches[in_window]
    frames, parts, conversions = rule_credits(ruled, models, options, on_model, intervals, seed)
    bounds = [_interval_frame(name, merge_intervals([part], conversions[name])) for name, part in parts.items()]
    journey_index = pd.Index(pd.unique(touches["journey_id"]))
    weights = journey_weights(journey_index, INTERVAL_SAMPLES, seed) if intervals and len(journey_index) else None
    if data_driven:
        journeys = prepare(touches, options)  # once for the three data-driven models
        for name in DATA_DRIVEN:
            if on_model:
                on_model(name)
            try:
                credits = run_model(journeys, load_model(name))
            except InsufficientDataError as exc:
                skipped[name] = str(exc)
                continue
            keep = credits["journey_id"].isin(set(ruled["journey_id"])).to_numpy()
            frames.append(credits[keep].assign(model=name))
            if name == "markov":
                from attribution.markov import fit_markov, markov_channel_summary  # scipy: nightly only

                summaries.append(
                    markov_channel_summary(PathTable.of(journeys), fit_markov(journeys), samples=BOOTSTRAP_SAMPLES)
                )
            if weights is not None and keep.any():  # data-driven: refit on every resample
                codes = journey_index.get_indexer(journeys.id_index)
                spec = load_model(name)

                def refit(b: int, spec=spec, codes=codes, keep=keep) -> pd.DataFrame:
                    return run_model(journeys, spec, journey_weights=weights[b, codes])[keep]

                bounds.append(
                    _interval_frame(
                        name,
                        credit_intervals(
                            _with_day(credits[keep]), journey_index, weights, INTERVAL_GROUPS, refit=refit
                        ),
                    )
                )
    credits = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    summary = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame()
    interval_rows = pd.concat(bounds, ignore_index=True) if bounds else pd.DataFrame()
    return credits, summary, skipped, interval_rows


def rule_credits(
    ruled: pd.DataFrame,
    models: dict[str, dict],
    options: JourneyOptions,
    on_model: Callable[[str], None] | None,
    intervals: bool,
    seed: int,
) -> tuple[list[pd.DataFrame], dict[str, CreditIntervals], dict[str, int]]:
    """Credits of the converted journeys `ruled` under the rule-based and DSL models (each journey
    is credited on its own, so any split of the journeys gives the same credits), and per model
    the unchecked intervals of these journeys (min_conversions=0, weights by journey id: the
    intervals of several chunks merge exactly, attribution.intervals.merge_intervals) and their
    number of converting journeys."""
    frames, parts, conversions = [], {}, {}
    if ruled.empty:
        for name in models:
            if on_model:
                on_model(name)
        return frames, parts, conversions
    journey_index = pd.Index(pd.unique(ruled["journey_id"]))
    weights = journey_weights(journey_index, INTERVAL_SAMPLES, seed) if intervals else None
    # the journeys are prepared once and shared by every rule model
    for name, credits in attribute_many(ruled, models, options, on_model=on_model).items():
        frames.append(credits.assign(model=name))
        conversions[name] = len(pd.unique(credits["journey_id"]))
        if weights is not None:  # rule models: all resamples in one matmul
            parts[name] = credit_intervals(
                _with_day(credits), journey_index, weights, INTERVAL_GROUPS, min_conversions=0
            )
    return frames, parts, conversions


def delete_credits(conn, account_id: str, models: list[str], start: datetime, end: datetime) -> None:
    """Drop the credits of [start, end) for these models, in the caller's transaction."""
    conn.execute(
        "delete from attribution.attribution_credits where account_id = %s and model = any(%s) "
        "and converted_at >= %s and converted_at < %s",
        (account_id, models, start, end),
    )


def write_credits(
    conn,
    account_id: str,
    run_id: str,
    credits: pd.DataFrame,
    summary: pd.DataFrame,
    start: datetime,
    end: datetime,
    models: list[str],
) -> int:
    """Replace the credits of [start, end) for these models, in the caller's transaction.

    The credits go in with COPY (CSV written by pyarrow: ~15x faster than binding a
    million-row batch); a server that refuses COPY FROM STDIN (the PGlite TimescaleDB
    test server) gets one statement of arrays bound as parameters and unnest()ed."""
    delete_credits(conn, account_id, models, start, end)
    return insert_credits(conn, account_id, run_id, credits, summary)


def credit_frame(account_id: str, run_id: str, credits: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """The engine's credits of one account as rows of attribution_credits (CREDIT_COLUMNS, new
    credit ids): what PostgreSQL's insert_credits and Spark's run (mbuzz/spark_attribution.py) write."""
    n = len(credits)
    converted_at = pd.to_datetime(credits["converted_at"], utc=True)
    # the conversion's day in the account's time zone: the daily aggregates and ROAS group by it
    local_day = converted_at.dt.tz_convert(timezone).dt.date
    frame = pd.DataFrame(
        {
            "account_id": account_id,
            "credit_id": new_ids("cred", n),
            "run_id": run_id,
            "environment": credits["environment"].to_numpy(),
            "model": credits["model"].to_numpy(),
            "conversion_id": credits["journey_id"].astype(str).to_numpy(),
            "conversion_type": credits["conversion_type"].to_numpy(),
            "converted_at": converted_at.array,  # tz-aware, not objects
            "touch_index": credits["touch_index"].astype("int64").to_numpy(),
            "session_id": credits["session_id"].to_numpy(),
            "channel": credits["channel"].to_numpy(),
            "credit": credits["credit"].astype(float).to_numpy(),
            "revenue_credit": credits["revenue_credit"].astype(float).to_numpy(),
            "utm_source": credits["utm_source"].to_numpy(),
            "utm_medium": credits["utm_medium"].to_numpy(),
            "utm_campaign": credits["utm_campaign"].to_numpy(),
            "local_day": local_day.to_numpy(),
            # the unassigned rows of touchless conversions carry no kind: credit them as visits
            "touch_kind": credits["touch_kind"].fillna("visit").to_numpy()
            if "touch_kind" in credits
            else np.full(n, "visit", dtype=object),
        }
    )
    return frame[list(CREDIT_COLUMNS)]


def insert_credits(conn, account_id: str, run_id: str, credits: pd.DataFrame, summary: pd.DataFrame) -> int:
    """Add credits (and a channel summary) to the run, in the caller's transaction."""
    if credits.empty:
        return 0
    timezone = conn.execute(
        "select coalesce(nullif(settings ->> 'timezone', ''), 'UTC') from raw.accounts where id = %s", (account_id,)
    ).fetchone()
    frame = credit_frame(account_id, run_id, credits, timezone[0] if timezone else "UTC")
    n = len(frame)
    if _copy_frame(conn, "attribution.attribution_credits", frame):
        _write_summary(conn, account_id, run_id, summary)
        return n
    arrays = [_nullable(frame[c]) for c in CREDIT_COLUMNS]
    types = [
        "text",
        "text",
        "text",
        "text",
        "text",
        "text",
        "text",
        "timestamptz",
        "int",
        "text",
        "text",
        "float8",
        "float8",
        "text",
        "text",
        "text",
        "date",
        "text",
    ]
    unnest = ", ".join(f"%s::{t}[]" for t in types)
    conn.execute(
        f"insert into attribution.attribution_credits ({', '.join(CREDIT_COLUMNS)}) select * from unnest({unnest})",
        arrays,
    )
    _write_summary(conn, account_id, run_id, summary)
    return n


def _write_summary(conn, account_id: str, run_id: str, summary: pd.DataFrame) -> None:
    if not summary.empty:
        rows = summary.assign(account_id=account_id, run_id=run_id)
        conn.execute(
            "insert into attribution.channel_summaries (account_id, run_id, model, channel, removal_effect, "
            "total_conversions, ci_low, ci_high) select * from unnest(%s::text[], %s::text[], %s::text[], %s::text[], "
            "%s::float8[], %s::float8[], %s::float8[], %s::float8[])",
            [
                _nullable(rows[c]) if c in rows else [None] * len(rows)
                for c in (
                    "account_id",
                    "run_id",
                    "model",
                    "channel",
                    "removal_effect",
                    "total_conversions",
                    "ci_low",
                    "ci_high",
                )
            ],
        )


INTERVAL_COLUMNS = (
    "account_id",
    "run_id",
    "model",
    "environment",
    "channel",
    "day",
    "conversions",
    "revenue",
    "conversions_lower",
    "conversions_upper",
    "revenue_lower",
    "revenue_upper",
    "conversion_samples",
    "revenue_samples",
    "reason",
)


def write_intervals(conn, account_id: str, run_id: str, bounds: pd.DataFrame) -> int:
    """The run's intervals (one row per model, environment, channel and day), in the caller's
    transaction. Older runs' rows stay (the run history); readers take each day's newest run."""
    if bounds.empty:
        return 0
    rows = bounds.assign(account_id=account_id, run_id=run_id)
    arrays = {"conversion_samples", "revenue_samples"}
    values = [
        [None if v is None else [float(x) for x in v] for v in rows[c]] if c in arrays else _nullable(rows[c])
        for c in INTERVAL_COLUMNS
    ]
    with conn.cursor() as cur:
        cur.executemany(
            f"insert into attribution.credit_intervals ({', '.join(INTERVAL_COLUMNS)}) "
            f"values ({', '.join(['%s'] * len(INTERVAL_COLUMNS))})",
            list(zip(*values)),
        )
    return len(rows)


def _copy_frame(conn, table: str, frame: pd.DataFrame) -> bool:
    """COPY the frame's rows into `table` as CSV; False, with nothing written, where the server
    refuses COPY FROM STDIN (SQLSTATE 0A000)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sink = pa.BufferOutputStream()
    # quoting "needed": None becomes an empty field (NULL), '' a quoted empty string
    pacsv.write_csv(
        pa.Table.from_pandas(frame, preserve_index=False),
        sink,
        write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    statement = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
        sql.Identifier(*table.split(".")), sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    )
    try:
        with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
            copy.write(sink.getvalue())
    except psycopg.errors.FeatureNotSupported:
        return False
    return True


def _nullable(column: pd.Series) -> list:
    """A column as a Python list with None for missing values (what psycopg binds as NULL)."""
    values = column.astype(object)
    return values.where(pd.notna(values), None).tolist()


LEASE_LOCK = 7_331_001  # pg advisory lock class: (LEASE_LOCK, hashtext(run_id)) is held while the run's process lives
WRITE_LOCK = 7_331_002  # transaction lock: one run writes credits at a time


def abandon_dead_runs(conn) -> list[str]:
    """Mark 'abandoned' the runs still 'running' whose process is gone (their lease lock is free).

    `conn` is autocommit; returns the run ids marked."""
    abandoned = []
    for (run_id,) in conn.execute(
        "select run_id from attribution.attribution_runs where status = 'running'"
    ).fetchall():
        if conn.execute("select pg_try_advisory_lock(%s, hashtext(%s))", (LEASE_LOCK, run_id)).fetchone()[0]:
            try:
                conn.execute(
                    "update attribution.attribution_runs set status = 'abandoned', finished_at = now(), "
                    "error = 'the process running it died' where run_id = %s and status = 'running'",
                    (run_id,),
                )
                abandoned.append(run_id)
            finally:
                conn.execute("select pg_advisory_unlock(%s, hashtext(%s))", (LEASE_LOCK, run_id))
    return abandoned


def run_attribution(
    connect,
    start: datetime,
    end: datetime,
    *,
    data_driven: bool = True,
    options: JourneyOptions | None = None,
    partition_key: str | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> RunResult:
    """Attribute every account's conversions of [start, end); all of the run's credits in ONE
    transaction, so the marts see the previous run's credits or this run's, never half of one.

    The run is recorded in attribution.attribution_runs: 'running' from the start, 'succeeded'
    in the transaction that commits its credits, 'failed' on an error. A connection held for the
    whole run keeps a lease lock; a run left 'running' whose lease is free (its process was
    killed) is marked 'abandoned' by the next run.

    `connect()` returns a new psycopg connection (a callable, so tests and Dagster
    resources decide where it points)."""
    options = options or WAREHOUSE_JOURNEYS
    with run_lease(connect, log) as lease:
        accounts = accounts_with_journeys(lease)
        presets, all_custom, config = run_config(lease, accounts, options, data_driven)
        result = begin_run(lease, config, partition_key, start, end)
        with failing_run(lease, result.run_id):
            _attribute_all(connect, result, accounts, presets, all_custom, options, data_driven, log)
    return result


@contextmanager
def run_lease(connect, log: Callable[[str], None]):
    """The run's lease: an autocommit connection held for the whole run (its lock says the run's
    process lives), after marking the runs whose process died 'abandoned'."""
    with connect() as lease:
        lease.autocommit = True
        for run_id in abandon_dead_runs(lease):
            log(f"run {run_id} was left running by a process that died: marked abandoned")
        yield lease


def run_config(lease, accounts: list[str], options: JourneyOptions, data_driven: bool) -> tuple[dict, dict, dict]:
    """(the presets, each account's custom models, the run's config) for a run over `accounts`."""
    presets = {name: load_model(name) for name in list_presets()}
    all_custom = {a: custom_models(lease, a) for a in accounts}
    config = config_of({**presets, **{m: c for cm in all_custom.values() for m, c in cm.items()}}, options, data_driven)
    return presets, all_custom, config


def succeed_run(conn, run_id: str, conversions: int, credits_written: int, config: dict) -> None:
    """Mark the run 'succeeded' with its counts, `config` merged into its recorded config."""
    conn.execute(
        "update attribution.attribution_runs set status = 'succeeded', finished_at = now(), conversions = %s, "
        "credits_written = %s, config = config || %s::jsonb where run_id = %s",
        (conversions, credits_written, json.dumps(config), run_id),
    )


def begin_run(lease, config: dict, partition_key: str | None, start: datetime, end: datetime) -> RunResult:
    """A new run, recorded as 'running' in attribution.attribution_runs, its lease lock held by
    `lease` (an autocommit connection kept open for the whole run)."""
    result = RunResult(run_id=str(new_ids("run", 1)[0]), config_hash=config_hash(config), start=start, end=end)
    lease.execute("select pg_advisory_lock(%s, hashtext(%s))", (LEASE_LOCK, result.run_id))
    lease.execute(
        "insert into attribution.attribution_runs (run_id, config_hash, config, partition_key, window_start, "
        "window_end, status) values (%s, %s, %s, %s, %s, %s, 'running')",
        (result.run_id, result.config_hash, json.dumps(config, default=str), partition_key, start, end),
    )
    return result


@contextmanager
def failing_run(lease, run_id: str):
    """An error inside marks the run 'failed' (with the error), then goes on up."""
    try:
        yield
    except BaseException as exc:
        try:
            lease.execute(
                "update attribution.attribution_runs set status = 'failed', finished_at = now(), "
                "error = %s where run_id = %s",
                (f"{type(exc).__name__}: {exc}"[:2000], run_id),
            )
        except psycopg.Error:
            pass  # the lease died too: the next run marks this one abandoned
        raise


def _attribute_all(
    connect,
    result: RunResult,
    accounts: list[str],
    presets: dict,
    all_custom: dict,
    options: JourneyOptions,
    data_driven: bool,
    log: Callable[[str], None],
) -> None:
    """Every account's credits written in one transaction, committed with the run's 'succeeded'."""
    skipped_by_account: dict[str, dict[str, str]] = {}
    chunk_rows = get_settings().journey_chunk
    with connect() as conn, conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        for account_id in accounts:
            models = {**presets, **all_custom[account_id]}

            def on_model(m: str, a: str = account_id) -> None:
                log(f"{a}: {m}")

            seed = interval_seed(account_id, result.start, result.end)
            skipped: dict[str, str] = {}
            if data_driven:
                skipped = _attribute_data_driven(conn, account_id, result, options, on_model, seed, chunk_rows)
                result.skipped.update(skipped)
                if skipped:
                    skipped_by_account[account_id] = skipped
            by_account = account_level(models)
            person = {name: m for name, m in models.items() if name not in by_account}
            _attribute_rules(conn, account_id, result, person, options, on_model, seed, chunk_rows)
            if by_account:  # the same engine on account-level journeys
                if has_group_journeys(conn, account_id):
                    group_credits, _, _, group_bounds = run_models(
                        load_group_journeys(conn, account_id, result.start, result.end),
                        by_account,
                        options,
                        result.start,
                        result.end,
                        False,
                        on_model=lambda m, a=account_id: log(f"{a}: {m} (by account)"),
                        seed=seed,
                    )
                    result.credits_written += write_credits(
                        conn,
                        account_id,
                        result.run_id,
                        group_credits,
                        pd.DataFrame(),
                        result.start,
                        result.end,
                        list(by_account),
                    )
                    write_intervals(conn, account_id, result.run_id, group_bounds)
                else:
                    for name in by_account:
                        skipped[name] = NO_GROUPS
                        log(f"{account_id}: {name} skipped: {NO_GROUPS}")
                    result.skipped.update(skipped)
                    skipped_by_account[account_id] = skipped
            names = [m for m in models if m not in skipped] + (
                [m for m in DATA_DRIVEN if m not in skipped] if data_driven else []
            )
            result.models = sorted(set(result.models) | set(names))
        succeed_run(conn, result.run_id, result.conversions, result.credits_written, {"skipped": skipped_by_account})


def _attribute_rules(
    conn,
    account_id: str,
    result: RunResult,
    models: dict[str, dict],
    options: JourneyOptions,
    on_model: Callable[[str], None],
    seed: int,
    chunk_rows: int,
) -> None:
    """The rule-based and DSL models, chunk by chunk (journey_chunks): each chunk's credits go out
    before the next is read (same transaction), the intervals of the chunks are merged at the end."""
    delete_credits(conn, account_id, list(models), result.start, result.end)
    parts: dict[str, list[CreditIntervals]] = {name: [] for name in models}
    conversions = dict.fromkeys(models, 0)
    chunks = journey_chunks(conn, account_id, result.start, result.end, with_paths=False, rows=chunk_rows)
    for number, chunk in enumerate(chunks):
        frames, chunk_parts, chunk_conversions = rule_credits(
            chunk, models, options, on_model if number == 0 else None, intervals=True, seed=seed
        )
        if frames:
            credits = pd.concat(frames, ignore_index=True)
            result.credits_written += insert_credits(conn, account_id, result.run_id, credits, pd.DataFrame())
        result.conversions += chunk["journey_id"].nunique()
        for name, part in chunk_parts.items():
            parts[name].append(part)
            conversions[name] += chunk_conversions[name]
    bounds = [_interval_frame(name, merge_intervals(parts[name], conversions[name])) for name in models if parts[name]]
    write_intervals(conn, account_id, result.run_id, pd.concat(bounds, ignore_index=True) if bounds else pd.DataFrame())


def _attribute_data_driven(
    conn,
    account_id: str,
    result: RunResult,
    options: JourneyOptions,
    on_model: Callable[[str], None],
    seed: int,
    chunk_rows: int,
) -> dict[str, str]:
    """The data-driven models, in two chunked passes (journey_chunks), so the run holds a chunk and
    the path table, never the fit window (docs/operations.md#attribution-runs):

    1. the fit window's journeys, chunk by chunk, into the table of unique (channel sequence,
       converted) paths with their counts and, per resample, their summed interval weights
       (attribution.paths.PathCounter);
    2. each model fit on the table (and refit on every resample's path weights), then the window's
       converted journeys, chunk by chunk, credited with the fits; each chunk's credits go out
       before the next is read, its interval replicates are merged at the end.

    The fits are those of the journeys read at once (the models aggregate identical paths first;
    tests/orchestration/test_attribution_chunks.py). Returns {skipped model: reason}."""
    from attribution.api import apply_model, fit_model

    counter = PathCounter(INTERVAL_SAMPLES, seed)
    in_window = 0  # converted journeys of [start, end): the ones credited
    for chunk in journey_chunks(conn, account_id, result.start, result.end, with_paths=True, rows=chunk_rows):
        counter.add(prepare(chunk, options))
        credited = chunk["converted"].astype(bool) & (chunk["conversion_ts"] >= result.start)
        in_window += chunk.loc[credited & (chunk["conversion_ts"] < result.end), "journey_id"].nunique()
    paths = counter.table()
    specs = {name: load_model(name) for name in DATA_DRIVEN}
    fits, refits, skipped, summary = {}, {}, {}, pd.DataFrame()
    for name, spec in specs.items():
        on_model(name)
        try:
            fits[name] = fit_model(paths.journeys, spec, journey_weights=paths.count)
        except InsufficientDataError as exc:
            skipped[name] = str(exc)
            continue
        if name == "markov":
            from attribution.markov import markov_channel_summary  # scipy's solvers: nightly only

            summary = markov_channel_summary(paths, fits[name], samples=BOOTSTRAP_SAMPLES)
        if in_window >= MIN_CONVERSIONS:  # else the interval is refused for too few conversions, no refit
            try:  # the fits of every resample (the same path table, the resample's weights)
                refits[name] = [
                    _shared(fits[name], fit_model(paths.journeys, spec, journey_weights=w)) for w in paths.resampled
                ]
            except InsufficientDataError as exc:
                refits[name] = exc

    names = list(fits)
    delete_credits(conn, account_id, names, result.start, result.end)
    parts: dict[str, list[CreditIntervals]] = {name: [] for name in names}
    conversions = dict.fromkeys(names, 0)
    written = dict.fromkeys(names, 0)
    chunks = (
        journey_chunks(conn, account_id, result.start, result.end, with_paths=False, rows=chunk_rows) if names else ()
    )
    for chunk in chunks:
        journeys = counter.recode(prepare(chunk, options))
        journey_index = pd.Index(pd.unique(chunk["journey_id"]))
        weights = journey_weights(journey_index, INTERVAL_SAMPLES, seed)
        for name in names:
            spec = specs[name]
            credits = apply_model(journeys, spec, fits[name])
            if credits.empty:
                continue
            written[name] += insert_credits(conn, account_id, result.run_id, credits.assign(model=name), pd.DataFrame())
            conversions[name] += len(pd.unique(credits["journey_id"]))

            def refit(b: int, spec=spec, fitted=refits.get(name)) -> pd.DataFrame:
                if not isinstance(fitted, list):  # the resample that could not be fit, or too few conversions
                    raise fitted or InsufficientDataError("too few conversions")
                return apply_model(journeys, spec, fitted[b], carried=False)

            parts[name].append(
                credit_intervals(
                    _with_day(credits), journey_index, weights, INTERVAL_GROUPS, refit=refit, min_conversions=0
                )
            )
    result.credits_written += sum(written.values())
    if written.get("markov"):
        _write_summary(conn, account_id, result.run_id, summary)
    bounds = [_interval_frame(name, merge_intervals(parts[name], conversions[name])) for name in names if parts[name]]
    write_intervals(conn, account_id, result.run_id, pd.concat(bounds, ignore_index=True) if bounds else pd.DataFrame())
    return skipped


def _shared(fit, refit):
    """A resample's refit holding its fit's sequence index (ordered Shapley: the same keys, every
    path is in every resample's table, weight 0 or not), so the run's 100 refits hold one index."""
    index = getattr(fit, "index", None)
    if index is not None and len(index) == len(refit.index) and index.equals(refit.index):
        return dataclasses.replace(refit, index=index)
    return refit


SKIPPED_QUERY = """
select config -> 'skipped' -> %(account_id)s
from attribution.attribution_runs
where status = 'succeeded' and config -> 'data_driven' <> '[]'::jsonb
order by started_at desc
limit 1
"""


def skipped_models(conn, account_id: str) -> dict[str, str]:
    """{model: reason} of the data-driven models the account's latest data-driven run could not run (too few
    paths, no non-converting path, too many channels in a path, …): recorded with the run
    (`config.skipped`, per account), shown by the dashboard instead of a silent zero."""
    row = conn.execute(SKIPPED_QUERY, {"account_id": account_id}).fetchone()
    return dict(row[0]) if row and row[0] else {}


RUNS_QUERY = """
select run_id, status, window_start, window_end, started_at, finished_at, conversions, credits_written, error
from attribution.attribution_runs order by started_at desc limit %s
"""


def list_runs(conn, limit: int = 20) -> list[dict]:
    """The run history, newest first (what `mbuzz runs list` prints)."""
    cur = conn.execute(RUNS_QUERY, (limit,))
    return [dict(zip([d.name for d in cur.description], row)) for row in cur.fetchall()]
