"""Benchmark of one model run and of one negotiation (not a test: prints medians).

Usage:
    python benchmarks/bench_run.py [--repeats N]
    python benchmarks/bench_run.py --against REV   # also time git revision REV, same session

With ``--against``, REV is checked out in a temporary git worktree and both trees time the
same default run in child processes, in alternating rounds, so that the ratio is measured
under the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Timed in a child process: median seconds of a default run (60 months) and of a
#: 240-month run, over ``n`` seeds each.
CHILD = """
import json, statistics, sys, time
from kamabm import Parameters, run_one
n = int(sys.argv[1])
def med(params):
    run_one(params, 0)
    times = []
    for i in range(n):
        start = time.perf_counter()
        run_one(params, i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
print(json.dumps({"run60": med(Parameters()), "run240": med(Parameters(horizon_months=240))}))
"""


def median_seconds(fn, repeats: int) -> float:
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_tree(tree: Path, n: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(n)], cwd=tree, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def compare(rev: str, rounds: int, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), rev], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            new_times, old_times = [], []
            for _ in range(rounds):
                new_times.append(time_tree(ROOT, n))
                old_times.append(time_tree(old, n))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT,
                           check=True, capture_output=True)
    for key, label in (("run60", "default run, 60 months"), ("run240", "240 months")):
        new = statistics.median(t[key] for t in new_times)
        was = statistics.median(t[key] for t in old_times)
        print(f"{label}: this tree {1e3 * new:.2f} ms, {rev} {1e3 * was:.2f} ms, "
              f"ratio {new / was:.2f} (medians of {rounds} alternating rounds x {n} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--against", metavar="REV", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if args.against:
        compare(args.against, args.rounds, max(10, args.repeats // args.rounds))
        return

    from kamabm import Parameters, run_one
    from kamabm.model.negotiation import Side, alternating_offers

    default = Parameters()
    run_one(default, 0)  # warm up imports and caches
    run = median_seconds(lambda i: run_one(default, i), args.repeats)
    print(f"default run ({default.horizon_months} months, {default.n_suppliers} suppliers, "
          f"{default.n_key_buyers} key buyers, {default.n_suppliers * default.n_key_buyers} KAMs, "
          f"{default.n_smb_clients} SMB clients each): median {1e3 * run:.2f} ms, "
          f"{1 / run:.0f} runs/s on one core")
    long = default.replace(horizon_months=240)
    run = median_seconds(lambda i: run_one(long, i), max(20, args.repeats // 4))
    print(f"240-month run: median {1e3 * run:.2f} ms")

    seller = Side(1.4, 1.14, 2.0, 0.9, 0.8)
    buyer = Side(1.1, 1.25, 0.2, 0.99, 0.0)
    nego = median_seconds(lambda i: [alternating_offers(seller, buyer, 8) for _ in range(100)],
                          args.repeats) / 100
    print(f"one negotiation (8 rounds, tit-for-tat seller vs Boulware buyer): "
          f"median {1e6 * nego:.1f} us")


if __name__ == "__main__":
    main()
