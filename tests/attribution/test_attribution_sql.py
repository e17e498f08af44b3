"""The SQL compilation of rule models gives the Python engine's credits (real PostgreSQL).

A small marts.fct_conversion_journeys is created inside a transaction that is
rolled back at the end (the schema may also be dbt's in this database), filled
from hypothesis journeys, the spec's reference journey and seeded synthetic
journeys, and every preset plus the Channel Weighted program and programs that
exercise filtered selectors, milestones, weights, time decay and lookback are
run both ways.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attribution import JourneyOptions, attribute, list_presets, load_model
from attribution.sql import compile_sql
from attribution.synthetic import synthetic_touches
from dsl import compile_source
from mbuzz.sessions import JOURNEY_COLUMNS
from tests.attribution.test_reference_vectors import REFERENCE, VECTORS

ACCOUNT = "acct_sql_test"
CONVERSION = pd.Timestamp("2024-03-01T12:00:00Z")
OPTIONS = JourneyOptions(conversion_cycles=False)  # what the pipeline runs
COLUMNS = ("account_id", "environment", *(c for c in JOURNEY_COLUMNS if c != "identity_key"))

PROGRAMS = """
model "Channel Weighted"
  weight channel("paid_search") by 1.5
  weight channel("email") by 1.2
  distribute proportionally
end

model "Filtered positions"
  credit first_touch where channel in ("email", "social") with 30%
  credit last_touch where channel not in ("direct") with 0.3
  credit middle_touches where channel not in ("email") with 0.2 proportionally
  credit milestone_touch("sql") where channel in ("paid_search", "email") with 0.1
  credit other_touches with 0.1 by time_decay(half_life 3 days)
  weight channel("paid_search") by 1.5
  weight channel("social") by 0.5
end

model "Short window"
  lookback 7 days
  credit touches where channel in ("email", "display") with 0.5 by time_decay(half_life 2 days)
  credit middle_touches with 0.5
end

model "Milestones"
  credit milestone_touch("mql") with 0.6
  credit other_touches with 0.4 proportionally
  weight channel("social") by 3
end
"""


def models() -> dict[str, dict]:
    out = {name: load_model(name) for name in list_presets()}
    out.update({m["name"]: m for m in compile_source(PROGRAMS)})
    return out


MODELS = models()


@pytest.fixture(scope="module")
def db(database_url):
    """An autocommit connection inside one transaction that creates the table and is rolled back."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        with conn.transaction(force_rollback=True):
            conn.execute("create schema if not exists marts")
            conn.execute("drop table if exists marts.fct_conversion_journeys cascade")
            conn.execute("""
                create table marts.fct_conversion_journeys (
                    account_id text, environment text, journey_id text, conversion_id text,
                    converted boolean, conversion_ts timestamptz, conversion_type text,
                    revenue numeric(18, 4), touch_index integer, touch_ts timestamptz, session_id text,
                    channel text, utm_source text, utm_medium text, utm_campaign text, milestones text)""")
            yield conn


def mart_rows(frame: pd.DataFrame) -> list[tuple]:
    """The engine's input frame → rows of the mart (the mart's own touch_index is not used)."""
    rows = []
    for r in frame.itertuples(index=False):
        touch = isinstance(r.channel, str) and r.channel.strip() != "" and pd.notna(r.touch_ts)
        rows.append(
            (
                ACCOUNT,
                "test",
                r.journey_id,
                r.journey_id if r.converted else None,
                bool(r.converted),
                r.conversion_ts if pd.notna(r.conversion_ts) else None,
                "purchase",
                None if pd.isna(r.revenue) else float(r.revenue),
                None,
                r.touch_ts if touch else None,
                r.session_id if touch else None,
                r.channel if touch else None,
                None,
                None,
                None,
                r.milestones,
            )
        )
    return rows


def compare(conn, frame: pd.DataFrame, names=None) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            f"insert into marts.fct_conversion_journeys ({', '.join(COLUMNS)}) values "
            f"({', '.join(['%s'] * len(COLUMNS))})",
            mart_rows(frame),
        )
    for name in names or MODELS:
        model = MODELS[name]
        text, params = compile_sql(model)
        got = pd.DataFrame(
            conn.execute(text, {**params, "account_id": ACCOUNT}).fetchall(),
            columns=["journey_id", "touch_index", "channel", "credit", "revenue_credit"],
        )
        want = attribute(frame, model, OPTIONS)
        key = ["journey_id", "touch_index"]
        got = got.astype({"journey_id": str}).sort_values(key).reset_index(drop=True)
        want = (
            want[["journey_id", "touch_index", "channel", "credit", "revenue_credit"]]
            .astype({"journey_id": str})
            .sort_values(key)
            .reset_index(drop=True)
        )
        assert len(got) == len(want), name
        assert got["journey_id"].tolist() == want["journey_id"].tolist(), name
        assert got["touch_index"].tolist() == want["touch_index"].tolist(), name
        assert got["channel"].tolist() == want["channel"].tolist(), name
        np.testing.assert_allclose(got["credit"].astype(float), want["credit"], rtol=0, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(
            got["revenue_credit"].astype(float), want["revenue_credit"], rtol=1e-9, atol=1e-9, err_msg=name
        )


CHANNELS = ["direct", "paid_search", "email", "social", "display", " email "]
MILESTONES = ["", "", "", "mql", "sql", "mql;sql", " mql ; sql "]

touch_strategy = st.tuples(
    st.sampled_from(CHANNELS),
    st.integers(-2, 45 * 4),  # age in quarter days
    st.sampled_from(MILESTONES),
)
journey_strategy = st.tuples(
    st.lists(touch_strategy, min_size=0, max_size=7), st.booleans(), st.one_of(st.none(), st.integers(0, 100_000))
)


def table(journeys) -> pd.DataFrame:
    rows, session = [], 0
    for k, (touches, converted, cents) in enumerate(journeys):
        conv_ts = CONVERSION if converted else pd.NaT
        revenue = cents / 100 if (converted and cents is not None) else np.nan
        if not touches:
            touches = [("", None, "")]
        for channel, quarter_days, milestones in touches:
            session += 1
            rows.append(
                {
                    "journey_id": f"j{k:03d}",
                    "touch_ts": CONVERSION - pd.Timedelta(hours=6 * quarter_days)
                    if quarter_days is not None
                    else pd.NaT,
                    "channel": channel,
                    "converted": int(converted),
                    "conversion_ts": conv_ts,
                    "revenue": revenue,
                    "milestones": milestones,
                    # text ids of mixed length: ties in touch_ts are broken by byte order
                    "session_id": f"s{(session * 7919) % 1000}_{session}",
                }
            )
    return pd.DataFrame(rows)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journeys=st.lists(journey_strategy, min_size=1, max_size=12))
def test_sql_matches_the_engine_on_random_journeys(db, journeys):
    with db.transaction(force_rollback=True):
        compare(db, table(journeys))


def test_sql_matches_the_engine_on_synthetic_journeys(db):
    frame = synthetic_touches(400, seed=4, mean_length=4)
    frame["journey_id"] = "s" + frame["journey_id"].astype(str)
    frame["session_id"] = "x" + frame["session_id"].astype(str)
    frame = frame.drop(columns=[])
    with db.transaction(force_rollback=True):
        compare(db, frame)


def test_sql_reproduces_the_reference_vectors(db):
    frame = REFERENCE.copy()
    frame["session_id"] = [f"r{i}" for i in range(len(frame))]
    with db.transaction(force_rollback=True):
        compare(db, frame, list_presets())
        for name, expected in VECTORS.items():
            text, params = compile_sql(load_model(name))
            got = [float(r[3]) for r in db.execute(text + " order by 2", {**params, "account_id": ACCOUNT})]
            np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=name)


def test_sql_window_and_unassigned(db):
    frame = table(
        [([("email", 4, ""), ("direct", 1, "")], True, 1000), ([], True, 500), ([("social", 200, "")], True, None)]
    )  # j002: its only touch is outside 30 days
    with db.transaction(force_rollback=True):
        compare(db, frame, ["linear"])
        text, params = compile_sql(load_model("linear"), window=True)
        rows = db.execute(
            text + " order by 1, 2",
            {**params, "account_id": ACCOUNT, "start": CONVERSION, "end": CONVERSION + pd.Timedelta(1, "s")},
        )
        assert [(r[0], r[2], float(r[3])) for r in rows] == [
            ("j000", "email", 0.5),
            ("j000", "direct", 0.5),
            ("j001", "unassigned", 1.0),
            ("j002", "unassigned", 1.0),
        ]
        empty = db.execute(
            text,
            {
                **params,
                "account_id": ACCOUNT,
                "start": CONVERSION + pd.Timedelta(1, "s"),
                "end": CONVERSION + pd.Timedelta(2, "s"),
            },
        ).fetchall()
        assert empty == []


HOSTILE = """
model "Hostile"
  credit first_touch where channel in ("x'); drop table marts.fct_conversion_journeys; --") with 0.5
  credit milestone_touch("%(account_id)s') or true --") with 0.25
  credit other_touches with 0.25
end
"""


def test_dsl_text_never_reaches_the_sql_text(db):
    model = compile_source(HOSTILE)[0]
    text, params = compile_sql(model)
    assert "drop table" not in text and "or true" not in text
    # only the module's placeholders: named after the rule index, never after DSL text
    assert set(re.findall(r"%\((\w+)\)s", text)) <= set(params) | {"account_id"}
    frame = table([([("direct", 3, ""), ("email", 1, "mql")], True, 100)])
    with db.transaction(force_rollback=True):
        compare(db, frame, [])
        rows = db.execute(text, {**params, "account_id": ACCOUNT}).fetchall()
        assert sum(float(r[3]) for r in rows) == pytest.approx(1.0)
        assert db.execute("select count(*) from marts.fct_conversion_journeys").fetchone()[0] == 2


def test_attribution_and_dsl_do_not_import_a_driver():
    root = Path(__file__).resolve().parents[2]
    for package in ("attribution", "dsl"):
        for path in (root / package).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                    assert not any(n.split(".")[0] in ("psycopg", "psycopg2", "sqlalchemy") for n in names), path


def test_data_driven_models_do_not_compile():
    from attribution.sql import SqlCompileError

    with pytest.raises(SqlCompileError):
        compile_sql(load_model("markov"))
