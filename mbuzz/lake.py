"""The lake landing: new raw rows copied from PostgreSQL into Parquet (docs/operations.md, "The lake").

The API keeps landing into PostgreSQL, which keeps its idempotency and commit-before-202
promises; this copies what landed to `MBUZZ_LAKE` — a folder, or an object-store URL
(`s3://bucket/mbuzz`, `gs://…`) through pyarrow's filesystems — where engines such as Spark read
it. Layout (Hive partitions, which Spark, DuckDB and pyarrow discover):

    <lake>/events/account_id=<id>/day=<YYYY-MM-DD>/part-<window>-<chunk>-0.parquet
    <lake>/conversions/account_id=…/day=…/…   (day: converted_at's UTC day)
    <lake>/ad_spend/account_id=…/day=…/…      (day: the spend's day)
    <lake>/fx_rates/account_id=…/day=…/…      (day: the rate's local day)
    <lake>/accounts/part-snapshot.parquet      (every account, rewritten each run)
    <lake>/_mbuzz/state.json                   (the watermarks)

Exactly once, by received_at windows: a run copies the rows received in (committed, until],
where `until` is now minus a margin (a transaction still open at `until` would otherwise commit
rows behind the watermark). The window is written to state.json as *pending* before any file,
and every file name carries the window, so a run killed half-way is redone by the next run: it
deletes that window's files and copies the window again — nothing doubled, nothing lost — before
it goes on. Then the window is *committed*.

Spend and exchange-rate rows are versions: uploading a day again updates the row in PostgreSQL (a
new received_at), and the lake gets the new version beside the old one; readers keep the newest
received_at per key — (account_id, environment, day, channel, utm_source, utm_medium,
utm_campaign) for spend, (account_id, day, currency, quote_currency) for rates.
API keys and dashboard users never leave PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

MARGIN = timedelta(minutes=2)
CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class LakeTable:
    name: str
    # "name:type …"; types: text, json (stored as text), ts, money (decimal 18,4), rate (decimal 24,10), int
    columns: str
    day: str  # the expression of the partition day
    order: str  # a total order of the window's rows (deterministic chunks and file names)

    def select(self) -> str:
        return ", ".join(f"{name}::text as {name}" if kind == "json" else name for name, kind in self.fields())

    def fields(self) -> list[tuple[str, str]]:
        return [tuple(column.split(":")) for column in self.columns.split()]

    def schema(self):
        import pyarrow as pa

        types = {
            "text": pa.string(),
            "json": pa.string(),
            "ts": pa.timestamp("us", tz="UTC"),
            "money": pa.decimal128(18, 4),
            "rate": pa.decimal128(24, 10),
            "int": pa.int64(),
        }
        return pa.schema(
            [("account_id", pa.string()), ("day", pa.string()), *[(name, types[kind]) for name, kind in self.fields()]]
        )


TABLES = (
    LakeTable(
        "events",
        "event_id:text environment:text event_type:text visitor_id:text user_id:text session_id:text "
        "occurred_at:ts received_at:ts sent_at:ts original_timestamp:ts properties:json context:json source:text",
        "(occurred_at at time zone 'UTC')::date",
        "received_at, event_id, occurred_at",
    ),
    LakeTable(
        "conversions",
        "conversion_id:text environment:text conversion_type:text visitor_id:text user_id:text "
        "event_id:text revenue:money currency:text converted_at:ts received_at:ts properties:json",
        "(converted_at at time zone 'UTC')::date",
        "received_at, conversion_id",
    ),
    LakeTable(
        "ad_spend",
        "environment:text channel:text utm_source:text utm_medium:text utm_campaign:text amount:money "
        "currency:text impressions:int clicks:int received_at:ts",
        "day",
        "received_at, day, environment, channel, utm_source, utm_medium, utm_campaign",
    ),
    LakeTable(
        "fx_rates",
        "currency:text quote_currency:text rate:rate received_at:ts",
        "day",
        "received_at, day, currency, quote_currency",
    ),
)
ACCOUNTS = "select id, name, tier, settings::text as settings, created_at from raw.accounts order by id"


class LakeError(RuntimeError):
    """The lake cannot be written (no MBUZZ_LAKE, an unreachable store)."""


@dataclass
class LandingResult:
    copied: dict[str, int] = field(default_factory=dict)  # table → rows copied this run
    windows: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # table → (from, until]
    redone: list[str] = field(default_factory=list)  # tables whose unfinished window was redone
    accounts: int = 0


def _filesystem(lake: str):
    from pyarrow import fs

    try:
        filesystem, root = fs.FileSystem.from_uri(lake)
    except (ValueError, TypeError):  # a plain path
        from pathlib import Path

        filesystem, root = fs.LocalFileSystem(), str(Path(lake).resolve())
    filesystem.create_dir(root, recursive=True)
    return filesystem, root.rstrip("/")


def _read_state(filesystem, root: str) -> dict:
    from pyarrow import fs

    path = f"{root}/_mbuzz/state.json"
    if filesystem.get_file_info(path).type == fs.FileType.NotFound:
        return {}
    with filesystem.open_input_stream(path) as stream:
        return json.loads(stream.read().decode())


def _write_state(filesystem, root: str, state: dict) -> None:
    filesystem.create_dir(f"{root}/_mbuzz", recursive=True)
    tmp = f"{root}/_mbuzz/state.json.tmp"
    with filesystem.open_output_stream(tmp) as stream:
        stream.write(json.dumps(state, indent=2, sort_keys=True).encode())
    filesystem.move(tmp, f"{root}/_mbuzz/state.json")  # a rename on local disks, a put on object stores


def _copy_window(conn, filesystem, root: str, table: LakeTable, lo: str | None, hi: str, on_progress) -> int:
    import pyarrow as pa
    import pyarrow.dataset as ds

    window = _window_name(hi)
    query = (
        f"select account_id, {table.day}::text as day, {table.select()} from raw.{table.name} "
        f"where received_at > %(lo)s and received_at <= %(hi)s order by {table.order}"
    )
    schema = table.schema()
    partitioning = ds.partitioning(pa.schema([schema.field("account_id"), schema.field("day")]), flavor="hive")
    rows = 0
    with conn.transaction(), conn.cursor(name=f"lake_{table.name}") as cursor:
        cursor.itersize = CHUNK_ROWS
        cursor.execute(query, {"lo": lo or "-infinity", "hi": hi})
        chunk = 0
        while batch := cursor.fetchmany(CHUNK_ROWS):
            columns = zip(*batch)  # column by column: no dict per row
            data = pa.Table.from_arrays(
                [pa.array(values, type=f.type) for values, f in zip(columns, schema)], schema=schema
            )
            ds.write_dataset(
                data,
                f"{root}/{table.name}",
                filesystem=filesystem,
                format="parquet",
                partitioning=partitioning,
                basename_template=f"part-{window}-{chunk:04d}-{{i}}.parquet",
                existing_data_behavior="overwrite_or_ignore",
            )
            rows += len(batch)
            chunk += 1
            on_progress(f"{table.name}: {rows:,} rows written")
    return rows


def _window_name(hi: str) -> str:
    return datetime.fromisoformat(hi).strftime("%Y%m%dT%H%M%S%f")


def _drop_window(filesystem, folder: str, hi: str) -> None:
    """Delete the files an unfinished run wrote for the window ending at `hi` (any chunk size)."""
    from pyarrow import fs

    prefix = f"part-{_window_name(hi)}-"
    for info in filesystem.get_file_info(fs.FileSelector(folder, recursive=True, allow_not_found=True)):
        if info.type == fs.FileType.File and info.base_name.startswith(prefix):
            filesystem.delete_file(info.path)


def land(
    conn, lake: str, until: datetime | None = None, margin: timedelta = MARGIN, on_progress=lambda message: None
) -> LandingResult:
    """Copy the raw rows received since the last run (up to `until`, default now − margin) to `lake`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    filesystem, root = _filesystem(lake)
    state = _read_state(filesystem, root)
    result = LandingResult()
    if until is None:
        until = conn.execute("select now()").fetchone()[0] - margin
    hi = until.astimezone(timezone.utc).isoformat()
    for table in TABLES:
        mark = state.setdefault(table.name, {"committed": None, "pending": None})

        def copy(window: str, table=table, mark=mark) -> int:
            mark["pending"] = window  # before any file: a run killed from here on is redone as it was
            _write_state(filesystem, root, state)
            on_progress(f"{table.name}: rows received in ({mark['committed'] or 'the start'}, {window}]")
            rows = _copy_window(conn, filesystem, root, table, mark["committed"], window, on_progress)
            result.windows[table.name] = (mark["committed"], window)
            mark["committed"], mark["pending"] = window, None
            _write_state(filesystem, root, state)
            return rows

        copied = 0
        if mark["pending"]:  # an earlier run stopped inside this window: drop its files, redo it
            result.redone.append(table.name)
            _drop_window(filesystem, f"{root}/{table.name}", mark["pending"])
            copied += copy(mark["pending"])
        if mark["committed"] is None or datetime.fromisoformat(mark["committed"]) < until:
            copied += copy(hi)
        result.copied[table.name] = copied
    accounts = conn.execute(ACCOUNTS)
    columns = [column.name for column in accounts.description]
    rows = [dict(zip(columns, row)) for row in accounts.fetchall()]
    filesystem.create_dir(f"{root}/accounts", recursive=True)
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("name", pa.string()),
            ("tier", pa.string()),
            ("settings", pa.string()),
            ("created_at", pa.timestamp("us", tz="UTC")),
        ]
    )
    with filesystem.open_output_stream(f"{root}/accounts/part-snapshot.parquet") as stream:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), stream)
    result.accounts = len(rows)
    return result
