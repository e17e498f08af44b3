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

End to end (`--end-to-end 1M`, `--skip-engine` for only this part): the same
seeded journeys as a touchpoints CSV (written by pandas, as users export them:
timestamps with nanoseconds and `+00:00`) and as Parquet, cached in --workdir;
then, alternating, `mbuzz attribute --model u_shaped` (the CLI, in a new
process) and benchmarks/pandas_u_shaped.py (a plain 12-line pandas script
doing the same model) on the same file, CSV in → CSV out and Parquet in →
Parquet out, each `--e2e-repeat` times after one untimed warm-up run each
(bytecode compiled into --workdir, so imports are those of an installed
package). Prints wall seconds (median), CPU seconds (user + system of the
child, median), mbuzz / pandas as the ratio of the medians and as the median
of the per-pair ratios (adjacent runs see the same load), and checks that both
wrote the same rows and credits.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import resource
import subprocess
import sys
import tempfile
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
from benchmarks.peers import ca_heuristics, ca_markov, path_table  # noqa: E402

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
    info = (
        f"{n:,} journeys, {int(journeys.converted.sum()):,} converting, {len(touches):,} touches, "
        f"{len(conv.jid):,} converting touches"
    )
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
    agg = path_table(touches)

    if "ca" not in skip:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                import ChannelAttribution as CA
        except Exception as exc:  # noqa: BLE001 - report and go on
            print(f"ChannelAttribution skipped: {exc!r}")
        else:
            h, t, m = timed(lambda: ca_heuristics(CA, agg))
            rows.append((n, "ChannelAttribution", "heuristic_models (first+last+linear)", t, m))
            h = h.set_index("channel_name")
            for ours_name, col in (
                ("first_touch", "first_touch"),
                ("last_touch", "last_touch"),
                ("linear", "linear_touch"),
            ):
                checks.append((n, f"{ours_name} vs CA {col}", max_rel_diff(ours[ours_name], h[col]), 1e-9))
            mk, t, m = timed(lambda: ca_markov(CA, agg))
            rows.append((n, "ChannelAttribution", "markov_model order 1 (simulated)", t, m))
            re_ca = mk["removal_effects"].set_index("channel_name").iloc[:, 0]
            re_ours = pd.Series(markov_fit.removal_effects, index=markov_fit.channels)
            rel = float(((re_ours - re_ca.reindex(re_ours.index)) / re_ours).abs().max())
            # CA simulates: its own seed-to-seed spread (4 more seeds, untimed) says how close it can be
            runs = [re_ca.reindex(re_ours.index)]
            for seed in range(1, 5):
                with contextlib.redirect_stdout(io.StringIO()):
                    other = ca_markov(CA, agg, seed=seed)
                runs.append(other["removal_effects"].set_index("channel_name").iloc[:, 0].reindex(re_ours.index))
            runs = pd.concat(runs, axis=1)
            spread = float((runs.std(axis=1, ddof=1) / runs.mean(axis=1)).abs().max())
            rel_mean = float(((re_ours - runs.mean(axis=1)) / re_ours).abs().max())
            checks.append((n, "markov removal effects vs CA seed 0 (max relative)", rel, 0.05))
            checks.append(
                (n, f"markov removal effects vs mean of 5 CA seeds (CA's own spread {spread:.3f})", rel_mean, 0.05)
            )

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
            mam, t, m = timed(
                lambda: MAM(
                    sess,
                    format_type="session",
                    channels_colname="channel",
                    journey_with_conv_colname="has_conv",
                    datetime_colname="touch_ts",
                    user_id_colname="journey_id",
                    create_journey_id_based_on_conversion=True,
                )
            )
            rows.append((n, "MAM", "load (MAM object)", t, m))
            for fn, ours_name in (
                ("run_first_click", "first_touch"),
                ("run_linear", "linear"),
                ("run_position_based", None),
                ("run_time_decay", None),
                ("run_markov", None),
                ("run_shapley", None),
            ):
                res, t, m = timed(lambda: getattr(mam, fn)())
                rows.append((n, "MAM", fn, t, m))
                if ours_name:
                    theirs = res.to_pandas().set_index("channels")["attribution"]
                    checks.append((n, f"{ours_name} vs MAM {fn}", max_rel_diff(ours[ours_name], theirs), 1e-9))


ROOT = Path(__file__).resolve().parents[1]
PANDAS_SCRIPT = ROOT / "benchmarks" / "pandas_u_shaped.py"


def touch_files(n: int, seed: int, workdir: Path) -> dict[str, Path]:
    """The seeded journeys as CSV (pandas' writer) and Parquet, made once per (n, seed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = {"csv": workdir / f"touchpoints_{n}_{seed}.csv", "parquet": workdir / f"touchpoints_{n}_{seed}.parquet"}
    if not all(f.exists() for f in files.values()):
        print(f"writing {n:,} synthetic journeys to {workdir} (once) ...", flush=True)
        touches = synthetic_touches(n, seed=seed)
        touches.to_csv(files["csv"].with_suffix(".tmp"), index=False)
        files["csv"].with_suffix(".tmp").rename(files["csv"])
        pq.write_table(pa.Table.from_pandas(touches, preserve_index=False), files["parquet"])
    return files


def run_timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of a child process; fails if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def same_credits(a: Path, b: Path) -> str:
    """'yes' when both credits files have the same rows and credits (to 1e-12)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    def load(path):
        table = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)
        return {c: table.column(c).to_numpy() for c in table.column_names}

    x, y = load(a), load(b)
    if len(x["credit"]) != len(y["credit"]):
        return f"NO: {len(x['credit'])} vs {len(y['credit'])} rows"
    for col in ("journey_id", "touch_index", "channel", "session_id"):
        if not np.array_equal(x[col].astype(str), y[col].astype(str)):
            return f"NO: {col} differs"
    diff = max(float(np.abs(x[c] - y[c]).max(initial=0.0)) for c in ("credit", "revenue_credit"))
    return "yes" if diff <= 1e-12 else f"NO: credits differ by {diff:g}"


def end_to_end(n: int, seed: int, repeat: int, workdir: Path) -> None:
    files = touch_files(n, seed, workdir)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    mbuzz = str(Path(sys.executable).with_name("mbuzz"))
    print(
        f"\n## End to end: `mbuzz attribute --model u_shaped` vs benchmarks/pandas_u_shaped.py, "
        f"{n:,} journeys ({files['csv'].stat().st_size / 2**20:.0f} MB CSV, "
        f"{files['parquet'].stat().st_size / 2**20:.0f} MB Parquet), {repeat} runs each, "
        f"load average {os.getloadavg()[0]:.1f}\n",
        flush=True,
    )
    print(
        "| format | pandas script s | mbuzz attribute s | ratio of medians | median of pair ratios "
        "| pandas CPU s | mbuzz CPU s | same credits | runs (pandas / mbuzz s) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---|---|"
    )
    for fmt, src in files.items():
        outs = {who: workdir / f"credits_{who}.{fmt}" for who in ("pandas", "mbuzz")}
        cmds = {
            "pandas": [sys.executable, str(PANDAS_SCRIPT), str(src), str(outs["pandas"])],
            "mbuzz": [
                mbuzz,
                "attribute",
                "--model",
                "u_shaped",
                "--touchpoints",
                str(src),
                "--out",
                str(outs["mbuzz"]),
            ],
        }
        for cmd in cmds.values():  # warm-up: bytecode, page cache
            run_timed(cmd, env)
        times = {"pandas": [], "mbuzz": []}
        for r in range(repeat):
            for who in ("pandas", "mbuzz") if r % 2 == 0 else ("mbuzz", "pandas"):
                times[who].append(run_timed(cmds[who], env))
        wall = {w: [t[0] for t in ts] for w, ts in times.items()}
        cpu = {w: float(np.median([t[1] for t in ts])) for w, ts in times.items()}
        med = {w: float(np.median(v)) for w, v in wall.items()}
        pairs = float(np.median(np.divide(wall["mbuzz"], wall["pandas"])))
        runs = ", ".join(f"{p:.2f}/{m:.2f}" for p, m in zip(wall["pandas"], wall["mbuzz"]))
        print(
            f"| {fmt} | {med['pandas']:.2f} | {med['mbuzz']:.2f} | {med['mbuzz'] / med['pandas']:.2f} | "
            f"{pairs:.2f} | {cpu['pandas']:.2f} | {cpu['mbuzz']:.2f} | "
            f"{same_credits(outs['pandas'], outs['mbuzz'])} | {runs} |",
            flush=True,
        )


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
                print(f"| {n:,} | {ours} | {lib} {theirs} | {sub[('ours', ours)] / sub[(lib, theirs)]:.3f} |")
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
    parser.add_argument(
        "--end-to-end",
        default="",
        metavar="SIZE",
        help="also time mbuzz attribute vs the pandas script end to end on SIZE journeys (1M)",
    )
    parser.add_argument("--e2e-repeat", type=int, default=5, help="end-to-end runs of each, alternating")
    parser.add_argument("--skip-engine", action="store_true", help="only the end-to-end part")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "mbuzz-bench",
        help="where the end-to-end files are kept between runs",
    )
    args = parser.parse_args()
    cpus = os.cpu_count()
    print(
        f"# mbuzz attribution benchmark — {platform.processor() or platform.machine()}, "
        f"{cpus} cores, Python {platform.python_version()}, numpy {np.__version__}, "
        f"pandas {pd.__version__}; load average at start {os.getloadavg()[0]:.1f}"
    )
    rows, checks = [], []
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if not args.skip_engine:
        for size in args.sizes.split(","):
            run_size(parse_size(size), args.seed, rows, checks, skip, args.repeat)
        report(rows, checks)
    if args.end_to_end:
        args.workdir.mkdir(parents=True, exist_ok=True)
        end_to_end(parse_size(args.end_to_end), args.seed, args.e2e_repeat, args.workdir)


if __name__ == "__main__":
    main()
