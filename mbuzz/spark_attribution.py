"""Attribution on Spark (preview): an account set's credits as ONE Spark job next to the journeys.

The same engine as the PostgreSQL run (mbuzz/attribution_runs.py), not a second one:

- **rule-based and DSL models**: the window's converted journeys, grouped by account (and a hash
  bucket of the journey, so no group holds an account's whole history), each group credited by
  `rule_credits` in a pandas UDF (`groupBy(...).applyInPandas`);
- **data-driven models** (Markov, Shapley, ordered Shapley, algorithmic): each group's journeys of
  the fit window prepared (attribution.prepare) into their channel paths in a UDF, and the paths
  counted by Spark (`groupBy(account_id, path, converted)`): only that small table reaches the
  driver, where each model is fit on it (attribution.paths.PathCounter.add_counted,
  attribution.api.fit_model) as the PostgreSQL run fits its path table; the window's converted
  journeys are then credited with the fits (`apply_model`) in a second UDF.

The credits (the columns of attribution.attribution_credits, one `run_id`) are checked in Spark
SQL before anything is written: credits sum to 1 per conversion and model, none is negative,
revenue credits sum to the revenue, every conversion of the window is credited by every model
that ran. A run that fails them writes nothing (`CreditsCheckFailed`). Then the credits replace
those of the run's accounts (dynamic partition overwrite on `account_id`).

Tables are named (`marts.fct_conversion_journeys`, read with `spark.table`) or Parquet folders
(a path: `/srv/lake/attribution_credits`, `s3a://…`): `run_spark_attribution` is what the
orchestration calls with its SparkSession (`spark_session` makes one). pyspark is imported only
here, lazily: PostgreSQL deployments never load it. docs/operations.md, "Spark (preview)".
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from attribution import prepare
from attribution.errors import InsufficientDataError
from attribution.journeys import WAREHOUSE_JOURNEYS, JourneyOptions
from attribution.models import DATA_DRIVEN, list_presets, load_model
from attribution.paths import PathCounter
from mbuzz.attribution_runs import (
    CREDIT_COLUMNS,
    FIT_WINDOW_DAYS,
    RunResult,
    account_level,
    begin_run,
    credit_frame,
    engine_frame,
    failing_run,
    rule_credits,
    run_config,
    run_lease,
    succeed_run,
)
from mbuzz.ids import new_ids

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

JOURNEYS_TABLE = "marts.fct_conversion_journeys"
CREDITS_TABLE = "attribution.attribution_credits"
ACCOUNTS_TABLE = "raw.accounts"  # the lake's accounts (id, settings): each account's time zone
BUCKETS = 8  # journey hash buckets per account: the UDF groups, so no group is an account's history
TOLERANCE = 1e-6  # the PostgreSQL checks' (orchestration/checks.py)

# the engine's touch table, as JOURNEY_QUERY of mbuzz/attribution_runs.py selects it on PostgreSQL
JOURNEY_SELECT = (
    "account_id", "environment", "journey_id", "conversion_id", "converted", "conversion_ts",
    "conversion_type", "cast(coalesce(revenue, 0) as double) as revenue", "touch_ts", "session_id",
    "channel", "utm_source", "utm_medium", "utm_campaign", "coalesce(milestones, '') as milestones",
    "case when session_id is not null then 'visit' end as touch_kind",
)  # fmt: skip
CREDITS_SCHEMA = (
    "account_id string, credit_id string, run_id string, environment string, model string, "
    "conversion_id string, conversion_type string, converted_at timestamp, touch_index int, "
    "session_id string, channel string, credit double, revenue_credit double, utm_source string, "
    "utm_medium string, utm_campaign string, local_day date, touch_kind string"
)
TEXT_COLUMNS = tuple(c.split()[0] for c in CREDITS_SCHEMA.split(", ") if c.endswith(" string"))
PATHS_SCHEMA = "account_id string, journey_id string, path array<string>, converted boolean"


class CreditsCheckFailed(RuntimeError):
    """The run's credits break an invariant: nothing was written."""

    def __init__(self, checks: CreditChecks) -> None:
        super().__init__(f"the Spark run's credits fail the blocking checks: {checks.failures()}")
        self.checks = checks


@dataclass(frozen=True)
class CreditChecks:
    """The blocking checks of a credits table (those of orchestration/checks.py), counted."""

    conversion_models: int
    negative: int
    not_summing_to_1: int
    revenue_mismatch: int
    unattributed: int  # (conversion, model) pairs of the window without a credit

    def failures(self) -> dict[str, int]:
        return {
            name: value
            for name, value in vars(self).items()
            if name != "conversion_models" and value  # a count of bad pairs
        }

    @property
    def passed(self) -> bool:
        return not self.failures()


@dataclass
class SparkRunResult:
    run_id: str
    start: datetime
    end: datetime
    accounts: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    account_models: dict[str, list[str]] = field(default_factory=dict)  # account -> the models that credited it
    skipped: dict[str, dict[str, str]] = field(default_factory=dict)  # account -> {model: reason}
    conversions: int = 0
    credits_written: int = 0
    checks: CreditChecks | None = None


# ---------------------------------------------------------------------------- session and tables


def spark_session(master: str, conf: Mapping[str, str] | None = None, app_name: str = "mbuzz-attribution"):
    """A SparkSession for the run: UTC session time zone (the UDFs read timestamps as UTC), Arrow
    on, and executors running this interpreter (the engine must be importable there; set
    PYSPARK_PYTHON where the executors' Python lives elsewhere)."""
    from pyspark.sql import SparkSession

    # the Python the executors start: pyspark takes it from the driver's PYSPARK_PYTHON
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {
        **(conf or {}),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _is_path(ref: str) -> bool:
    return "/" in ref or "://" in ref


def read_table(spark: SparkSession, ref: str) -> DataFrame:
    """A table by name (the session's catalog) or a Parquet folder by path."""
    return spark.read.parquet(ref) if _is_path(ref) else spark.table(ref)


def write_credits(credits: DataFrame, ref: str) -> None:
    """Replace the credits of the accounts in `credits` (dynamic overwrite of their `account_id`
    partitions; other accounts' credits stay), in a table by name or a Parquet folder."""
    out = credits.select(*(c for c in CREDIT_COLUMNS if c != "account_id"), "account_id")
    writer = out.write.mode("overwrite").option("partitionOverwriteMode", "dynamic")
    if _is_path(ref):
        writer.partitionBy("account_id").parquet(ref)
    elif credits.sparkSession.catalog.tableExists(ref):
        writer.insertInto(ref)
    else:
        writer.partitionBy("account_id").format("parquet").saveAsTable(ref)


def _timezones(spark: SparkSession, accounts: str | None, account_ids: Sequence[str]) -> dict[str, str]:
    if accounts is None:
        return dict.fromkeys(account_ids, "UTC")
    from pyspark.sql import functions as F

    rows = (
        read_table(spark, accounts)
        .where(F.col("id").isin(list(account_ids)))
        .select("id", F.expr("coalesce(nullif(get_json_object(settings, '$.timezone'), ''), 'UTC')").alias("tz"))
        .collect()
    )
    found = {row["id"]: row["tz"] for row in rows}
    return {a: found.get(a, "UTC") for a in account_ids}


# ---------------------------------------------------------------------------- the UDFs (on executors)


def _utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow gives Spark timestamps as naive datetimes in the session time zone (UTC)."""
    for column in ("conversion_ts", "touch_ts"):
        values = pd.to_datetime(frame[column])
        frame[column] = values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
    return engine_frame(frame)


def _empty_credits() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in CREDIT_COLUMNS})
    frame["converted_at"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["touch_index"] = pd.Series(dtype="int32")
    frame[["credit", "revenue_credit"]] = frame[["credit", "revenue_credit"]].astype(float)
    return frame


def _rows(account_id: str, run_id: str, frames: list[pd.DataFrame], timezone: str) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return _empty_credits()
    rows = credit_frame(account_id, run_id, pd.concat(frames, ignore_index=True), timezone)
    rows = rows.astype({"touch_index": "int32"})
    for column in TEXT_COLUMNS:  # all-null text (utm_* of a journey without any) comes as float NaN
        values = rows[column].astype(object)
        rows[column] = values.where(values.notna(), None)
    return rows


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as objects: pyspark's Arrow conversion takes no pandas `str` (Arrow-backed) dtype."""
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column]) and frame[column].dtype != object:
            frame[column] = frame[column].astype(object)
    return frame


def _rule_udf(run_id: str, models: Mapping[str, dict], options: JourneyOptions, timezones: Mapping[str, str]):
    def credit(frame: pd.DataFrame) -> pd.DataFrame:
        account_id = str(frame["account_id"].iloc[0])
        touches = _utc(frame.drop(columns=["bucket"]))
        frames, _, _ = rule_credits(touches, models[account_id], options, None, intervals=False, seed=0)
        return _rows(account_id, run_id, frames, timezones[account_id])

    return credit


def _paths_udf(options: JourneyOptions):
    def paths(frame: pd.DataFrame) -> pd.DataFrame:
        jr = prepare(_utc(frame.drop(columns=["bucket"])), options)
        keep = jr.nonempty
        starts, lengths = jr.starts[keep], jr.lengths[keep]
        names = jr.channels[jr.channel]
        return _plain(
            pd.DataFrame(
                {
                    "account_id": str(frame["account_id"].iloc[0]),
                    "journey_id": np.asarray(jr.id_index, dtype=object)[keep].astype(str),
                    "path": [list(names[s : s + n]) for s, n in zip(starts.tolist(), lengths.tolist())],
                    "converted": jr.converted[keep].astype(bool),
                }
            )
        )

    return paths


def _fitted_udf(run_id: str, fitted: Mapping[str, tuple], options: JourneyOptions, timezones: Mapping[str, str]):
    from attribution.api import apply_model

    def credit(frame: pd.DataFrame) -> pd.DataFrame:
        account_id = str(frame["account_id"].iloc[0])
        counter, fits = fitted[account_id]
        journeys = counter.recode(prepare(_utc(frame.drop(columns=["bucket"])), options))
        frames = [apply_model(journeys, load_model(name), fit).assign(model=name) for name, fit in fits.items()]
        return _rows(account_id, run_id, frames, timezones[account_id])

    return credit


# ---------------------------------------------------------------------------- the run


def _fit_paths(rows, log: Callable[[str], None]) -> tuple[dict[str, tuple], dict[str, dict[str, str]]]:
    """Each account's data-driven fits from the path table Spark counted: {account: (counter, {model:
    fit})} and {account: {model: why it was skipped}}."""
    from attribution.api import fit_model

    by_account: dict[str, list] = {}
    for row in rows:  # ordered by account and first journey: channel codes by first appearance
        by_account.setdefault(row["account_id"], []).append(row)
    fitted, skipped = {}, {}
    for account_id, paths in by_account.items():
        counter = PathCounter()
        counter.add_counted([p["path"] for p in paths], [p["converted"] for p in paths], [p["journeys"] for p in paths])
        table = counter.table()
        fits = {}
        for name in DATA_DRIVEN:
            log(f"{account_id}: {name} (fit on {len(paths)} paths)")
            try:
                fits[name] = fit_model(table.journeys, load_model(name), journey_weights=table.count)
            except InsufficientDataError as exc:
                skipped.setdefault(account_id, {})[name] = str(exc)
        fitted[account_id] = (counter, fits)
    return fitted, skipped


def attribution_credits(
    spark: SparkSession,
    start: datetime,
    end: datetime,
    *,
    journeys: str = JOURNEYS_TABLE,
    accounts: str | None = ACCOUNTS_TABLE,
    account_ids: Sequence[str] | None = None,
    custom: Mapping[str, Mapping[str, dict]] | None = None,
    data_driven: bool = True,
    options: JourneyOptions | None = None,
    buckets: int = BUCKETS,
    log: Callable[[str], None] = lambda _: None,
    run_id: str | None = None,
) -> tuple[DataFrame, SparkRunResult]:
    """The credits of the conversions of [start, end) of the accounts (default: every account with
    journeys) under every preset, each account's `custom` models (id → compiled, as
    raw.attribution_models holds them; `journey_by account` models do not run here) and, with
    data_driven, the data-driven models fit on the 90 days of paths before `end`: a Spark
    DataFrame (not yet computed, but for the path table) and the run's record."""
    from pyspark.sql import functions as F

    options = options or WAREHOUSE_JOURNEYS
    source = read_table(spark, journeys)
    if account_ids is None:
        account_ids = sorted(r[0] for r in source.select("account_id").distinct().collect())
    result = SparkRunResult(
        run_id=run_id or str(new_ids("run", 1)[0]), start=start, end=end, accounts=list(account_ids)
    )
    presets = {name: load_model(name) for name in list_presets()}
    models = {}
    for account_id in account_ids:
        every = {**presets, **(custom or {}).get(account_id, {})}
        by_account = account_level(every)
        models[account_id] = {name: m for name, m in every.items() if name not in by_account}
        if by_account:
            result.skipped[account_id] = {n: "journey_by account models do not run on Spark yet" for n in by_account}
    timezones = _timezones(spark, accounts, account_ids)
    touches = (
        source.where(F.col("account_id").isin(list(account_ids)))
        .selectExpr(*JOURNEY_SELECT)
        .withColumn("bucket", F.expr(f"pmod(xxhash64(journey_id), {int(buckets)})"))
    )
    window = F.col("converted") & (F.col("conversion_ts") >= F.lit(start)) & (F.col("conversion_ts") < F.lit(end))
    ruled = touches.where(window)
    groups = ["account_id", "bucket"]
    credits = ruled.groupBy(*groups).applyInPandas(_rule_udf(result.run_id, models, options, timezones), CREDITS_SCHEMA)
    ran = {account_id: set(names) for account_id, names in models.items()}
    if data_driven:
        fit_start = start - timedelta(days=FIT_WINDOW_DAYS)
        fit_window = (
            F.col("converted") & (F.col("conversion_ts") >= F.lit(fit_start)) & (F.col("conversion_ts") < F.lit(end))
        ) | (~F.col("converted") & (F.col("touch_ts") >= F.lit(fit_start)) & (F.col("touch_ts") < F.lit(end)))
        counted = (
            touches.where(fit_window)
            .groupBy(*groups)
            .applyInPandas(_paths_udf(options), PATHS_SCHEMA)
            .groupBy("account_id", "path", "converted")
            .agg(F.count("*").alias("journeys"), F.min("journey_id").alias("first_journey"))
            .orderBy("account_id", "first_journey")
            .collect()  # the small table: one row per distinct path
        )
        fitted, skipped = _fit_paths(counted, log)
        for account_id, reasons in skipped.items():
            result.skipped.setdefault(account_id, {}).update(reasons)
        if any(fits for _, fits in fitted.values()):
            credits = credits.unionByName(
                ruled.where(F.col("account_id").isin([a for a, (_, fits) in fitted.items() if fits]))
                .groupBy(*groups)
                .applyInPandas(_fitted_udf(result.run_id, fitted, options, timezones), CREDITS_SCHEMA)
            )
            for account_id, (_, fits) in fitted.items():
                ran[account_id] |= set(fits)
    result.account_models = {account_id: sorted(names) for account_id, names in ran.items()}
    result.models = sorted(set().union(*ran.values()))
    return credits, result


def run_spark_attribution(
    spark: SparkSession,
    start: datetime,
    end: datetime,
    *,
    journeys: str = JOURNEYS_TABLE,
    credits: str = CREDITS_TABLE,
    accounts: str | None = ACCOUNTS_TABLE,
    account_ids: Sequence[str] | None = None,
    custom: Mapping[str, Mapping[str, dict]] | None = None,
    data_driven: bool = True,
    options: JourneyOptions | None = None,
    buckets: int = BUCKETS,
    log: Callable[[str], None] = lambda _: None,
    run_id: str | None = None,
) -> SparkRunResult:
    """Attribute the accounts' conversions of [start, end) on Spark (attribution_credits), check the
    credits in Spark SQL (check_credits; CreditsCheckFailed and nothing written if they fail) and
    write them to `credits`, replacing the credits of the run's accounts."""
    frame, result = attribution_credits(
        spark,
        start,
        end,
        journeys=journeys,
        accounts=accounts,
        account_ids=account_ids,
        custom=custom,
        data_driven=data_driven,
        options=options,
        buckets=buckets,
        log=log,
        run_id=run_id,
    )
    frame = frame.localCheckpoint()  # computed once: checked, then written (credit ids are random)
    result.checks = check_credits(spark, frame, journeys, start, end, result.account_models)
    log(f"run {result.run_id}: checks {result.checks}")
    if not result.checks.passed:
        raise CreditsCheckFailed(result.checks)
    write_credits(frame, credits)
    result.credits_written = frame.count()
    result.conversions = _conversions(spark, journeys, result.accounts, start, end)
    return result


def run(
    connect,
    start: datetime,
    end: datetime,
    *,
    data_driven: bool = True,
    partition_key: str | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> RunResult:
    """The attribution asset's run on MBUZZ_WAREHOUSE=spark: the same call and RunResult as
    mbuzz.attribution_runs.run_attribution. The run is recorded in PostgreSQL's
    attribution.attribution_runs (and the accounts' custom models read there); the journeys are
    the Spark target's (MBUZZ_SPARK_JOURNEYS, default <MBUZZ_LAKE>/marts/fct_conversion_journeys),
    the credits are written to MBUZZ_SPARK_CREDITS (default <MBUZZ_LAKE>/attribution_credits),
    which the Spark marts read. The application runs on MBUZZ_SPARK_MASTER (default local[*])."""
    from pyspark.sql import SparkSession

    from mbuzz.errors import MbuzzError
    from mbuzz.settings import get_settings

    settings = get_settings()
    if not settings.lake:
        raise MbuzzError('attribution on Spark reads the lake: set MBUZZ_LAKE (docs/operations.md, "The lake")')
    lake = settings.lake.rstrip("/")
    journeys = settings.spark_journeys or f"{lake}/marts/fct_conversion_journeys"
    credits = settings.spark_credits or f"{lake}/attribution_credits"
    ours = SparkSession.getActiveSession() is None  # a session of the caller's (a test, a notebook) stays
    spark = spark_session(settings.spark_master)
    try:
        with run_lease(connect, log) as lease:
            accounts = sorted(r[0] for r in read_table(spark, journeys).select("account_id").distinct().collect())
            _, custom, config = run_config(lease, accounts, WAREHOUSE_JOURNEYS, data_driven)
            result = begin_run(lease, config, partition_key, start, end)
            with failing_run(lease, result.run_id):
                ran = run_spark_attribution(
                    spark, start, end, journeys=journeys, credits=credits, accounts=f"{lake}/accounts",
                    account_ids=accounts, custom=custom, data_driven=data_driven, log=log, run_id=result.run_id,
                )  # fmt: skip
                config = {"skipped": ran.skipped, "engine": "spark"}
                succeed_run(lease, result.run_id, ran.conversions, ran.credits_written, config)
    finally:
        if ours:
            spark.stop()
    result.conversions, result.credits_written, result.models = ran.conversions, ran.credits_written, ran.models
    result.skipped = {model: reason for reasons in ran.skipped.values() for model, reason in reasons.items()}
    return result


def _conversions(spark: SparkSession, journeys: str, account_ids: Sequence[str], start: datetime, end: datetime) -> int:
    from pyspark.sql import functions as F

    return (
        read_table(spark, journeys)
        .where(F.col("account_id").isin(list(account_ids)))
        .where(F.col("converted") & (F.col("conversion_ts") >= F.lit(start)) & (F.col("conversion_ts") < F.lit(end)))
        .select("account_id", "conversion_id")
        .distinct()
        .count()
    )


# ---------------------------------------------------------------------------- the blocking checks

CHECKS = """
with per_conversion as (
    select account_id, model, conversion_id,
           sum(credit) as credit, sum(revenue_credit) as revenue_credit, min(credit) as min_credit
    from mbuzz_check_credits
    where converted_at >= :start and converted_at < :end
    group by account_id, model, conversion_id
),
revenue as (
    select distinct account_id, conversion_id, cast(revenue as double) as revenue
    from mbuzz_check_journeys where converted
),
invariants as (
    select
        count(*) as conversion_models,
        count(*) filter (where min_credit < 0) as negative,
        count(*) filter (where abs(pc.credit - 1) > :tol) as not_summing_to_1,
        count(*) filter (
            where abs(pc.revenue_credit - coalesce(r.revenue, 0)) > :tol * greatest(1, abs(coalesce(r.revenue, 0)))
        ) as revenue_mismatch
    from per_conversion as pc
    left join revenue as r on pc.account_id = r.account_id and pc.conversion_id = r.conversion_id
),
conversions as (
    select distinct j.account_id, j.conversion_id
    from mbuzz_check_journeys as j
    where j.converted and j.conversion_ts >= :start and j.conversion_ts < :end
),
expected as (
    select c.account_id, c.conversion_id, m.model
    from conversions as c
    inner join mbuzz_check_models as m on c.account_id = m.account_id
),
unattributed as (
    select count(*) as unattributed
    from expected as e
    left anti join (select distinct account_id, conversion_id, model from mbuzz_check_credits) as ac
        on e.account_id = ac.account_id and e.conversion_id = ac.conversion_id and e.model = ac.model
)
select * from invariants cross join unattributed
"""


def check_credits(
    spark: SparkSession,
    credits: DataFrame | str,
    journeys: DataFrame | str,
    start: datetime,
    end: datetime,
    models: Mapping[str, Sequence[str]] | None = None,
) -> CreditChecks:
    """The blocking checks of credits (a DataFrame, a table or a Parquet folder) against the journeys
    they credit, in Spark SQL over the window [start, end): negative credits, (conversion, model)
    credits not summing to 1 or revenue credits not summing to the revenue, and conversions of the
    window not credited by every model expected for their account (`models`: {account: models};
    default: the models the credits hold per account). Only the accounts of `models` (default:
    those in the credits) are checked."""
    from pyspark.sql import functions as F

    credits = read_table(spark, credits) if isinstance(credits, str) else credits
    journeys = read_table(spark, journeys) if isinstance(journeys, str) else journeys
    if models is None:
        in_window = credits.where((F.col("converted_at") >= F.lit(start)) & (F.col("converted_at") < F.lit(end)))
        expected = in_window.select("account_id", "model").distinct()
        account_ids = [r[0] for r in credits.select("account_id").distinct().collect()]
    else:
        pairs = [(a, m) for a, names in models.items() for m in names]
        expected = spark.createDataFrame(pairs, "account_id string, model string")
        account_ids = list(models)
    credits.where(F.col("account_id").isin(account_ids)).createOrReplaceTempView("mbuzz_check_credits")
    journeys.where(F.col("account_id").isin(account_ids)).createOrReplaceTempView("mbuzz_check_journeys")
    expected.createOrReplaceTempView("mbuzz_check_models")
    row = spark.sql(CHECKS, args={"start": start, "end": end, "tol": TOLERANCE}).first()
    return CreditChecks(**{k: int(row[k] or 0) for k in row.asDict()})
