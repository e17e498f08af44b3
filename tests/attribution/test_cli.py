"""`mbuzz attribute` and `mbuzz dsl check` through click's CliRunner on small CSVs."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from attribution.synthetic import synthetic_touches
from mbuzz.cli.attribute import attribute
from mbuzz.cli.dsl import dsl
from tests.attribution.test_reference_vectors import REFERENCE, VECTORS


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def reference_csv(tmp_path):
    path = tmp_path / "touchpoints.csv"
    frame = REFERENCE.copy()
    frame["touch_ts"] = frame["touch_ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame["conversion_ts"] = frame["conversion_ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.assign(session_id=[f"s{i}" for i in range(5)]).iloc[::-1].to_csv(path, index=False)
    return path


@pytest.mark.parametrize("model", sorted(VECTORS))
def test_attribute_presets_from_csv(runner, reference_csv, tmp_path, model):
    out = tmp_path / "credits.csv"
    result = runner.invoke(attribute, ["--model", model, "--touchpoints", str(reference_csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    credits = pd.read_csv(out).sort_values("touch_index")
    assert list(credits.columns[:5]) == ["journey_id", "touch_index", "channel", "credit", "revenue_credit"]
    assert credits["credit"].tolist() == pytest.approx(VECTORS[model], abs=1e-6)
    assert credits["session_id"].tolist() == [f"s{i}" for i in range(5)]


def test_attribute_with_dsl_file_and_summary(runner, reference_csv, tmp_path):
    program = tmp_path / "weighted.dsl"
    program.write_text('model "W"\n  weight channel("email") by 2\n  distribute proportionally\nend\n')
    out = tmp_path / "credits.csv"
    result = runner.invoke(
        attribute, ["--model", str(program), "--touchpoints", str(reference_csv), "--out", str(out), "--summary"]
    )
    assert result.exit_code == 0, result.output
    assert "Channel summary" in result.output and "email" in result.output
    credits = pd.read_csv(out).sort_values("touch_index")
    assert credits["credit"].tolist() == pytest.approx([1 / 7, 2 / 7, 1 / 7, 2 / 7, 1 / 7])


def test_attribute_markov_with_bootstrap(runner, tmp_path):
    path = tmp_path / "tp.csv"
    synthetic_touches(300, seed=1).to_csv(path, index=False)
    out = tmp_path / "credits.csv"
    result = runner.invoke(
        attribute,
        [
            "--model",
            "markov",
            "--touchpoints",
            str(path),
            "--out",
            str(out),
            "--ci",
            "0.9",
            "--bootstrap",
            "5",
            "--summary",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "removal_effect" in result.output and "90% CI low" in result.output


def test_attribute_options(runner, reference_csv, tmp_path):
    out = tmp_path / "credits.csv"
    result = runner.invoke(
        attribute,
        [
            "--model",
            "first_touch",
            "--touchpoints",
            str(reference_csv),
            "--out",
            str(out),
            "--lookback",
            "10",
            "--max-touches",
            "2",
            "--transform",
            "remove_if_not_all(direct)",
        ],
    )
    assert result.exit_code == 0, result.output
    credits = pd.read_csv(out).sort_values("touch_index")
    # ages 20 and 14 fall outside 10 days; direct is removed; first of the rest wins
    assert credits[["touch_index", "channel", "credit"]].values.tolist() == [[2, "paid_search", 1.0], [3, "email", 0.0]]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--model", "markov"], "needs at least 100 paths"),
        (["--model", "linear", "--transform", "shuffle"], "unknown path transform"),
    ],
)
def test_attribute_errors(runner, reference_csv, tmp_path, args, message):
    result = runner.invoke(attribute, args + ["--touchpoints", str(reference_csv), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 1
    assert message in result.output


def test_dsl_check_ok_and_errors(runner, tmp_path):
    good = tmp_path / "good.dsl"
    good.write_text('model "g" credit first_touch with 1.0 end\n')
    bad = tmp_path / "bad.dsl"
    bad.write_text('model "b"\n  credit first_touch with 0.5\n  credit last_touch with 0.4\nend\n')
    result = runner.invoke(dsl, ["check", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"OK {good}" in result.output
    assert f"{bad}:1:1: error: credits sum to 0.9; they must sum to 1.0" in result.output
    assert 'model "b"\n    ^' in result.output
    assert runner.invoke(dsl, ["check", str(good)]).exit_code == 0


def test_dsl_check_syntax_error_has_caret(runner, tmp_path):
    bad = tmp_path / "bad.dsl"
    bad.write_text('model "b"\n  credit first_touch 1.0\nend\n')
    result = runner.invoke(dsl, ["check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2:22: error: a credit rule needs `with`" in result.output
    assert "      credit first_touch 1.0\n                         ^" in result.output


def test_dsl_check_known_channels_warn(runner, tmp_path):
    f = tmp_path / "w.dsl"
    f.write_text('model "w" credit touches where channel in ("tv") with 1.0 end\n')
    result = runner.invoke(dsl, ["check", "--channels", "email,direct", str(f)])
    assert result.exit_code == 0
    assert 'warning: unknown channel "tv"' in result.output and f"OK {f}" in result.output
