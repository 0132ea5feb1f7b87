"""How long a drift check takes next to the same statistics computed directly with scipy.

    $MLOOP_PYTHON bench/drift-check.py [--rows 1000000] [--repeat 3] [--seed 1]

One run builds a reference profile from a synthetic training set (50,000 rows of 20 features:
continuous, integer and categorical, with missing values), a current window of `--rows` rows
(some features shifted), and then times, in this process:

  * scipy: per feature what Evidently's default stattest does, written directly with pandas,
    numpy and scipy (drop nulls and infinities, count distinct values over both sides, pick the
    test, bin the way `get_binned_data` does, call `wasserstein_distance`, `jensenshannon`, ...);
  * mloop: `build_report` (every statistic, the summaries, charts and findings) and the HTML page.

Both get the same in-memory reference sample and window. Each is timed `--repeat` times (best
shown, all listed); peak memory is measured in a separate run of each with tracemalloc (numpy's
and Python's allocations). The scores of both must agree to 1e-9. See bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from mloop_runtime.drift_command import DriftOptions, run_drift  # noqa: E402
from mloop_runtime.drift_config import MonitoringConfig  # noqa: E402
from mloop_runtime.drift_data import CurrentWindow  # noqa: E402
from mloop_runtime.drift_report import build_report  # noqa: E402
from mloop_runtime.profile_build import PROFILE_FORMAT, column_profile, sample_positions  # noqa: E402
from mloop_runtime.profile_format import Profile, load_profile  # noqa: E402
from mloop_runtime.protocol import ProtocolWriter  # noqa: E402
from mloop_runtime.report_html import render_report  # noqa: E402

TRAINING_ROWS = 50_000


def features(rng: np.random.Generator, rows: int, shifted: bool) -> pd.DataFrame:
    """20 columns: 12 continuous, 2 integer counts, 2 integers with 3 values, 4 categorical.
    `shifted` moves 4 of them (2 continuous, 1 integer, 1 categorical)."""
    shift = 0.5 if shifted else 0.0
    columns: dict[str, Any] = {}
    for i in range(12):
        values = rng.normal(10 * i + (shift if i in (0, 5) else 0.0), 1 + i / 10, size=rows)
        values[rng.random(rows) < 0.01] = np.nan
        columns[f"num_{i:02d}"] = values
    for i in range(2):
        columns[f"count_{i}"] = rng.poisson(20 + (5 if shifted and i == 0 else 0), size=rows).astype(np.int64)
    for i in range(2):
        columns[f"level_{i}"] = rng.integers(0, 3, size=rows).astype(np.int64)
    for i in range(4):
        k = 5 + 15 * i
        p = np.linspace(1, 2, k)
        if shifted and i == 1:
            p = p[::-1]
        columns[f"cat_{i}"] = pd.Series(
            rng.choice([f"c{j:02d}" for j in range(k)], size=rows, p=p / p.sum()), dtype="str"
        )
    return pd.DataFrame(columns)


def column_type(frame: pd.DataFrame, name: str) -> str:
    dtype = frame[name].dtype
    return "integer" if pd.api.types.is_integer_dtype(dtype) else "number" if dtype.kind == "f" else "string"


def write_profile(training: pd.DataFrame, sample_rows: int, path: Path) -> Profile:
    """A reference profile file as `train` writes it (without model outputs), read back."""
    positions = sample_positions(len(training), sample_rows, seed=0)
    profile = {
        "format": PROFILE_FORMAT,
        "model": "bench",
        "task": "regression",
        "classes": None,
        "seed": 0,
        "training_rows": len(training),
        "sample_rows": int(positions.size),
        "features": [column_profile(n, column_type(training, n), training[n], positions) for n in training.columns],
        "target": {"name": "y", "type": "number", "summary": {"min": 0.0, "max": 1.0}, "histogram": None},
        "holdout_rows": 0,
        "outputs": [],
        "monitoring": MonitoringConfig(sample_rows=sample_rows).to_json(),
    }
    path.write_text(json.dumps(profile, allow_nan=False))
    return load_profile(path)


def evidently_shares(ref: pd.Series, cur: pd.Series, numeric: bool) -> tuple[np.ndarray, np.ndarray]:
    """`get_binned_data`: a Sturges histogram over both sides, or one bin per value."""
    if numeric and ref.nunique() > 20:
        edges = np.histogram_bin_edges(np.concatenate([ref.to_numpy(), cur.to_numpy()]), bins="sturges")
        return np.histogram(ref, edges)[0] / len(ref), np.histogram(cur, edges)[0] / len(cur)
    ref_counts, cur_counts = ref.value_counts(), cur.value_counts()
    keys = ref_counts.index.union(cur_counts.index)
    return ref_counts.reindex(keys, fill_value=0).to_numpy(), cur_counts.reindex(keys, fill_value=0).to_numpy()


def z_test(ref: pd.Series, cur: pd.Series) -> float:
    if pd.concat([ref, cur]).nunique() == 1:
        return 1.0
    first = sorted(set(ref.unique()) | set(cur.unique()))[0]
    p1, p2 = float((ref != first).mean()), float((cur != first).mean())
    pooled = (p1 * len(ref) + p2 * len(cur)) / (len(ref) + len(cur))
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / len(ref) + 1 / len(cur)))
    return float(2 * stats.norm.sf(abs(z)))


def scipy_direct(profile: Profile, current: pd.DataFrame) -> dict[str, float]:
    """Evidently's default test per feature, straight from pandas/numpy/scipy."""
    scores: dict[str, float] = {}
    for column in profile.features:
        ref = pd.Series(column.sample).replace([np.inf, -np.inf], np.nan).dropna()
        cur = current[column.name].replace([np.inf, -np.inf], np.nan).dropna()
        numeric = column.kind == "numerical"
        if numeric:
            cur = cur.astype(np.float64)
        n_values = pd.concat([ref, cur]).nunique()
        if len(ref) <= 1000:
            if numeric and n_values > 5:
                scores[column.name] = float(stats.ks_2samp(ref, cur).pvalue)
            elif n_values > 2:
                p, q = evidently_shares(ref, cur, numeric=False)
                scores[column.name] = float(stats.chisquare(q, p * (len(cur) / len(ref))).pvalue)
            else:
                scores[column.name] = z_test(ref, cur)
        elif numeric and n_values > 5:
            scores[column.name] = stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
        else:
            p, q = evidently_shares(ref, cur, numeric)
            scores[column.name] = float(distance.jensenshannon(p / len(ref), q / len(cur)))
    return scores


def mloop_check(profile: Profile, current: pd.DataFrame) -> dict[str, Any]:
    window = CurrentWindow(Path("window.parquet"), len(current), {c: current[c] for c in current.columns})
    report = build_report(profile, window, profile.monitoring, {})
    render_report(report)
    return report


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return times, result


def peak_bytes(fn: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--sample-rows", type=int, default=5000, help="reference sample size; at most 1000 selects the tests"
    )
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="mloop-bench-drift-"))
    profile = write_profile(features(rng, TRAINING_ROWS, shifted=False), args.sample_rows, scratch / "profile.json")
    current = features(rng, args.rows, shifted=True)
    cpus, load = os.cpu_count(), " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"mloop drift check: {args.rows} rows x {current.shape[1]} features against a {args.sample_rows}-row sample")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}; {cpus} CPUs, load {load}")
    print(f"setup: data and profile in {time.perf_counter() - started:.1f} s")

    # Interleaved, so that a change in the machine's load hits both alike.
    scipy_times, mloop_times = [], []
    scipy_scores: dict[str, float] = {}
    report: dict[str, Any] = {}
    for _ in range(args.repeat):
        t, scipy_scores = timed(lambda: scipy_direct(profile, current), 1)
        scipy_times += t
        t, report = timed(lambda: mloop_check(profile, current), 1)
        mloop_times += t

    ours = {e["name"]: e["score"] for e in report["features"]}
    worst = max(abs(ours[n] - s) / max(1.0, abs(s)) for n, s in scipy_scores.items())
    if not all(math.isclose(ours[n], s, rel_tol=1e-9, abs_tol=1e-9) for n, s in scipy_scores.items()):
        print(f"scores differ from scipy's (worst relative difference {worst:.3g})", file=sys.stderr)
        return 1

    scipy_peak = peak_bytes(lambda: scipy_direct(profile, current))
    mloop_peak = peak_bytes(lambda: mloop_check(profile, current))
    best_scipy, best_mloop = min(scipy_times), min(mloop_times)
    print()
    print(f"{'phase':<44}{'best s':>8}{'runs s':>26}{'peak MiB':>10}")
    for name, times, peak in (
        ("scipy direct (Evidently's tests)", scipy_times, scipy_peak),
        ("mloop build_report + HTML", mloop_times, mloop_peak),
    ):
        runs = " ".join(f"{t:.2f}" for t in times)
        print(f"{name:<44}{min(times):>8.2f}{runs:>26}{peak / 2**20:>10.1f}")
    print()
    print(f"mloop / scipy: {best_mloop / best_scipy:.2f}x (target <= 1.5x)")
    drifted = [e["name"] for e in report["features"] if e["drift"]]
    tests = sorted({e["test"] for e in report["features"]})
    print(f"scores equal scipy's (worst relative difference {worst:.1e}); tests {', '.join(tests)}")
    print(f"drifted: {', '.join(drifted)} (shifted: num_00, num_05, count_0, cat_1)")

    # The whole command as the engine runs it: read the Parquet window, check, write both files.
    window_file = scratch / "window.parquet"
    current.to_parquet(window_file, index=False)
    options = DriftOptions(profile.path, window_file, scratch / "report")
    started = time.perf_counter()
    run_drift(options, ProtocolWriter(io.StringIO()))
    total = time.perf_counter() - started
    size = window_file.stat().st_size / 2**20
    print(f"drift command end to end (Parquet window of {size:.0f} MiB, both reports written): {total:.2f} s")
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    shutil.rmtree(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
