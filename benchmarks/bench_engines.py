"""Benchmark of the two engines in one run (not a test: prints medians and ratios).

Usage:
    python benchmarks/bench_engines.py            # per-run costs, compilation, scale
    python benchmarks/bench_engines.py --sweeps   # also the headline and ensemble sweeps

Measures, in this order:

1. **Compilation**: the compiled engine's first call in a fresh process with an empty
   numba cache (compiling), and again with the cache filled (loading it).
2. **Per run, one core**: the median time of a default run (60 months) and of 400 default
   240-month runs on each engine, and their ratio (``run_one`` for the Mesa engine,
   ``run_many`` one run at a time for the compiled one, outcomes included).
3. **Scale**: the compiled engine's median time of a run by suppliers x key buyers
   (4 x 3 to 20 x 20) and horizon (60, 240 and 600 months), with the Mesa engine's at
   60 months for the ratio.
4. With ``--sweeps``: wall time and peak memory of ``kamabm sweep`` of the headline
   (``experiments/capture_phase.toml``, 8,400 runs) and of the ensemble
   (``experiments/capture_ensemble.toml``, 61,200 runs) on 2 workers, compiled engine,
   into temporary folders.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Timed in a child process with a given numba cache folder: the first call's seconds.
FIRST_CALL = """
import time
start = time.perf_counter()
from kamabm import Parameters, run_many
run_many([Parameters(horizon_months=12)], [0])
print(time.perf_counter() - start)
"""


def first_call(cache: str) -> float:
    """Seconds of a fresh process's first compiled run, numba's cache in ``cache``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def per_run(engine: str, params, seeds) -> list[float]:
    """Seconds of each run, one at a time, on ``engine``."""
    from kamabm import run_many

    run_many([params], [10_000], engine=engine)   # warm: compiled, imported
    times = []
    for seed in seeds:
        start = time.perf_counter()
        run_many([params], [seed], engine=engine)
        times.append(time.perf_counter() - start)
    return times


def sweep(experiment: str) -> tuple[float, float]:
    """Wall seconds and peak memory (MB, largest process) of a 2-worker sweep."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kamabm", "sweep", experiment, "--workers", "2",
                        "--out", out, "--quiet"], cwd=ROOT, check=True)
        wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="240-month runs per engine")
    parser.add_argument("--sweeps", action="store_true", help="also time the sweeps")
    args = parser.parse_args()
    from kamabm import Parameters

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}")

    with tempfile.TemporaryDirectory() as cache:
        cold = first_call(cache)
        warm = first_call(cache)
    print(f"compilation: first call {cold:.1f} s with an empty cache, {warm:.2f} s loading "
          "the cache")

    seeds = range(args.runs)
    default = Parameters()
    long = Parameters(horizon_months=240)
    results = {}
    for label, params, n in (("default run (60 months)", default, 100),
                             (f"240-month run ({args.runs} runs)", long, args.runs)):
        mesa = statistics.median(per_run("mesa", params, list(seeds)[:n]))
        compiled = statistics.median(per_run("compiled", params, list(seeds)[:n]))
        results[label] = (mesa, compiled)
        print(f"{label}: mesa {1000 * mesa:.1f} ms, compiled {1000 * compiled:.2f} ms, "
              f"ratio {mesa / compiled:.1f}x")

    print("scale (compiled, median of 20 runs; mesa at 60 months, median of 3):")
    for n_s, n_b in ((4, 3), (10, 10), (20, 20)):
        row = []
        for months in (60, 240, 600):
            params = Parameters(n_suppliers=n_s, n_key_buyers=n_b, horizon_months=months)
            row.append(statistics.median(per_run("compiled", params, range(20))))
        params = Parameters(n_suppliers=n_s, n_key_buyers=n_b, horizon_months=60)
        mesa = statistics.median(per_run("mesa", params, range(3)))
        print(f"  {n_s:2d} suppliers x {n_b:2d} key buyers: "
              + ", ".join(f"{m} months {1000 * t:.1f} ms" for m, t in zip((60, 240, 600), row,
                                                                         strict=True))
              + f"; mesa 60 months {1000 * mesa:.0f} ms ({mesa / row[0]:.0f}x)")

    if args.sweeps:
        for experiment in ("experiments/capture_phase.toml",
                           "experiments/capture_ensemble.toml"):
            wall, peak = sweep(experiment)
            print(f"sweep {experiment}: {wall:.1f} s on 2 workers (compiled), "
                  f"peak {peak:.0f} MB in the largest process")
    print(json.dumps({k: [round(v, 6) for v in t] for k, t in results.items()}))


if __name__ == "__main__":
    main()
