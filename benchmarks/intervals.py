"""What the 95% intervals cost relative to a single run of each model, in one process.

    .venv/bin/python benchmarks/intervals.py --sizes 10k,100k [--samples 100] [--seed 0]

For each size: the same seeded synthetic journeys (attribution.synthetic), prepared once. Per
model: the seconds of one run (credits of every converting journey) and of its interval
(attribution.intervals.credit_intervals over `--samples` Poisson resamples, grouped by channel
and day, as the pipeline stores them): rule models in one sparse matmul, data-driven models
refit on every resample. Prints both and interval / run. Each timing is the median of
--repeat runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attribution import load_model, prepare, run_model  # noqa: E402
from attribution.intervals import credit_intervals, poisson_weights  # noqa: E402
from attribution.synthetic import synthetic_touches  # noqa: E402

MODELS = ("linear", "u_shaped", "time_decay", "last_non_direct", "markov", "shapley", "ordered_shapley", "algorithmic")


def size(text: str) -> int:
    text = text.strip().lower()
    return int(float(text[:-1]) * {"k": 1e3, "m": 1e6}[text[-1]]) if text[-1] in "km" else int(text)


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10k,100k")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'journeys':>9} {'model':<16} {'run s':>8} {'interval s':>11} {'ratio':>7}")
    for n in (size(s) for s in args.sizes.split(",")):
        touches = synthetic_touches(n, seed=args.seed)
        jr = prepare(touches)
        index = pd.Index(pd.unique(touches["journey_id"]))
        weights = poisson_weights(len(index), args.samples, args.seed)
        codes = index.get_indexer(jr.id_index)
        for name in MODELS:
            spec = load_model(name)
            run_model(jr, spec)  # warm-up (imports, caches)
            run_s, credits = timed(lambda: run_model(jr, spec), args.repeat)
            credits = credits.assign(day=credits["journey_id"] % 7)  # a run's window spans days
            refit = (
                None
                if spec.get("kind", "rules") == "rules"
                else (lambda b, spec=spec: run_model(jr, spec, journey_weights=weights[b, codes]))
            )
            ci_s, _ = timed(
                lambda: credit_intervals(credits, index, weights, ["channel", "day"], refit=refit),
                1 if refit else args.repeat,
            )
            print(f"{n:>9,} {name:<16} {run_s:>8.3f} {ci_s:>11.3f} {ci_s / run_s:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
