"""`mbuzz attribute` with a rule model runs on Arrow and numpy only (prepare_table +
run_rule_table, no pandas): the credits file it writes must be byte for byte what the
pandas path writes (attribute() on read_touchpoints' frame, written by write_credits),
whatever the input's shape, and the command must not import pandas at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from attribution import JourneyOptions, attribute
from attribution import io as aio
from attribution.synthetic import synthetic_touches
from mbuzz.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def shuffled_touches(seed: int):
    """Synthetic journeys made awkward: rows out of order, text ids that are not
    increasing, equal timestamps within a journey (session_id breaks the tie), blank and
    padded channels, a converting journey without any touch, and visitors with several
    conversions (conversion cycles)."""
    rng = np.random.default_rng(seed)
    df = synthetic_touches(300, seed=seed)
    df["journey_id"] = "j" + (df["journey_id"] * 7919 % 1000).astype(str)
    df["visitor_id"] = "v" + (df["journey_id"].str[1:].astype(int) % 40).astype(str)
    df.loc[df.index[5:9], "touch_ts"] = df.loc[df.index[5], "touch_ts"]  # ties
    df["channel"] = df["channel"].astype(object)
    df.loc[df.index[10], "channel"] = " email "
    df.loc[df.index[11], "channel"] = ""
    df.loc[df.index[12], "channel"] = None
    lonely = df.iloc[[0]].assign(journey_id="lonely", channel=None, converted=1, visitor_id="v-lonely")
    return pd.concat([df.iloc[rng.permutation(len(df))], lonely], ignore_index=True)


MODELS = ["u_shaped", "w_shaped", "time_decay", "last_non_direct", "linear"]
OPTIONS = [  # (CLI arguments, the same as JourneyOptions)
    ([], JourneyOptions()),
    (["--transform", "exposure", "--max-touches", "3"], JourneyOptions(transform="exposure", max_touches=3)),
    (
        ["--transform", "first", "--no-cycles", "--lookback", "10"],
        JourneyOptions(transform="first", conversion_cycles=False, lookback_days=10),
    ),
    (
        ["--transform", "remove_if_last_and_not_all(direct)"],
        JourneyOptions(transform="remove_if_last_and_not_all(direct)"),
    ),
]


@pytest.mark.parametrize("src_fmt,out_fmt", [("csv", "csv"), ("parquet", "parquet"), ("csv", "parquet")])
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("options", range(len(OPTIONS)))
def test_arrow_path_writes_what_the_pandas_path_writes(tmp_path, src_fmt, out_fmt, model, options):
    touches = shuffled_touches(seed=options)
    src = tmp_path / f"tp.{src_fmt}"
    if src_fmt == "csv":
        touches.to_csv(src, index=False)
    else:
        pq.write_table(pa.Table.from_pandas(touches, preserve_index=False), src)
    args, journey_options = OPTIONS[options]
    out = tmp_path / f"arrow.{out_fmt}"
    result = CliRunner().invoke(
        cli, ["attribute", "--model", model, "--touchpoints", str(src), "--out", str(out), *args]
    )
    assert result.exit_code == 0, result.output

    reference = tmp_path / f"pandas.{out_fmt}"
    aio.write_credits(attribute(aio.read_touchpoints(src), model, journey_options), reference)
    if out_fmt == "csv":
        assert out.read_bytes() == reference.read_bytes()
    else:
        got, want = pq.read_table(out), pq.read_table(reference)
        assert got.schema.equals(want.schema, check_metadata=True)
        assert got.equals(want)
    assert f"conversions written to {out}" in result.output


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_attribute_with_a_rule_model_does_not_import_pandas(tmp_path, fmt):
    src, out = tmp_path / f"tp.{fmt}", tmp_path / f"out.{fmt}"
    touches = synthetic_touches(200, seed=1)
    touches.to_csv(src, index=False) if fmt == "csv" else touches.to_parquet(src, index=False)
    code = (
        "import sys; from mbuzz.cli import main; sys.argv = ['mbuzz', 'attribute', '--model', 'u_shaped', "
        f"'--touchpoints', {str(src)!r}, '--out', {str(out)!r}]\n"
        "try:\n    main()\nfinally:\n    print('PANDAS' if 'pandas' in sys.modules else 'NO PANDAS')"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=os.environ)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "NO PANDAS"
    assert out.stat().st_size > 0


@pytest.mark.parametrize("ids", ["increasing", "shuffled"])
def test_converting_only_is_the_converting_journeys_of_the_whole_table(tmp_path, ids):
    """prepare_table(converting_only=True), what the command runs, drops the rows of journeys
    that do not convert before anything else: it must be exactly `.converting` of the whole
    table, on a table of several chunks (as a CSV file of several blocks reads) with
    nulls in the conversion times and channels."""
    from attribution import prepare_table

    touches = synthetic_touches(400, seed=3) if ids == "increasing" else shuffled_touches(seed=3)
    touches["channel"] = touches["channel"].astype(object)
    converting = touches.index[touches["converted"] == 1]
    touches.loc[converting[[3, 20, 41]], "channel"] = None  # nulls amid the kept rows
    touches.loc[converting[[5, 33]], "touch_ts"] = pd.NaT
    src = tmp_path / "tp.parquet"
    pq.write_table(pa.Table.from_pandas(touches, preserve_index=False), src)
    read = aio.read_touch_table(src)
    table = pa.concat_tables([read.slice(0, 97), read.slice(97, 300), read.slice(397)])  # chunks with offsets
    assert table.column("touch_ts").num_chunks == 3
    options = JourneyOptions() if ids == "increasing" else JourneyOptions(visitor_column="visitor_id")
    whole = prepare_table(table, options).converting
    cut = prepare_table(table, options, converting_only=True)
    assert cut.n_journeys == whole.n_journeys < prepare_table(table, options).n_journeys
    for name in ("converted", "revenue", "end_ns", "last_row", "jid", "channel", "age_days", "touch_index", "row"):
        np.testing.assert_array_equal(getattr(cut, name), getattr(whole, name), err_msg=name)
    assert cut.id_index.equals(whole.id_index)
    assert [set(cut.milestone_values[c]) for c in cut.milestone_code] == [
        set(whole.milestone_values[c]) for c in whole.milestone_code
    ]


def test_take_numpy_reads_the_rows_asked_for_across_chunks_offsets_and_nulls():
    from attribution.arrowutil import take_numpy, to_numpy

    whole = pa.chunked_array(
        [pa.array([1, None, 3, 4], pa.int64()).slice(1), pa.array([5, 6, None], pa.int64()), pa.array([], pa.int64())]
    )
    flags = pa.chunked_array([pa.array([True, None, False, True]).slice(1), pa.array([True, False])])
    for col, fill in ((whole, -7), (flags, False), (whole.dictionary_encode(), -1)):
        expected = to_numpy(col.combine_chunks().indices if pa.types.is_dictionary(col.type) else col, fill=fill)
        for rows in (np.arange(len(col)), np.array([0, 2, 4]), np.array([], dtype=np.int64)):
            np.testing.assert_array_equal(take_numpy(col, rows, fill), expected[rows])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_read_touch_table_leaves_out_the_optional_columns_asked_for(tmp_path, fmt):
    """A model without a milestone rule has the command skip the milestones column (w_shaped,
    which has one, is compared with the pandas path above)."""
    from attribution.engine import uses_milestones
    from attribution.models import load_model

    src = tmp_path / f"tp.{fmt}"
    touches = synthetic_touches(50, seed=2)
    touches.to_csv(src, index=False) if fmt == "csv" else touches.to_parquet(src, index=False)
    whole, lean = aio.read_touch_table(src), aio.read_touch_table(src, skip=("milestones",))
    assert lean.column_names == [c for c in whole.column_names if c != "milestones"]
    assert lean.equals(whole.drop_columns(["milestones"]))
    with pytest.raises(ValueError, match="only the optional columns"):
        aio.read_touch_table(src, skip=("revenue",))
    assert uses_milestones(load_model("w_shaped")) and not uses_milestones(load_model("u_shaped"))
