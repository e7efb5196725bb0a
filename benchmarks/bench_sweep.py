"""Benchmark of the sweep runner (issue 3); prints medians and ratios.

    python benchmarks/bench_sweep.py            # everything, about 5 minutes on 2 cores
    python benchmarks/bench_sweep.py --quick    # smaller designs, no headline sweep

Measured:

1. the headline sweep, ``kamabm sweep experiments/capture_phase.toml --workers 2``, as a
   command (interpreter start-up included), with the peak memory of its process tree;
2. runner overhead: ``run_sweep(workers=1)`` against a bare loop calling ``run_one`` on
   the same runs, in the same process;
3. throughput against ``mesa.batch_run(number_processes=2)`` on the same model and
   design. ``batch_run`` needs a DataCollector indexed by step; to be fair to it, the
   model used there records the outcomes once, at the last step (``None`` before);
4. peak resident memory of the whole process tree during a 100,000-run sweep with
   2 workers. The runs use a near-free run function (``cheap_run`` below), so that
   what is measured is the runner and the store, not the model;
5. Dask: a local cluster's 2 workers against 1 on 1,600 runs (cluster started beforehand
   and reached with ``scheduler=``, the ``--scheduler`` path; start-up not timed). On a
   2-core machine the scheduler and the client share the cores with the workers.
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import mesa
import psutil

from kamabm.experiments.design import Experiment
from kamabm.experiments.files import parse_experiment
from kamabm.experiments.sweep import run_sweep
from kamabm.model.market import KAMMarket
from kamabm.model.params import Parameters
from kamabm.model.run import OUTCOMES, outcomes, run_one

REPO = Path(__file__).resolve().parents[1]
HEADLINE = REPO / "experiments" / "capture_phase.toml"
#: The documented ``kamabm`` command, installed beside this interpreter (.venv/bin/kamabm).
KAMABM = str(Path(sys.executable).with_name("kamabm"))


def design(shares: int, pressures: int, replications: int, horizon: int = 60) -> Experiment:
    """A capture_phase-shaped grid of the given size."""
    return parse_experiment(f"""
name = "bench"
replications = {replications}
seed = 99
horizon = {horizon}
[uncertainties.client_revenue_share]
range = [0.05, 1.0]
count = {shares}
[levers.kam_pressure]
range = [0.0, 1.0]
count = {pressures}
""")


def cheap_run(params: Parameters, seed: int, *, keep_series: Sequence[str] = ()) -> dict:
    """Near-free stand-in for run_one, to measure the runner's own cost and memory."""
    x = (seed % 10_007) / 10_007
    return {name: x * params.kam_pressure for name in OUTCOMES}


def final_outcomes(model: KAMMarket) -> dict | None:
    """DataCollector reporter: the run's outcomes at its last step, nothing before."""
    return None if model.running else outcomes(model)


class BatchMarket(KAMMarket):
    """KAMMarket with the DataCollector that ``mesa.batch_run`` requires."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.datacollector = mesa.DataCollector(model_reporters={"outcomes": final_outcomes})

    def step(self) -> None:
        super().step()
        self.datacollector.collect(self)


class PeakRSS:
    """Samples the memory of a process and all its children.

    ``peak`` is the largest sum of resident set sizes (RSS, which counts shared
    libraries once per process); ``peak_pss`` the largest sum of proportional set sizes
    (PSS, shared pages split between the processes that share them).
    """

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.process, self.every = psutil.Process(pid), every
        self.peak = self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            rss = pss = 0
            for p in tree:
                try:
                    info = p.memory_full_info()
                except psutil.NoSuchProcess:
                    continue
                rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
            self.peak, self.peak_pss = max(self.peak, rss), max(self.peak_pss, pss)
            time.sleep(self.every)

    def text(self) -> str:
        return (f"peak memory of the process tree: RSS {self.peak / 2**20:.0f} MB, "
                f"PSS {self.peak_pss / 2**20:.0f} MB")

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_of(repeat: int, fn: Callable[[], object]) -> tuple[float, list[float]]:
    times = [timed(fn) for _ in range(repeat)]
    return statistics.median(times), times


def fmt(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def sweep_to_tmp(exp: Experiment, **kwargs) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_sweep(exp, Path(tmp) / "out", progress=False, **kwargs)


# --- the measurements ----------------------------------------------------------------------
def bench_headline() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [KAMABM, "sweep", str(HEADLINE), "--out",
               str(Path(tmp) / "out"), "--workers", "2", "--quiet"]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd)
        with PeakRSS(proc.pid) as rss:
            proc.wait()
        wall = time.perf_counter() - start
        import pandas as pd

        runs = len(pd.read_parquet(Path(tmp) / "out" / "runs.parquet", columns=["run"]))
    print(f"[1] headline capture_phase.toml, 2 workers: {runs} runs in {wall:.1f} s "
          f"({runs / wall:.0f} runs/s), {rss.text()} (goal <= 120 s)")


def bench_overhead(exp: Experiment, repeat: int) -> None:
    specs = list(exp.runs())

    def bare() -> None:
        for spec in specs:
            run_one(exp.parameters(spec.values), spec.seed)

    def runner() -> None:
        sweep_to_tmp(exp, workers=1)

    bare(), runner()  # warm caches alike
    times: dict[str, list[float]] = {"bare": [], "runner": []}
    for _ in range(repeat):  # interleaved, so drifts hit both alike
        times["bare"].append(timed(bare))
        times["runner"].append(timed(runner))
    b, r = statistics.median(times["bare"]), statistics.median(times["runner"])
    print(f"[2] overhead on {len(specs)} runs, 1 worker: bare loop median {b:.2f} s "
          f"[{fmt(times['bare'])}], runner median {r:.2f} s [{fmt(times['runner'])}]: "
          f"overhead {100 * (r / b - 1):+.1f} % (goal <= 5 %)")


def bench_batch_run(exp: Experiment, repeat: int) -> None:
    (share,), (pressure,) = ([v.values] for v in exp.variables)
    seeds = [exp.seed_for(0, r) for r in range(exp.replications)]
    if "rng" in inspect.signature(mesa.batch_run).parameters:  # Mesa >= 3.4: one seed each
        seeding = {"rng": seeds, "iterations": None}
    else:  # Mesa 3.3 cannot seed iterations
        seeding = {"iterations": exp.replications}

    def batch() -> None:
        mesa.batch_run(BatchMarket, parameters={
            "client_revenue_share": list(share), "kam_pressure": list(pressure),
            "horizon_months": exp.base.horizon_months}, number_processes=2,
            max_steps=exp.base.horizon_months, data_collection_period=-1,
            display_progress=False, **seeding)

    def ours() -> None:
        sweep_to_tmp(exp, workers=2)

    times: dict[str, list[float]] = {"batch_run": [], "runner": []}
    for _ in range(repeat):
        times["batch_run"].append(timed(batch))
        times["runner"].append(timed(ours))
    b, r = statistics.median(times["batch_run"]), statistics.median(times["runner"])
    print(f"[3] {exp.n_runs} runs, 2 processes each (pool start-up included): "
          f"mesa.batch_run median {b:.2f} s [{fmt(times['batch_run'])}], runner median "
          f"{r:.2f} s [{fmt(times['runner'])}]: runner throughput {b / r:.2f}x batch_run "
          f"(goal >= 1.3x; Mesa {mesa.__version__})")


def bench_memory(n_side: int, replications: int) -> None:
    exp_text = f"""
name = "memory"
replications = {replications}
seed = 1
horizon = 12
[uncertainties.client_revenue_share]
range = [0.01, 1.0]
count = {n_side}
[levers.kam_pressure]
range = [0.0, 1.0]
count = {n_side}
"""
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            "from bench_sweep import cheap_run; "
            "from kamabm.experiments.files import parse_experiment; "
            "from kamabm.experiments.sweep import run_sweep; "
            "from kamabm.model.run import OUTCOMES; "
            f"run_sweep(parse_experiment({exp_text!r}), sys.argv[1], run_fn=cheap_run, "
            "workers=2, progress=False)")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code, str(Path(tmp) / "out")])
        with PeakRSS(proc.pid) as rss:
            proc.wait()
        wall = time.perf_counter() - start
        size = sum(p.stat().st_size for p in (Path(tmp) / "out").rglob("*") if p.is_file())
    runs = n_side * n_side * replications
    print(f"[4] {runs:,} runs (cheap run function), 2 workers: {wall:.1f} s "
          f"({runs / wall:,.0f} runs/s), {rss.text()} (goal < 400 MB), "
          f"results folder {size / 2**20:.1f} MB")


def bench_dask(exp: Experiment, repeat: int) -> None:
    import logging

    from distributed import LocalCluster

    medians = {}
    for n in (1, 2):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster:
            address = cluster.scheduler_address
            sweep_to_tmp(design(2, 2, 1), scheduler=address)  # workers import the model
            medians[n], times = median_of(repeat, lambda a=address: sweep_to_tmp(
                exp, scheduler=a))
        print(f"[5] Dask local cluster, {n} worker(s), {exp.n_runs} runs: median "
              f"{medians[n]:.2f} s [{fmt(times)}]")
    print(f"[5] Dask speed-up 2 workers vs 1: {medians[1] / medians[2]:.2f}x (goal >= 1.8x)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small designs, no headline")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per timing")
    parser.add_argument("--only", nargs="*", type=int, default=[1, 2, 3, 4, 5],
                        help="which measurements to run (1..5)")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, mesa {mesa.__version__}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
          f"medians of {args.repeat}")
    same = design(10, 8, 5) if not args.quick else design(3, 2, 4)  # 400 runs (24 quick)
    if 1 in args.only and not args.quick:
        bench_headline()
    if 2 in args.only:
        bench_overhead(same, args.repeat)
    if 3 in args.only:
        bench_batch_run(same, args.repeat)
    if 4 in args.only:
        bench_memory(100, 10) if not args.quick else bench_memory(30, 10)
    if 5 in args.only:
        # Fixed costs (scheduler and client share the 2 cores) need a longer sweep to
        # amortise: 1,600 runs, about 35 s on one worker.
        bench_dask(design(20, 8, 10) if not args.quick else same, args.repeat)


if __name__ == "__main__":
    main()
