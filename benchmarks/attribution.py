"""Attribution benchmark: our engine vs ChannelAttribution and MAM, same data, same process.

    .venv/bin/python benchmarks/attribution.py --sizes 10k,100k [--seed 0]

For each size it generates the same seeded synthetic journeys
(attribution.synthetic), then times, after load (journeys prepared once for us;
paths aggregated / MAM object built once for them, load timed separately):
every preset of ours, our exact Markov (order 1), Shapley and algorithmic;
ChannelAttribution heuristic_models and markov_model (order 1, defaults); MAM
run_first_click, run_linear, run_position_based, run_time_decay, run_markov,
run_shapley (max_size 4). Prints seconds, peak memory (RSS growth, sampled),
ours/theirs ratios and the largest relative difference of channel totals where
the definitions match (first/last/linear must agree to 1e-9 relative; Markov
removal effects vs ChannelAttribution's simulated ones within 5 %, relative).

Our rule models share the output columns other than the credits (journey_id,
touch_index, channel, carried columns), built once per prepared journeys: that
step is timed on its own row ("output columns"), so each model's row is what
one more model costs. `--repeat N` times every one of our models N times and
reports the median (this machine is shared; single runs are noisy).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attribution import load_model, prepare  # noqa: E402
from attribution.algorithmic import algorithmic_credits  # noqa: E402
from attribution.engine import run_rule_model  # noqa: E402
from attribution.markov import fit_markov, markov_credits  # noqa: E402
from attribution.models import list_presets  # noqa: E402
from attribution.shapley import shapley_credits  # noqa: E402
from attribution.synthetic import synthetic_touches  # noqa: E402

try:
    import psutil
except ImportError:  # memory column stays empty
    psutil = None


class PeakRss:
    """Peak resident-memory growth during the block, sampled every 5 ms."""

    def __enter__(self):
        self.peak = self.base = psutil.Process().memory_info().rss if psutil else 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        proc = psutil.Process() if psutil else None
        while proc and not self._stop.is_set():
            self.peak = max(self.peak, proc.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        if psutil:
            self.peak = max(self.peak, psutil.Process().memory_info().rss)

    @property
    def mb(self) -> float:
        return (self.peak - self.base) / 2**20


def timed(fn):
    with PeakRss() as mem, contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
    return result, seconds, mem.mb


def parse_size(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if text[-1] in "km" else text) * mult)


def totals(credits: pd.DataFrame) -> pd.Series:
    return credits.groupby("channel")["credit"].sum()


def max_rel_diff(ours: pd.Series, theirs: pd.Series) -> float:
    """Largest |ours − theirs| / max(|ours|, |theirs|) over the channels of either."""
    idx = ours.index.union(theirs.index)
    a, b = ours.reindex(idx, fill_value=0.0), theirs.reindex(idx, fill_value=0.0)
    scale = np.maximum(a.abs(), b.abs()).replace(0.0, 1.0)
    return float(((a - b).abs() / scale).max())


def timed_median(fn, repeat: int):
    """timed() `repeat` times: the last result, the median seconds, the largest peak."""
    runs = [timed(fn) for _ in range(max(1, repeat))]
    return runs[-1][0], float(np.median([r[1] for r in runs])), max(r[2] for r in runs)


def run_size(n: int, seed: int, rows: list, checks: list, skip: set[str], repeat: int = 1) -> None:
    touches = synthetic_touches(n, seed=seed)
    journeys, t_load, m_load = timed(lambda: prepare(touches))
    conv = journeys.converting
    info = (f"{n:,} journeys, {int(journeys.converted.sum()):,} converting, {len(touches):,} touches, "
            f"{len(conv.jid):,} converting touches")
    print(f"\n== {info}; load average {os.getloadavg()[0]:.1f}", flush=True)
    rows.append((n, "ours", "load (prepare journeys)", t_load, m_load))
    _, t, m = timed(lambda: journeys.converting.output_base)
    rows.append((n, "ours", "output columns (once per prepare, shared)", t, m))
    ours: dict[str, pd.Series] = {}
    for name in list_presets():
        spec = load_model(name)
        credits, t, m = timed_median(lambda: run_rule_model(journeys, spec), repeat)
        ours[name] = totals(credits)
        rows.append((n, "ours", name, t, m))
    markov_fit, t, m = timed_median(lambda: fit_markov(journeys, 1), repeat)
    rows.append((n, "ours", "markov removal effects (exact)", t, m))
    _, t, m = timed_median(lambda: markov_credits(journeys, 1), repeat)
    rows.append((n, "ours", "markov per-conversion credits", t, m))
    _, t, m = timed_median(lambda: shapley_credits(journeys), repeat)
    rows.append((n, "ours", "shapley (exact)", t, m))
    _, t, m = timed_median(lambda: algorithmic_credits(journeys), repeat)
    rows.append((n, "ours", "algorithmic", t, m))

    # the same journeys as path strings (what both libraries take)
    path = touches.groupby("journey_id", sort=False)["channel"].agg(" > ".join)
    converted = touches.groupby("journey_id", sort=False)["converted"].first()
    agg = pd.DataFrame({"path": path, "conv": converted}).groupby("path")["conv"].agg(["sum", "count"])
    agg = agg.reset_index().rename(columns={"sum": "conversions"})
    agg["nulls"] = agg["count"] - agg["conversions"]

    if "ca" not in skip:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                import ChannelAttribution as CA
        except Exception as exc:  # noqa: BLE001 - report and go on
            print(f"ChannelAttribution skipped: {exc!r}")
        else:
            conv_paths = agg[agg["conversions"] > 0]
            h, t, m = timed(lambda: CA.heuristic_models(conv_paths, "path", "conversions", sep=">",
                                                        flg_pro=False))
            rows.append((n, "ChannelAttribution", "heuristic_models (first+last+linear)", t, m))
            h = h.set_index("channel_name")
            for ours_name, col in (("first_touch", "first_touch"), ("last_touch", "last_touch"),
                                   ("linear", "linear_touch")):
                checks.append((n, f"{ours_name} vs CA {col}", max_rel_diff(ours[ours_name], h[col]), 1e-9))
            mk, t, m = timed(lambda: CA.markov_model(agg, "path", "conversions", var_null="nulls",
                                                     order=1, sep=">", out_more=True, verbose=False,
                                                     flg_pro=False))
            rows.append((n, "ChannelAttribution", "markov_model order 1 (simulated)", t, m))
            re_ca = mk["removal_effects"].set_index("channel_name").iloc[:, 0]
            re_ours = pd.Series(markov_fit.removal_effects, index=markov_fit.channels)
            rel = float(((re_ours - re_ca.reindex(re_ours.index)) / re_ours).abs().max())
            # CA simulates: its own seed-to-seed spread (4 more seeds, untimed) says how close it can be
            runs = [re_ca.reindex(re_ours.index)]
            for seed in range(1, 5):
                with contextlib.redirect_stdout(io.StringIO()):
                    other = CA.markov_model(agg, "path", "conversions", var_null="nulls", order=1, sep=">",
                                            out_more=True, verbose=False, flg_pro=False, seed=seed)
                runs.append(other["removal_effects"].set_index("channel_name").iloc[:, 0].reindex(re_ours.index))
            runs = pd.concat(runs, axis=1)
            spread = float((runs.std(axis=1, ddof=1) / runs.mean(axis=1)).abs().max())
            rel_mean = float(((re_ours - runs.mean(axis=1)) / re_ours).abs().max())
            checks.append((n, "markov removal effects vs CA seed 0 (max relative)", rel, 0.05))
            checks.append((n, f"markov removal effects vs mean of 5 CA seeds (CA's own spread {spread:.3f})",
                           rel_mean, 0.05))

    if "mam" not in skip:
        try:
            from mam import MAM
        except Exception as exc:  # noqa: BLE001
            print(f"MAM skipped: {exc!r}")
        else:
            sess = touches[["journey_id", "touch_ts", "channel", "converted"]].copy()
            last = sess.groupby("journey_id").cumcount(ascending=False) == 0
            sess["has_conv"] = sess["converted"].astype(bool) & last
            sess["touch_ts"] = sess["touch_ts"].dt.tz_localize(None)
            sess = sess.drop(columns="converted")
            mam, t, m = timed(lambda: MAM(sess, format_type="session", channels_colname="channel",
                                          journey_with_conv_colname="has_conv",
                                          datetime_colname="touch_ts", user_id_colname="journey_id",
                                          create_journey_id_based_on_conversion=True))
            rows.append((n, "MAM", "load (MAM object)", t, m))
            for fn, ours_name in (("run_first_click", "first_touch"), ("run_linear", "linear"),
                                  ("run_position_based", None), ("run_time_decay", None),
                                  ("run_markov", None), ("run_shapley", None)):
                res, t, m = timed(lambda: getattr(mam, fn)())
                rows.append((n, "MAM", fn, t, m))
                if ours_name:
                    theirs = res.to_pandas().set_index("channels")["attribution"]
                    checks.append((n, f"{ours_name} vs MAM {fn}", max_rel_diff(ours[ours_name], theirs), 1e-9))


RATIOS = [  # (ours, theirs, library)
    ("first_touch", "heuristic_models (first+last+linear)", "ChannelAttribution"),
    ("markov removal effects (exact)", "markov_model order 1 (simulated)", "ChannelAttribution"),
    ("first_touch", "run_first_click", "MAM"),
    ("linear", "run_linear", "MAM"),
    ("u_shaped", "run_position_based", "MAM"),
    ("time_decay", "run_time_decay", "MAM"),
    ("markov removal effects (exact)", "run_markov", "MAM"),
    ("shapley (exact)", "run_shapley", "MAM"),
]


def report(rows: list, checks: list) -> None:
    frame = pd.DataFrame(rows, columns=["journeys", "library", "model", "seconds", "peak_mb"])
    print("\n## Timings (seconds after load, ours: median of --repeat runs; peak RSS growth in MB)\n")
    print("| journeys | library | model | seconds | peak MB |\n|---:|---|---|---:|---:|")
    for r in frame.itertuples(index=False):
        print(f"| {r.journeys:,} | {r.library} | {r.model} | {r.seconds:.3f} | {r.peak_mb:.0f} |")
    print("\n## Ratios ours / theirs (time)\n")
    print("| journeys | ours | theirs | ratio |\n|---:|---|---|---:|")
    for n in frame["journeys"].unique():
        sub = frame[frame["journeys"] == n].set_index(["library", "model"])["seconds"]
        for ours, theirs, lib in RATIOS:
            if (lib, theirs) in sub.index:
                print(f"| {n:,} | {ours} | {lib} {theirs} | "
                      f"{sub[('ours', ours)] / sub[(lib, theirs)]:.3f} |")
    print("\n## Agreement of channel totals\n")
    print("| journeys | comparison | max relative difference | bound | ok |\n|---:|---|---:|---:|---|")
    for n, what, diff, bound in checks:
        print(f"| {n:,} | {what} | {diff:.3g} | {bound:g} | {'yes' if diff <= bound else 'NO'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k", help="comma-separated journey counts (10k,100k,1M)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", default="", help="comma-separated: ca,mam")
    parser.add_argument("--repeat", type=int, default=1, help="time each of our models N times, report the median")
    args = parser.parse_args()
    cpus = os.cpu_count()
    print(f"# mbuzz attribution benchmark — {platform.processor() or platform.machine()}, "
          f"{cpus} cores, Python {platform.python_version()}, numpy {np.__version__}, "
          f"pandas {pd.__version__}; load average at start {os.getloadavg()[0]:.1f}")
    rows, checks = [], []
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    for size in args.sizes.split(","):
        run_size(parse_size(size), args.seed, rows, checks, skip, args.repeat)
    report(rows, checks)


if __name__ == "__main__":
    main()
