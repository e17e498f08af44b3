"""Accuracy against a known truth: every mbuzz model, ChannelAttribution and MAM on the same journeys.

    .venv/bin/python benchmarks/accuracy.py [--seeds 0,1,2] [--journeys 20000] [--shapes all]
    .venv/bin/python benchmarks/accuracy.py --quick          # one seed, small, seconds

The simulator (`simulate`) is a competing-hazards model with an additive conversion intensity:
a journey with touch sequence s converts with probability 1 − exp(−λ(s)), where

    λ(s) = base + Σ_{c ∈ set(s)} β_c                       (per-channel effects)
                + Σ_{a,b ∈ set(s)} γ_ab                     (pairwise synergies)
                + Σ_{a before b in s} δ_ab                  (order effects: δ_ab ≠ δ_ba)

Channel frequencies (how often a channel appears) are drawn independently of the effects, so
the most frequent channel is not the most valuable. With additive hazards each term is its
own "cause" of conversion and a term's expected conversions are exactly
(term / λ) · (1 − exp(−λ)) (competing risks). A synergy or order term is shared equally by its
two channels (its Shapley split), the base is nobody's. So each channel's true contribution is

    truth_c = Σ_journeys (1 − exp(−λ_j)) · λ_jc / λ_j,   λ_jc = β_c + ½ Σ γ_c· + ½ Σ δ involving c

computed from the simulated journeys' own λ (the expectation given the paths: no sampling noise
in the truth). Models are scored on normalised shares over the channels: MAE of the shares vs
the truth's, Spearman rank correlation, top-3 overlap (shared channels of the top 3, /3).

Shapes: `additive` (β only), `synergy` (+ γ), `order` (+ δ, strong), `long` (order effects with
longer journeys, up to 12 touches). Peers: ChannelAttribution (heuristic_models, markov_model
order 1) and MAM (first/last/linear/position/time decay, markov, shapley with its default
max size), fed as in benchmarks/attribution.py. A peer that fails or is not installed is
reported and skipped.

A second score, for mbuzz's models (the peers give channel totals only): jTV, the mean over
converting journeys of the total-variation distance between the journey's credits and its true
shares (λ_jc / Σ_c λ_jc). Channel totals cannot reward order-awareness (the truth splits an
order term equally between its two channels, as set Shapley does on average); a journey's own
credit can: in `b > a` the order term δ_ab did not happen. `--extra markov:2,markov:3` adds models.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attribution import load_model, prepare, run_model  # noqa: E402
from attribution.errors import InsufficientDataError  # noqa: E402
from attribution.models import DATA_DRIVEN, list_presets  # noqa: E402
from benchmarks.peers import ca_heuristics, ca_markov, path_table  # noqa: E402

START = pd.Timestamp("2026-01-01", tz="UTC")
SHAPES = ("additive", "synergy", "order", "long")


def effects(shape: str, n_channels: int, rng: np.random.Generator):
    """(frequency, β, γ, δ) of a shape; frequencies independent of the effects."""
    freq = rng.dirichlet(np.full(n_channels, 1.5))
    beta = rng.gamma(1.0, 0.03, n_channels)
    gamma = np.zeros((n_channels, n_channels))
    delta = np.zeros((n_channels, n_channels))
    if shape in ("synergy", "order", "long") and n_channels > 1:
        pairs = rng.choice(n_channels * n_channels, size=n_channels, replace=False)
        for p in pairs:
            a, b = divmod(int(p), n_channels)
            if a != b:
                gamma[min(a, b), max(a, b)] = rng.gamma(1.0, 0.05)
    if shape in ("order", "long") and n_channels > 1:
        for _ in range(n_channels):
            a, b = rng.choice(n_channels, 2, replace=False)
            delta[a, b] = rng.gamma(2.0, 0.06)  # a before b helps; b before a does nothing
    return freq, beta, gamma, delta


def simulate(n_journeys: int, n_channels: int, shape: str, seed: int, per_journey: bool = False):
    """(touches frame, truth per channel name[, per converting journey the true channel shares])."""
    rng = np.random.default_rng(seed)
    freq, beta, gamma, delta = effects(shape, n_channels, rng)
    base = 0.01
    max_len = 12 if shape == "long" else 6
    mean = 4.0 if shape == "long" else 2.2
    lengths = np.minimum(1 + rng.poisson(mean - 1, n_journeys), max_len)
    jid = np.repeat(np.arange(n_journeys), lengths)
    ch = rng.choice(n_channels, len(jid), p=freq)
    starts = np.r_[0, np.cumsum(lengths)]
    # presence (J, C) and first position of each channel (J, C): order effects use first exposure
    present = np.zeros((n_journeys, n_channels), dtype=bool)
    present[jid, ch] = True
    pos = np.arange(len(jid)) - starts[jid]
    first = np.full((n_journeys, n_channels), np.iinfo(np.int64).max)
    np.minimum.at(first, (jid, ch), pos)
    per_channel = present * beta  # (J, C) each channel's own share of λ
    for a, b in zip(*np.nonzero(gamma)):
        on = present[:, a] & present[:, b]
        per_channel[on, a] += gamma[a, b] / 2
        per_channel[on, b] += gamma[a, b] / 2
    for a, b in zip(*np.nonzero(delta)):
        on = present[:, a] & present[:, b] & (first[:, a] < first[:, b])
        per_channel[on, a] += delta[a, b] / 2
        per_channel[on, b] += delta[a, b] / 2
    lam = base + per_channel.sum(axis=1)
    p = 1 - np.exp(-lam)
    converted = rng.random(n_journeys) < p
    names = np.array([f"ch{c:02d}" for c in range(n_channels)], dtype=object)
    truth = pd.Series((p[:, None] * per_channel / lam[:, None]).sum(axis=0), index=names)
    end = START + pd.to_timedelta(rng.random(n_journeys) * 60, unit="D")
    age = pd.to_timedelta((lengths[jid] - pos) * 1.5, unit="D")
    touches = pd.DataFrame(
        {
            "journey_id": jid,
            "touch_ts": end[jid] - age,
            "channel": names[ch],
            "converted": converted[jid].astype(int),
            "conversion_ts": pd.Series(end[jid]).where(converted[jid]).to_numpy(),
            "revenue": np.where(converted[jid], 100.0, np.nan),
        }
    )
    if not per_journey:
        return touches, truth
    # per converting journey, each channel's true share of the channels' part of λ (the base is nobody's)
    share = per_channel[converted] / np.maximum(per_channel[converted].sum(axis=1, keepdims=True), 1e-300)
    return touches, truth, pd.DataFrame(share, index=np.flatnonzero(converted), columns=names)


def scores(shares: pd.Series, truth: pd.Series) -> tuple[float, float, float]:
    """(MAE of normalised shares, Spearman ρ, top-3 overlap) of a model's channel totals."""
    truth = truth / truth.sum()
    shares = shares.reindex(truth.index).fillna(0.0).clip(lower=0)
    shares = shares / shares.sum() if shares.sum() > 0 else shares
    mae = float((shares - truth).abs().mean())
    rho = float(spearmanr(shares, truth).statistic) if len(truth) > 1 and shares.nunique() > 1 else float("nan")
    k = min(3, len(truth))
    top = len(set(shares.nlargest(k).index) & set(truth.nlargest(k).index)) / k
    return mae, rho, top


def journey_error(credits: pd.DataFrame, want: pd.DataFrame) -> float:
    """Mean over converting journeys of ½ Σ_c |credit share − true share| (total variation, 0..1);
    `want` is simulate(..., per_journey=True)'s third item."""
    got = credits.pivot_table(index="journey_id", columns="channel", values="credit", aggfunc="sum")
    columns = want.columns.union(got.columns)  # credit on a channel the truth does not know counts too
    got = got.reindex(index=want.index, columns=columns).fillna(0.0)
    return float(0.5 * (got - want.reindex(columns=columns, fill_value=0.0)).abs().sum(axis=1).mean())


def mbuzz_models(
    touches: pd.DataFrame, extra: tuple[str, ...] = (), credits_out: dict | None = None
) -> dict[str, pd.Series]:
    """Channel totals of every mbuzz model ({"mbuzz name": totals}); `credits_out` receives the credits."""
    jr = prepare(touches)
    out = {}
    for name in [*list_presets(), *DATA_DRIVEN, *extra]:
        try:
            credits = run_model(jr, load_model(name))
        except InsufficientDataError as exc:
            print(f"  mbuzz {name} skipped: {exc}", flush=True)
            continue
        out[f"mbuzz {name}"] = credits.groupby("channel")["credit"].sum()
        if credits_out is not None:
            credits_out[f"mbuzz {name}"] = credits
    return out


def peer_models(touches: pd.DataFrame, skip: set[str]) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    agg = path_table(touches)
    if "ca" not in skip:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                import ChannelAttribution as CA

                h = ca_heuristics(CA, agg)
                mk = ca_markov(CA, agg)
        except Exception as exc:  # noqa: BLE001 - report and go on
            print(f"  ChannelAttribution skipped: {exc!r}", flush=True)
        else:
            h = h.set_index("channel_name")
            for col in ("first_touch", "last_touch", "linear_touch"):
                out[f"CA {col}"] = h[col]
            out["CA markov"] = mk["removal_effects"].set_index("channel_name").iloc[:, 0]
    if "mam" not in skip:
        try:
            from mam import MAM

            sess = touches[["journey_id", "touch_ts", "channel", "converted"]].copy()
            last = sess.groupby("journey_id").cumcount(ascending=False) == 0
            sess["has_conv"] = sess["converted"].astype(bool) & last
            sess["touch_ts"] = sess["touch_ts"].dt.tz_localize(None)
            sess = sess.drop(columns="converted")
            with contextlib.redirect_stdout(io.StringIO()):
                mam = MAM(
                    sess,
                    format_type="session",
                    channels_colname="channel",
                    journey_with_conv_colname="has_conv",
                    datetime_colname="touch_ts",
                    user_id_colname="journey_id",
                    create_journey_id_based_on_conversion=True,
                )
                for fn in (
                    "run_last_click",
                    "run_linear",
                    "run_position_based",
                    "run_time_decay",
                    "run_markov",
                    "run_shapley",
                ):
                    res = getattr(mam, fn)().to_pandas().set_index("channels")["attribution"]
                    out[f"MAM {fn.removeprefix('run_')}"] = res
        except Exception as exc:  # noqa: BLE001
            print(f"  MAM skipped: {exc!r}", flush=True)
    return out


def evaluate(
    shapes, seeds, n_journeys: int, n_channels: int, skip: set[str], extra: tuple[str, ...] = ()
) -> pd.DataFrame:
    rows = []
    for shape in shapes:
        for seed in seeds:
            t0 = time.perf_counter()
            touches, truth, want = simulate(n_journeys, n_channels, shape, seed, per_journey=True)
            credits: dict[str, pd.DataFrame] = {}
            models = {**mbuzz_models(touches, extra, credits), **peer_models(touches, skip)}
            for name, shares in models.items():
                mae, rho, top = scores(shares, truth)
                per_journey = journey_error(credits[name], want) if name in credits else np.nan
                rows.append(
                    {
                        "shape": shape,
                        "seed": seed,
                        "model": name,
                        "mae": mae,
                        "spearman": rho,
                        "top3": top,
                        "journey": per_journey,
                    }
                )
            n_conv = int(touches.groupby("journey_id")["converted"].first().sum())
            print(
                f"  {shape} seed {seed}: {len(touches):,} touches, {n_conv:,} conversions, {len(models)} models, "
                f"{time.perf_counter() - t0:.1f} s",
                flush=True,
            )
    return pd.DataFrame(rows)


def table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per model and shape: MAE (×100, share points), Spearman, top-3, and the per-journey
    error (jTV ×100: mean total-variation distance of each converting journey's credits from the truth's;
    mbuzz models only, the peers give channel totals)."""
    mean = results.groupby(["model", "shape"])[["mae", "spearman", "top3", "journey"]].mean().reset_index()
    wide = mean.pivot(index="model", columns="shape")
    out = pd.DataFrame(index=wide.index)
    for shape in results["shape"].unique():
        out[f"{shape} MAE"] = (100 * wide[("mae", shape)]).round(2)
        out[f"{shape} ρ"] = wide[("spearman", shape)].round(2)
        out[f"{shape} top3"] = wide[("top3", shape)].round(2)
        out[f"{shape} jTV"] = (100 * wide[("journey", shape)]).round(2)
    out["mean MAE"] = (100 * mean.groupby("model")["mae"].mean()).round(2)
    return out.sort_values("mean MAE")


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--journeys", type=int, default=20_000)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--shapes", default="all")
    parser.add_argument("--skip", default="", help="comma-separated: ca, mam")
    parser.add_argument("--extra", default="", help="more mbuzz models, comma-separated: markov:2,markov:3")
    parser.add_argument("--quick", action="store_true", help="one seed, 3,000 journeys, two shapes, no peers")
    args = parser.parse_args(argv)
    shapes = SHAPES if args.shapes == "all" else tuple(args.shapes.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]
    skip = {s for s in args.skip.split(",") if s}
    if args.quick:
        shapes, seeds, args.journeys, skip = shapes[:1] + shapes[2:3], seeds[:1], 3000, {"ca", "mam"}
    print(f"{args.journeys:,} journeys, {args.channels} channels, shapes {', '.join(shapes)}, seeds {seeds}")
    results = evaluate(shapes, seeds, args.journeys, args.channels, skip, tuple(m for m in args.extra.split(",") if m))
    out = table(results)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(out.to_string())
    return out


if __name__ == "__main__":
    main()
